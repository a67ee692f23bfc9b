#!/usr/bin/env bash
# The CPU quickstart: the Tülu 3 recipe end to end on a tiny offline model and bundled data.
#   bash recipes/quickstart/run.sh [OUTPUT_ROOT]
# Runs with no network. Each stage reads the previous stage's output.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-outputs/quickstart}"
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1 TOKENIZERS_PARALLELISM=false
export TRANSFORMERS_VERBOSITY=warning DATASETS_VERBOSITY=warning
py="${PYTHON:-python}"
start=$(date +%s)

echo "== 1/1 SFT =="
"$py" -m tulu_recipes.stages.sft "$here/sft.yaml" --output_dir "$out/sft" --disable_tqdm true

echo
echo "Quickstart finished in $(( $(date +%s) - start ))s. Outputs:"
echo "  SFT model:   $out/sft  (recipe.yaml, mixture.md, chat template saved with the tokenizer)"
