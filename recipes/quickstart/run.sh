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
echo "== DPO: length-normalized (dpo_norm, beta 5) on bundled preference pairs, from SFT =="
# One thread: the tiny model gains nothing from two, and loses a lot when another job shares the cores.
OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" "$py" -m tulu_recipes.stages.dpo "$here/dpo.yaml" \
  --model_name_or_path "$out/sft" --output_dir "$out/dpo" --disable_tqdm true

echo
echo "== RLVR: PPO with the GSM8K verifier, from DPO when present, else SFT =="
policy="$out/sft"
if [ -d "$out/dpo" ]; then policy="$out/dpo"; fi
"$py" -m tulu_recipes.quickstart.accuracy "$policy" "$here/data/eval.jsonl" --label "before RLVR ($(basename "$policy"))"
"$py" -m tulu_recipes.stages.rlvr "$here/rlvr.yaml" --model_name_or_path "$policy" --output_dir "$out/rlvr" \
  --disable_tqdm true
"$py" -m tulu_recipes.quickstart.accuracy "$out/rlvr" "$here/data/eval.jsonl" --label "after RLVR"

echo
echo "Quickstart finished in $(( $(date +%s) - start ))s. Outputs:"
echo "  SFT model:   $out/sft  (recipe.yaml, mixture.md, chat template saved with the tokenizer)"
echo "  DPO model:   $out/dpo  (reference log-probs cached in ref_logprobs/)"
echo "  RLVR model:  $out/rlvr  (value model in value_model/)"
