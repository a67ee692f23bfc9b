"""DPO on the tiny CPU model: our cached trainer vs TRL's, speed and memory.

    python benchmarks/dpo.py [--repeats 3] [--steps 40] [--size tiny|small]

Each configuration runs in its own process (so peak RSS is its own), `--repeats` times in rotation, and the
table shows medians:

- `trl-uncached`: TRL `DPOTrainer`, reference model in memory, one reference forward per step;
- `trl-precompute`: TRL `DPOTrainer` with `precompute_ref_log_probs` (an in-memory dataset is never reused);
- `tulu-cold`: `TuluDPOTrainer`, reference pass computed and persisted to a fresh cache folder;
- `tulu-warm`: `TuluDPOTrainer` again with that folder: the reference pass is read back;
- `tulu-uncached`: `TuluDPOTrainer` with a reference model, to measure the metric hooks' cost there.

Settings are identical everywhere: loss `sigmoid_norm`, beta 5, batch 8 pairs, max_length 128, one CPU thread.
`init` is model load + tokenization + reference pass; `steps/s` is `max_steps / train_runtime`; `CPU ms/step`
is process CPU time during `train()`. Our trainer's overhead over plain TRL at identical settings (target: <= 3%)
is measured separately, in one process, alternating the two trainers step by step on the same batches, because
run-to-run noise on a shared machine is larger than the effect. `--size small` widens the tiny model
(hidden 512, 8 layers) so the reference model's memory shows in the RSS column.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
QUICKSTART = REPO / "recipes" / "quickstart"
KINDS = ("trl-uncached", "trl-precompute", "tulu-cold", "tulu-warm", "tulu-uncached")


def prepare_model(size: str, root: Path) -> Path:
    """The tiny base as shipped, or a wider random copy of it saved under `root`."""
    if size == "tiny":
        return QUICKSTART / "tiny-base"
    import torch
    from transformers import AutoConfig, AutoTokenizer, LlamaForCausalLM

    torch.manual_seed(0)
    config = AutoConfig.from_pretrained(QUICKSTART / "tiny-base")
    config.hidden_size, config.intermediate_size, config.num_hidden_layers = 512, 1536, 8
    config.num_attention_heads = config.num_key_value_heads = 8
    config.head_dim = 64
    target = root / "small-base"
    LlamaForCausalLM(config).save_pretrained(target)
    AutoTokenizer.from_pretrained(QUICKSTART / "tiny-base").save_pretrained(target)
    return target


def run_one(kind: str, model_dir: str, steps: int, cache_dir: str) -> dict:
    import torch

    torch.set_num_threads(1)
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer, ModelConfig

    from tulu_recipes.chat_templates import load_chat_template
    from tulu_recipes.stages.loading import load_model, load_tokenizer
    from tulu_recipes.trainers.dpo import TuluDPOConfig, TuluDPOTrainer

    ours = kind.startswith("tulu")
    model_args = ModelConfig(model_name_or_path=model_dir, dtype="float32")
    tokenizer = load_tokenizer(model_args, load_chat_template("tulu"), training=False)
    lines = (QUICKSTART / "data" / "preferences.jsonl").read_text(encoding="utf-8").splitlines()[:160]
    dataset = Dataset.from_list([json.loads(line) for line in lines])
    settings = dict(
        output_dir=tempfile.mkdtemp(prefix="dpo-bench-"),
        use_cpu=True,
        bf16=False,
        report_to="none",
        loss_type=["sigmoid_norm"],
        beta=5.0,
        learning_rate=1e-4,
        lr_scheduler_type="constant",
        warmup_steps=0,
        max_steps=steps,
        per_device_train_batch_size=8,
        max_length=128,
        weight_decay=0.0,
        precompute_ref_log_probs=kind not in ("trl-uncached", "tulu-uncached"),
        gradient_checkpointing=False,
        save_strategy="no",
        logging_steps=steps,
        disable_tqdm=True,
        seed=0,
    )
    if ours:
        settings["ref_logprobs_cache_dir"] = cache_dir
    args = (TuluDPOConfig if ours else DPOConfig)(**settings)
    start = time.perf_counter()
    trainer = (TuluDPOTrainer if ours else DPOTrainer)(
        model=load_model(model_args, tokenizer), args=args, train_dataset=dataset, processing_class=tokenizer
    )
    init_s = time.perf_counter() - start
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    runtime = trainer.train().metrics["train_runtime"]
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu_s = (after.ru_utime - cpu.ru_utime) + (after.ru_stime - cpu.ru_stime)
    return {
        "kind": kind,
        "init_s": init_s,
        "steps_per_s": steps / runtime,
        "cpu_ms_per_step": 1000 * cpu_s / steps,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "ref_model_in_memory": trainer.ref_model is not None,
    }


def spawn(kind: str, model_dir: Path, steps: int, cache_dir: Path) -> dict:
    env = {
        **os.environ,
        "TQDM_DISABLE": "1",
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "TRANSFORMERS_VERBOSITY": "error",
    }
    cmd = [sys.executable, __file__, "--one", kind, "--model", str(model_dir), "--steps", str(steps)]
    cmd += ["--cache", str(cache_dir)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--size", choices=["tiny", "small"], default="tiny")
    parser.add_argument("--pairs", type=int, default=200, help="alternating steps for the overhead measurement")
    parser.add_argument("--one", choices=KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--cache", help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.one:
        print(json.dumps(run_one(opts.one, opts.model, opts.steps, opts.cache)))
        return

    os.environ.update(TQDM_DISABLE="1", HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_VERBOSITY="error")
    import datasets
    import transformers

    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
    root = Path(tempfile.mkdtemp(prefix="dpo-bench-"))
    model_dir = prepare_model(opts.size, root)
    results: dict[str, list[dict]] = {k: [] for k in KINDS}
    for r in range(opts.repeats):
        cache = root / f"cache-{r}"  # cold on the first Tülu run of each round, warm on the second
        for kind in KINDS:
            results[kind].append(spawn(kind, model_dir, opts.steps, cache))

    metrics = ("init_s", "steps_per_s", "cpu_ms_per_step", "peak_rss_mb")
    med = {k: {m: statistics.median(x[m] for x in v) for m in metrics} for k, v in results.items()}
    print(
        f"DPO benchmark: {opts.size} model, {opts.steps} steps x 8 pairs, max_length 128, 1 CPU thread, "
        f"median of {opts.repeats} runs per configuration (one process each)"
    )
    print("| configuration   | ref model in RAM | init s | steps/s | CPU ms/step | peak RSS MB |")
    print("|-----------------|------------------|--------|---------|-------------|-------------|")
    for kind in KINDS:
        m, in_ram = med[kind], results[kind][0]["ref_model_in_memory"]
        print(
            f"| {kind:<15} | {str(in_ram):<16} | {m['init_s']:>6.2f} | {m['steps_per_s']:>7.2f} | "
            f"{m['cpu_ms_per_step']:>11.1f} | {m['peak_rss_mb']:>11.0f} |"
        )
    speed = med["tulu-warm"]["steps_per_s"] / med["trl-uncached"]["steps_per_s"]
    saved = med["trl-uncached"]["peak_rss_mb"] - med["tulu-warm"]["peak_rss_mb"]
    print(f"cached (tulu-warm) vs TRL uncached: {speed:.2f}x steps/s, {saved:+.0f} MB peak RSS")

    print(
        f"\nOverhead of TuluDPOTrainer over DPOTrainer, same process, alternating, median of {opts.pairs} "
        "training steps (forward + backward) on identical batches:"
    )
    for precompute in (True, False):
        ours, theirs = step_times(model_dir, precompute, opts.pairs)
        label = "precomputed reference" if precompute else "reference model    "
        print(
            f"  {label}: TRL {theirs:.2f} ms/step, ours {ours:.2f} ms/step, overhead {100 * (ours / theirs - 1):+.2f}%"
        )


def step_times(model_dir: Path, precompute: bool, pairs: int) -> tuple[float, float]:
    """Median ms per training step of our trainer and TRL's, alternated step by step on the same batches."""
    import copy

    import torch

    torch.set_num_threads(1)
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer, ModelConfig

    from tulu_recipes.chat_templates import load_chat_template
    from tulu_recipes.stages.loading import load_model, load_tokenizer
    from tulu_recipes.trainers.dpo import TuluDPOConfig, TuluDPOTrainer

    model_args = ModelConfig(model_name_or_path=str(model_dir), dtype="float32")
    tokenizer = load_tokenizer(model_args, load_chat_template("tulu"), training=False)
    lines = (QUICKSTART / "data" / "preferences.jsonl").read_text(encoding="utf-8").splitlines()[:64]
    dataset = Dataset.from_list([json.loads(line) for line in lines])
    base = load_model(model_args, tokenizer)
    common = dict(
        use_cpu=True,
        bf16=False,
        report_to="none",
        loss_type=["sigmoid_norm"],
        beta=5.0,
        per_device_train_batch_size=8,
        max_length=128,
        precompute_ref_log_probs=precompute,
        gradient_checkpointing=False,
        disable_tqdm=True,
        seed=0,
    )
    tmp = tempfile.mkdtemp(prefix="dpo-bench-")
    trainers = {
        "trl": DPOTrainer(
            model=copy.deepcopy(base),
            args=DPOConfig(output_dir=tmp, **common),
            train_dataset=dataset,
            processing_class=tokenizer,
        ),
        "ours": TuluDPOTrainer(
            model=copy.deepcopy(base),
            args=TuluDPOConfig(output_dir=tmp, **common),
            train_dataset=dataset,
            processing_class=tokenizer,
        ),
    }
    for trainer in trainers.values():
        trainer.current_gradient_accumulation_steps = 1  # set by train(); training_step reads it
    batches = [
        trainers["trl"].data_collator([trainers["trl"].train_dataset[i] for i in range(j, j + 8)])
        for j in range(0, 64, 8)
    ]
    times: dict[str, list[float]] = {"trl": [], "ours": []}
    for step in range(pairs + 4):
        batch = batches[step % len(batches)]
        for name in ("trl", "ours") if step % 2 else ("ours", "trl"):
            trainer = trainers[name]
            trainer.model.train()
            start = time.perf_counter()
            trainer.training_step(trainer.model, dict(batch))
            elapsed = time.perf_counter() - start
            trainer.model.zero_grad(set_to_none=True)
            if step >= 4:  # warm-up steps are dropped
                times[name].append(1000 * elapsed)
    return statistics.median(times["ours"]), statistics.median(times["trl"])


if __name__ == "__main__":
    main()
