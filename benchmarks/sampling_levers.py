"""Rollout sampling levers on CPU: does a static KV cache, or `torch.compile` of the decoding forward, pay for the
SmolLM2 RLVR recipes' sampling?

    python benchmarks/sampling_levers.py                               # SmolLM2, 16 x 64 and 8 x 64, 3 rounds
    python benchmarks/sampling_levers.py --model recipes/quickstart/tiny-base --rounds 2   # a quick smoke run

Samples as the recipes do (`recipes/smollm2-135m/rlvr-grpo.yaml`, `rlvr-ppo.yaml`): the recipe's prompts under
the model's chat template, left-padded, temperature 1, 64 new tokens (`min_new_tokens` too, so every variant
generates the same number of tokens), `torch_threads: 1`, and bf16 autocast around the fp32 model's `forward` (what
accelerate does with `bf16: true` on CPU). Batches: `grpo` 4 prompts x 4 completions, `ppo` 8 prompts x 1.
Variants, all through `generate` (TRL's sampler passes its config's `cache_implementation` and `generation_kwargs`
to it):

- `dynamic`: today's `DynamicCache`;
- `static`: `cache_implementation="static"` (a preallocated cache of `max_cache_len` positions);
- `static+compile`: the same, with transformers' own `torch.compile` of the decoding forward (`compile_config`,
  inductor, `mode="default"`: `reduce-overhead` is CUDA graphs, nothing on CPU). TRL builds its GenerationConfig
  with `disable_compile=True`, so this variant is not reachable from a TRL config today; it is measured to know
  whether it would be worth wiring.

Each variant has its own copy of the model. Round 0 is a greedy warm-up on the first prompts: its wall time is the
variant's first-call cost (compilation included) and its tokens are compared with `dynamic`'s (`greedy same`).
Rounds 1..R sample (seed = round, same for every variant) on fresh prompts each round, so prompt lengths change as
in training (a compiled variant recompiles if a new shape needs it; those seconds stay in its rounds), in the
interleaved order A B C A B C ...; `sampled same` compares their tokens with `dynamic`'s.

Columns: median, min and max tokens/s over the rounds, by wall clock and by CPU time (this process's and the C++
compiler's it runs; one thread, inductor compiling in-process: on a shared machine CPU time approximates what an
idle core would take, wall time is what this run got); `first call` s; `setup` = the first call's CPU time minus a
steady call's; `30 steps` = the estimated sampling CPU time of a 30-step GRPO run (setup + 30 steady calls) and its
ratio to `dynamic`'s. The machine is shared: the 1-minute load average is printed at the start, per call and at
the end.

Measured (`sampling_levers.txt`, load 1.5 -> 1.0): static 0.90x and static+compile 0.64x of dynamic's tokens/s for
16 x 64 (0.96x, 0.82x for 8 x 64), and neither repeats dynamic's greedy tokens; the recipes keep the dynamic cache.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "recipes" / "smollm2-135m" / "data" / "rlvr_train.jsonl"
DEFAULT_MODEL = Path("/work/run22/outputs/smollm2/base")
BATCHES = {"grpo": (4, 4), "ppo": (8, 1)}  # prompts x completions per prompt, as in the two recipes
VARIANTS = ("dynamic", "static", "static+compile")


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def prompt_batches(tokenizer, prompts: int, repeat: int, rounds: int) -> list[dict]:
    """One left-padded batch per round, each from the next `prompts` rows of the recipe's data."""
    lines = [line for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    batches = []
    for r in range(rounds + 1):
        rows = [json.loads(line) for line in lines[r * prompts : (r + 1) * prompts]]
        texts = [
            tokenizer.apply_chat_template(row["messages"], tokenize=False, add_generation_prompt=True) for row in rows
        ]
        batches.append(
            tokenizer([t for t in texts for _ in range(repeat)], return_tensors="pt", padding=True, padding_side="left")
        )
    return batches


def build_variants(model_path: Path, max_cache_len: int) -> dict:
    import torch
    from transformers import AutoModelForCausalLM, CompileConfig

    base = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32).eval()
    compile_config = CompileConfig(fullgraph=False, dynamic=None, mode="default")
    compile_config._compile_all_devices = True  # transformers compiles on CUDA-like devices only unless told
    settings = {
        "dynamic": {},
        "static": {"cache_implementation": "static", "max_cache_len": max_cache_len},
        "static+compile": {
            "cache_implementation": "static",
            "max_cache_len": max_cache_len,
            "compile_config": compile_config,
            "disable_compile": False,
        },
    }
    variants = {}
    for name in VARIANTS:
        model = copy.deepcopy(base)
        model.forward = torch.autocast("cpu", dtype=torch.bfloat16)(model.forward)  # as accelerate wraps it
        variants[name] = (model, settings[name])
    return variants


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (inductor runs the C++ compiler as a child)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def generate(model, settings: dict, batch, tokens: int, pad_token_id: int, sample: bool):
    import torch

    kwargs = dict(max_new_tokens=tokens, min_new_tokens=tokens, pad_token_id=pad_token_id, **settings)
    kwargs.update(do_sample=True, temperature=1.0, top_k=0, top_p=1.0) if sample else kwargs.update(do_sample=False)
    with torch.no_grad():
        start, cpu_start = time.perf_counter(), cpu_seconds()
        out = model.generate(**batch, **kwargs)
        wall, cpu = time.perf_counter() - start, cpu_seconds() - cpu_start
        return wall, cpu, out[:, batch["input_ids"].size(1) :]


