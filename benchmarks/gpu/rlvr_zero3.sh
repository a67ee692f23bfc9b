#!/usr/bin/env bash
# RLVR (PPO with its value model, or GRPO) under DeepSpeed ZeRO-3 with vLLM generation on the GPUs of one machine.
# Not part of the tests (they run on CPU); prepared for a GPU machine and not yet run there.
#
#   bash benchmarks/gpu/rlvr_zero3.sh ppo colocate    # every GPU trains and generates (vLLM inside each process)
#   bash benchmarks/gpu/rlvr_zero3.sh grpo server     # GPU 0 serves vLLM (trl vllm-serve), the other GPUs train
#
# Needs `pip install -e ".[vllm,deepspeed]"`. Environment overrides: MODEL (default: the quickstart's tiny model,
# so nothing is downloaded), VALUE_MODEL (PPO; default: the policy with a new head), STEPS (4), OUT, PORT (8000),
# MAX_MODEL_LEN (512), HEALTH_TIMEOUT (900 s for the server to answer /health; a server that exits fails the script at once).
# Prints the trainer's log lines and checks that the policy and (PPO) the gathered value model were saved.
set -euo pipefail
cd "$(dirname "$0")/../.."
source benchmarks/gpu/_lib.sh
ALGO=${1:?usage: rlvr_zero3.sh ppo|grpo colocate|server}
MODE=${2:?usage: rlvr_zero3.sh ppo|grpo colocate|server}
MODEL=${MODEL:-recipes/quickstart/tiny-base}
STEPS=${STEPS:-4}
PORT=${PORT:-8000}
OUT=${OUT:-outputs/gpu-bench/${ALGO}-${MODE}}
MAX_MODEL_LEN=${MAX_MODEL_LEN:-512}   # vLLM's context: the quickstart's prompts + 24 completion tokens fit
need nvidia-smi accelerate
if [ "$MODE" = server ]; then need trl curl; fi
NGPU=$(gpu_count)
mkdir -p "$OUT"

ARGS=(recipes/rlvr.py recipes/quickstart/rlvr.yaml --algorithm "$ALGO" --model_name_or_path "$MODEL"
      --output_dir "$OUT" --max_steps "$STEPS" --use_cpu false --bf16 true --logging_steps 1
      --use_vllm true --vllm_mode "$MODE" --save_strategy no --report_to none --overwrite_output_dir true)
if [ "$ALGO" = grpo ]; then
  ARGS+=(--num_generations 4 --per_device_train_batch_size 8)
elif [ -n "${VALUE_MODEL:-}" ]; then
  ARGS+=(--value_model_path "$VALUE_MODEL")
fi

if [ "$MODE" = server ]; then
  [ "$NGPU" -ge 2 ] || { echo "server mode needs 2+ GPUs (one for vLLM), found $NGPU"; exit 1; }
  start_vllm_server "$OUT/vllm.log" "$PORT" 0 --model "$MODEL" --max_model_len "$MAX_MODEL_LEN"
  TRAIN_GPUS=$(seq -s, 1 $((NGPU - 1)))
  ARGS+=(--vllm_server_host 127.0.0.1 --vllm_server_port "$PORT")
  NPROC=$((NGPU - 1))
else
  TRAIN_GPUS=$(seq -s, 0 $((NGPU - 1)))
  ARGS+=(--vllm_gpu_memory_utilization 0.3 --vllm_max_model_length "$MAX_MODEL_LEN")
  NPROC=$NGPU
fi

CUDA_VISIBLE_DEVICES=$TRAIN_GPUS accelerate launch --config_file accelerate_configs/deepspeed_zero3.yaml \
  --num_processes "$NPROC" "${ARGS[@]}"

test -f "$OUT/model.safetensors"
if [ "$ALGO" = ppo ]; then test -f "$OUT/value_model/model.safetensors"; fi
echo "OK: $ALGO $MODE ZeRO-3 on $NPROC training GPU(s), saved to $OUT"
