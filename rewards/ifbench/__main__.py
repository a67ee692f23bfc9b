"""IFBench evaluation CLI with the interface of AllenAI's ``run_eval.py``, no download.

``python -m rewards.ifbench --input_data IFBench_test.jsonl --input_response_data RESPONSES.jsonl --output_dir DIR``
writes ``eval_results_strict.jsonl`` and ``eval_results_loose.jsonl`` (per prompt: ``instruction_id_list``,
``prompt``, ``response``, ``follow_all_instructions``, ``follow_instruction_list``) and prints prompt- and
instruction-level accuracy (percent) for both modes. A response is found by its prompt, or by its prompt stripped
of surrounding whitespace; a prompt without a response fails every instruction.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rewards.ifbench import check_instructions
from rewards.ifeval.evaluate import accuracies


def read_jsonl(path: str | Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def evaluate_files(input_data: str | Path, response_data: str | Path, output_dir: str | Path) -> dict[str, float]:
    """Score the responses, write both result files, return the four accuracies (percent)."""
    inputs = read_jsonl(input_data)
    responses: dict[str, str] = {}
    for row in read_jsonl(response_data):
        responses[row["prompt"]] = row["response"]
        responses.setdefault(row["prompt"].strip(), row["response"])
    out_dir = Path(output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    scores: dict[str, float] = {}
    for mode in ("strict", "loose"):
        verdicts = []
        with open(out_dir / f"eval_results_{mode}.jsonl", "w", encoding="utf-8") as fh:
            for row in inputs:
                response = responses.get(row["prompt"], responses.get(row["prompt"].strip()))
                ids = row["instruction_id_list"]
                follow = (
                    [False] * len(ids)
                    if response is None
                    else check_instructions(response, ids, row["kwargs"], loose=mode == "loose")
                )
                verdicts.append(follow)
                record = {
                    "instruction_id_list": ids,
                    "prompt": row["prompt"],
                    "response": response or "",
                    "follow_all_instructions": all(follow),
                    "follow_instruction_list": follow,
                }
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        scores[f"prompt_level_{mode}"], scores[f"instruction_level_{mode}"] = accuracies(verdicts)
    return scores


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rewards.ifbench", description=__doc__.splitlines()[0])
    parser.add_argument("--input_data", required=True, help="IFBench_test.jsonl (or rows of that shape)")
    parser.add_argument("--input_response_data", required=True, help="JSONL of {prompt, response}")
    parser.add_argument("--output_dir", required=True)
    args = parser.parse_args(argv)
    for name, value in evaluate_files(args.input_data, args.input_response_data, args.output_dir).items():
        print(f"{name}: {value:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
