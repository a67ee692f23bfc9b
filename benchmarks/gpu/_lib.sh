# Shared by the GPU scripts (sourced, not run): fail in seconds on a missing piece, and start a vLLM server that is
# watched while it starts, so that a server that dies is reported at once with its log instead of a timeout later.

# need CMD...: every command must be on PATH; one line naming the missing ones, exit 2.
need() {
  local missing=()
  for cmd in "$@"; do command -v "$cmd" > /dev/null 2>&1 || missing+=("$cmd"); done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "missing on PATH: ${missing[*]} (pip install -e \".[vllm,deepspeed]\" on a CUDA machine)" >&2
    exit 2
  fi
}

# gpu_count: the number of GPUs nvidia-smi lists; exit 2 when there is none.
gpu_count() {
  local n
  n=$(nvidia-smi -L 2> /dev/null | grep -c '^GPU ' || true)
  if [ "${n:-0}" -lt 1 ]; then
    echo "no GPU: nvidia-smi -L lists none" >&2
    exit 2
  fi
  echo "$n"
}

# start_vllm_server LOG PORT GPU ARGS...: `trl vllm-serve ARGS` on GPU in the background, log in LOG; sets
# VLLM_SERVER_PID. The EXIT trap stops it. Waits for GET /health (vLLM's own endpoint, which TRL's client polls)
# and fails within a second of the server exiting, printing the end of its log. HEALTH_TIMEOUT (s) bounds the wait.
start_vllm_server() {
  local log=$1 port=$2 gpu=$3
  shift 3
  mkdir -p "$(dirname "$log")"
  CUDA_VISIBLE_DEVICES=$gpu trl vllm-serve "$@" --port "$port" > "$log" 2>&1 &
  VLLM_SERVER_PID=$!
  trap 'kill "$VLLM_SERVER_PID" 2> /dev/null || true' EXIT
  local deadline=$((SECONDS + ${HEALTH_TIMEOUT:-900}))
  until curl -sf "http://127.0.0.1:$port/health" > /dev/null 2>&1; do
    if ! kill -0 "$VLLM_SERVER_PID" 2> /dev/null; then
      wait "$VLLM_SERVER_PID" && rc=0 || rc=$?
      echo "vLLM server exited (status $rc) before it was healthy; end of $log:" >&2
      tail -n 20 "$log" >&2
      exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "vLLM server not healthy after ${HEALTH_TIMEOUT:-900}s on port $port; end of $log:" >&2
      tail -n 20 "$log" >&2
      exit 1
    fi
    sleep 1
  done
  echo "vLLM server healthy on port $port (pid $VLLM_SERVER_PID, log $log)"
}
