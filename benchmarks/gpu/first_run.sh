#!/usr/bin/env bash
# The first run on a GPU machine: one GPU, a few minutes. SFT -> DPO -> GRPO and PPO, each as one DeepSpeed ZeRO-3
# process (accelerate launch, accelerate_configs/deepspeed_zero3.yaml), the RLVR stages with vLLM colocated in the
# training process. Each stage trains STEPS steps of the quickstart recipe from the previous stage's model.
#
#   bash benchmarks/gpu/first_run.sh                                   # the quickstart's tiny model, no download
#   MODEL=outputs/smollm2/base bash benchmarks/gpu/first_run.sh        # SmolLM2-135M (recipes/smollm2-135m/run.sh)
#
# Needs `pip install -e ".[vllm,deepspeed]"` on a CUDA machine; a missing piece stops it in seconds (one line).
# After each stage it checks (benchmarks/gpu/first_run_check.py): every logged loss finite, vLLM's engine in the
# log of the RLVR stages (and TRL's vLLM log-prob metrics for GRPO), the saved weights (and PPO's value model) load
# and are finite. Prints tokens/s per stage (TRL's num_tokens over train_runtime). Logs: $OUT/<stage>.log.
# Environment overrides: MODEL, STEPS (8), OUT (outputs/gpu-first-run), MAX_MODEL_LEN (512, vLLM's context),
# GPU_MEMORY (0.3, vLLM's share of the GPU).
set -euo pipefail
cd "$(dirname "$0")/../.."
source benchmarks/gpu/_lib.sh
MODEL=${MODEL:-recipes/quickstart/tiny-base}
STEPS=${STEPS:-8}
OUT=${OUT:-outputs/gpu-first-run}
MAX_MODEL_LEN=${MAX_MODEL_LEN:-512}
GPU_MEMORY=${GPU_MEMORY:-0.3}

need nvidia-smi accelerate python
gpu_count > /dev/null
python benchmarks/gpu/first_run_check.py preflight --model "$MODEL"
mkdir -p "$OUT"
: > "$OUT/summary.tsv"

LAUNCH=(accelerate launch --config_file accelerate_configs/deepspeed_zero3.yaml --num_processes 1)
COMMON=(--use_cpu false --bf16 true --max_steps "$STEPS" --logging_steps 1 --save_strategy no --report_to none)
VLLM=(--use_vllm true --vllm_mode colocate --vllm_gpu_memory_utilization "$GPU_MEMORY"
      --vllm_max_model_length "$MAX_MODEL_LEN")

# stage NAME [CHECK FLAGS...] -- SCRIPT RECIPE [ARGS...]
stage() {
  local name=$1 checks=()
  shift
  while [ "$1" != -- ]; do checks+=("$1"); shift; done
  shift
  echo "== $name: $*"
  rm -rf "${OUT:?}/$name"
  if ! CUDA_VISIBLE_DEVICES=0 "${LAUNCH[@]}" "$@" "${COMMON[@]}" --output_dir "$OUT/$name" > "$OUT/$name.log" 2>&1; then
    echo "first run: $name failed; end of $OUT/$name.log:" >&2
    tail -n 30 "$OUT/$name.log" >&2
    exit 1
  fi
  python benchmarks/gpu/first_run_check.py stage "$name" "$OUT/$name.log" "$OUT/$name" "${checks[@]}" \
    >> "$OUT/summary.tsv"
}

RLVR=(recipes/rlvr.py recipes/quickstart/rlvr.yaml --model_name_or_path "$OUT/dpo" "${VLLM[@]}")
stage sft -- recipes/sft.py recipes/quickstart/sft.yaml --model_name_or_path "$MODEL"
stage dpo -- recipes/dpo.py recipes/quickstart/dpo.yaml --model_name_or_path "$OUT/sft"
stage grpo --vllm --grpo -- "${RLVR[@]}" --algorithm grpo --num_generations 4 --per_device_train_batch_size 8 \
  --vllm_importance_sampling_correction true
stage ppo --vllm --value-model -- "${RLVR[@]}" --algorithm ppo

echo
echo "stage	tokens/s	last loss	parameters"
cat "$OUT/summary.tsv"
echo "OK: SFT -> DPO -> GRPO, PPO under ZeRO-3 on 1 GPU with vLLM colocated ($(nvidia-smi -L | head -n 1)), in $OUT"