def measure(variants: dict, batches: list, tokens: int, pad_token_id: int) -> dict[str, dict]:
    import torch

    results = {name: {"rounds": [], "cpu_rounds": [], "same_greedy": True, "same_sampled": True} for name in variants}
    reference = {}
    for r, batch in enumerate(batches):
        for name, (model, settings) in variants.items():
            torch.manual_seed(r)
            seconds, cpu, out = generate(model, settings, batch, tokens, pad_token_id, sample=r > 0)
            if name == "dynamic":
                reference[r] = out
            same = torch.equal(out, reference[r])
            row = results[name]
            row["tokens"] = out.numel()
            if r == 0:
                row["first_call"], row["first_cpu"], row["same_greedy"] = seconds, cpu, same
            else:
                row["rounds"].append(out.numel() / seconds)
                row["cpu_rounds"].append(out.numel() / cpu)
                row["same_sampled"] &= same
            print(
                f"  round {r} {name:15s} {out.numel() / seconds:7.1f} tok/s wall {out.numel() / cpu:7.1f} tok/s CPU"
                f"  load {load_average()}",
                flush=True,
            )
    for row in results.values():
        steady = row["tokens"] / statistics.median(row["cpu_rounds"])
        row["setup"] = max(0.0, row["first_cpu"] - steady)
        row["run30"] = row["setup"] + 30 * steady
    return results


def table(batch_name: str, results: dict[str, dict]) -> str:
    head = (
        f"| {batch_name} | wall tok/s median (min-max) | CPU tok/s median (min-max) | vs dynamic (CPU) | "
        "first call s wall / CPU | setup CPU s | 30 steps CPU s | vs dynamic | greedy same | sampled same |"
    )
    lines = [head, "|" + "---|" * 10]
    base = results["dynamic"]
    for name, row in results.items():
        wall, cpu = row["rounds"], row["cpu_rounds"]
        lines.append(
            f"| {name} | {statistics.median(wall):.0f} ({min(wall):.0f}-{max(wall):.0f}) | "
            f"{statistics.median(cpu):.0f} ({min(cpu):.0f}-{max(cpu):.0f}) | "
            f"{statistics.median(cpu) / statistics.median(base['cpu_rounds']):.2f}x | "
            f"{row['first_call']:.1f} / {row['first_cpu']:.1f} | {row['setup']:.1f} | {row['run30']:.0f} | "
            f"{base['run30'] / row['run30']:.2f}x | {row['same_greedy']} | {row['same_sampled']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--batches", default="grpo,ppo", help="comma list of: " + ", ".join(BATCHES))
    parser.add_argument("--rounds", type=int, default=3, help="timed sampled rounds per variant (after a warm-up)")
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-cache-len", type=int, default=256, help="static cache positions (prompt + completion)")
    args = parser.parse_args()

    os.environ.setdefault("TORCHINDUCTOR_COMPILE_THREADS", "1")  # compile in this process: its CPU time counts
    os.environ.setdefault("TORCHINDUCTOR_FORCE_DISABLE_CACHES", "1")  # a cold compile each run, as a fresh machine
    import torch
    import transformers
    from transformers import AutoTokenizer

    if not (args.model / "config.json").is_file():
        sys.exit(f"sampling_levers: no checkpoint at {args.model} (config.json missing)")
    torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, transformers {transformers.__version__}, {args.threads} thread(s), "
        f"model {args.model}, load at start {load_average()}",
        flush=True,
    )
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    variants = build_variants(args.model, args.max_cache_len)
    tables = []
    for batch_name in args.batches.split(","):
        prompts, repeat = BATCHES[batch_name]
        batches = prompt_batches(tokenizer, prompts, repeat, args.rounds)
        longest = max(b["input_ids"].size(1) for b in batches) + args.tokens
        if longest > args.max_cache_len:
            sys.exit(f"sampling_levers: --max-cache-len {args.max_cache_len} < longest prompt + tokens ({longest})")
        label = f"{batch_name} {prompts * repeat} x {args.tokens}"
        print(f"{label}: prompt lengths {[b['input_ids'].size(1) for b in batches]}", flush=True)
        tables.append(table(label, measure(variants, batches, args.tokens, tokenizer.pad_token_id)))
        print("\n" + tables[-1] + "\n", flush=True)  # each batch's table as soon as it is done
    print(f"\nload at end {load_average()}; {args.rounds} sampled rounds per variant, interleaved\n")
    print("\n\n".join(tables))


if __name__ == "__main__":
    main()
