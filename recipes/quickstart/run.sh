#!/usr/bin/env bash
# The CPU quickstart: the Tülu 3 recipe end to end on a tiny offline model and bundled data.
#   bash recipes/quickstart/run.sh [OUTPUT_ROOT]
# Runs with no network: SFT -> on-policy preference pairs -> DPO -> RLVR -> evaluation of every stage.
# Each stage reads the previous stage's output; the last step prints a table (base, SFT, DPO, RLVR) of held-out
# accuracy and writes it with a chart to OUTPUT_ROOT/eval/.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-outputs/quickstart}"
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1 TOKENIZERS_PARALLELISM=false
export TRANSFORMERS_VERBOSITY=warning DATASETS_VERBOSITY=warning
# One thread per process for every stage: the tiny model gains nothing from more, and on a busy machine two
# threads fighting other work for the cores made 60 SFT steps take 142 s against 5.6 s. Set OMP_NUM_THREADS to
# override.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" MKL_NUM_THREADS="${MKL_NUM_THREADS:-${OMP_NUM_THREADS:-1}}"
py="${PYTHON:-python}"
start=$(date +%s)
stamp() { echo "   ($(( $(date +%s) - start ))s elapsed)"; }

echo "== 1/5 SFT: sum loss on bundled answers (worked ones and a low-quality source that guesses) =="
"$py" -m tulu_recipes.stages.sft "$here/sft.yaml" --output_dir "$out/sft" --disable_tqdm true \
  --overwrite_output_dir true
stamp

echo
echo "== 2/5 On-policy preference pairs: SFT samples judged by the GSM8K verifier =="
"$py" -m tulu_recipes.quickstart.on_policy "$out/sft" \
  "$here/data/prompts.jsonl" "$out/preferences.jsonl" --samples 8 --temperature 1.0 \
  --dpo-recipe "$here/dpo.yaml" --write-recipe "$out/dpo.yaml"
stamp

echo
echo "== 3/5 DPO: length-normalized (dpo_norm, beta 5) on the on-policy pairs, from SFT =="
"$py" -m tulu_recipes.stages.dpo "$out/dpo.yaml" \
  --model_name_or_path "$out/sft" --output_dir "$out/dpo" --disable_tqdm true \
  --overwrite_output_dir true
stamp

echo
echo "== 4/5 RLVR: PPO with the GSM8K verifier, from DPO =="
"$py" -m tulu_recipes.stages.rlvr "$here/rlvr.yaml" --model_name_or_path "$out/dpo" --output_dir "$out/rlvr" \
  --disable_tqdm true --overwrite_output_dir true
stamp

echo
echo "== 5/5 Evaluation: greedy held-out accuracy of every stage =="
"$py" -m tulu_recipes.stages.evaluate "$here/evaluate.yaml" \
  --models "$here/tiny-base" "$out/sft" "$out/dpo" "$out/rlvr" --model_names base SFT DPO RLVR \
  --output_dir "$out/eval" --disable_tqdm true --overwrite_output_dir true

echo
echo "Quickstart finished in $(( $(date +%s) - start ))s. Outputs:"
echo "  SFT model:   $out/sft  (recipe.yaml, mixture.md, chat template saved with the tokenizer)"
echo "  DPO pairs:   $out/preferences.jsonl  (on-policy, verifier-judged; recipe $out/dpo.yaml)"
echo "  DPO model:   $out/dpo  (reference log-probs cached in ref_logprobs/)"
echo "  RLVR model:  $out/rlvr  (value model in value_model/)"
echo "  Evaluation:  $out/eval/results.md, results.json, results.png, predictions/"
