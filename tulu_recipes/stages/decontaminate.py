"""Decontaminate training prompts against evaluation sets (8-gram rule of the Tülu 3 paper).

Examples::

    # report only, one mixture whose rows carry a `source` column, default evals from local files
    tulu-recipes decontaminate --train mixture.jsonl --eval-dir ../shared/data --out-dir out/

    # two sources, the paper's choice: drop every contaminated source, write the kept ones
    tulu-recipes decontaminate --train numina=numina.parquet --train oasst=oasst.jsonl \\
        --eval gsm8k --eval math --eval mybench=bench.jsonl:question --mode drop-sources --out-dir out/

Writes ``decontamination.json`` and ``decontamination.md`` to ``--out-dir``; with a ``drop-*`` mode also
``<source>.jsonl`` with the kept rows of each input. ``--executor local|slurm|ray`` runs the scan as a datatrove
pipeline (``tulu_recipes.pipelines.decontaminate``) with the same outputs. All logic is in
``tulu_recipes.data.decontamination``; ``recipes/decontaminate.py`` is a shim over this module.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tulu_recipes.data.decontamination import (
    DEFAULT_EVAL_SETS,
    MODES,
    build_index,
    decontaminate,
    decontaminate_sources,
    load_eval_sets,
)
from tulu_recipes.pipelines.executors import add_executor_arguments, executor_from_args

LOCAL_FORMATS = {".json": "json", ".jsonl": "json", ".parquet": "parquet"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--train",
        action="append",
        required=True,
        metavar="[NAME=]PATH_OR_HUB_ID",
        help="training data: a local json/jsonl/parquet file or a Hub dataset id (repeatable)",
    )
    p.add_argument("--split", default="train", help="split of Hub training datasets (default: train)")
    p.add_argument(
        "--eval",
        action="append",
        dest="evals",
        metavar="SPEC",
        help=f"evaluation set spec (repeatable; default: {', '.join(DEFAULT_EVAL_SETS)}): a "
        "default name, FILE[:FIELD] or HUB_ID[:CONFIG]:SPLIT:FIELD, optionally prefixed by NAME=",
    )
    p.add_argument("--eval-dir", help="read the default eval sets from this folder instead of the Hub")
    p.add_argument("--text-field", help="prompt column (default: messages, then prompt, then text)")
    p.add_argument(
        "--source-column",
        default="source",
        help="with a single --train input, group its rows into sources by this column if present",
    )
    p.add_argument("--ngram", type=int, default=8)
    p.add_argument("--overlap-threshold", type=float, default=0.5)
    p.add_argument("--contamination-threshold", type=float, default=0.02)
    p.add_argument("--mode", choices=MODES, default="report")
    p.add_argument("--num-proc", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=4096)
    p.add_argument("--max-examples", type=int, default=3)
    p.add_argument("--out-dir", required=True)
    add_executor_arguments(p)
    return p.parse_args(argv)


def load_train(spec: str, split: str) -> tuple[str, Any]:
    """``(name, Dataset)`` of a ``[NAME=]PATH_OR_HUB_ID`` training spec."""
    import datasets

    name, sep, target = spec.partition("=")
    if not sep:
        name, target = "", spec
    path = Path(target)
    if path.suffix in LOCAL_FORMATS and path.exists():
        ds = datasets.load_dataset(LOCAL_FORMATS[path.suffix], data_files=str(path), split="train")
        return name or path.stem, ds
    return name or target, datasets.load_dataset(target, split=split)


def scan_options(args: argparse.Namespace) -> dict[str, Any]:
    """The scan and report keyword arguments every path (embedded, datatrove merge) passes alike."""
    return dict(
        text_field=args.text_field,
        overlap_threshold=args.overlap_threshold,
        contamination_threshold=args.contamination_threshold,
        num_proc=args.num_proc,
        batch_size=args.batch_size,
        max_examples=args.max_examples,
        progress=True,
    )


def report_and_write(args: argparse.Namespace, index: Any, train: dict[str, Any], pairs: list | None = None) -> None:
    """Report on ``train`` (scanning it, or from ``pairs`` found by a sharded scan), apply the mode, write."""
    common = scan_options(args)
    if len(train) == 1:
        ((name, ds),) = train.items()
        kept_ds, report = decontaminate(
            ds, index, args.mode, source_column=args.source_column, source_name=name, pairs=pairs, **common
        )
        kept = {name: kept_ds}
    else:
        kept, report = decontaminate_sources(train, index, args.mode, pairs=pairs, **common)
    out = Path(args.out_dir)
    json_path, md_path = report.write(out)
    print(report.to_markdown())
    print(f"report: {json_path} {md_path}")
    if args.mode != "report":
        for name, ds in kept.items():
            target = out / f"{name.replace('/', '__')}.jsonl"
            ds.to_json(str(target), lines=True, force_ascii=False)
            print(f"kept {len(ds)}/{len(train[name])} rows of {name}: {target}")
        for name in train.keys() - kept.keys():
            print(f"dropped source {name} ({len(train[name])} rows)")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    executor = executor_from_args(args)
    index = build_index(load_eval_sets(args.evals, args.eval_dir), ngram=args.ngram)
    train = dict(load_train(spec, args.split) for spec in args.train)
    if executor.executor == "embedded":
        report_and_write(args, index, train)
    else:
        from tulu_recipes.pipelines.decontaminate import run_pipeline

        run_pipeline(args, executor, index, train)
    return 0


if __name__ == "__main__":
    from tulu_recipes.config import run_cli

    raise SystemExit(run_cli(main))
