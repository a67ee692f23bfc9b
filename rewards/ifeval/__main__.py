"""IFEval evaluation CLI, Google's interface.

``python -m rewards.ifeval --input_data INPUT.jsonl --input_response_data RESPONSES.jsonl --output_dir DIR``
writes ``eval_results_strict.jsonl`` and ``eval_results_loose.jsonl`` (one line per prompt with
``instruction_id_list``, ``prompt``, ``response``, ``follow_all_instructions``,
``follow_instruction_list``) and prints prompt- and instruction-level accuracy for both modes.
Responses are matched to inputs by prompt text; a prompt without a response scores as empty.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rewards.ifeval.evaluate import accuracies, check_instructions


def read_jsonl(path: str | Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def evaluate_files(input_data: str | Path, response_data: str | Path, output_dir: str | Path) -> dict[str, float]:
    """Score the responses, write both result files, return the four accuracies (percent)."""
    inputs = read_jsonl(input_data)
    responses = {row["prompt"]: row["response"] for row in read_jsonl(response_data)}
    out_dir = Path(output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    scores: dict[str, float] = {}
    for mode in ("strict", "loose"):
        verdicts = []
        with open(out_dir / f"eval_results_{mode}.jsonl", "w", encoding="utf-8") as f:
            for row in inputs:
                response = responses.get(row["prompt"], "")
                follow = check_instructions(
                    row["prompt"], response, row["instruction_id_list"], row["kwargs"], loose=mode == "loose"
                )
                verdicts.append(follow)
                record = {
                    "instruction_id_list": row["instruction_id_list"],
                    "prompt": row["prompt"],
                    "response": response,
                    "follow_all_instructions": all(follow),
                    "follow_instruction_list": follow,
                }
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
        prompt_level, instruction_level = accuracies(verdicts)
        scores[f"prompt_level_{mode}"] = prompt_level
        scores[f"instruction_level_{mode}"] = instruction_level
    return scores


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rewards.ifeval", description=__doc__.splitlines()[0])
    parser.add_argument("--input_data", required=True)
    parser.add_argument("--input_response_data", required=True)
    parser.add_argument("--output_dir", required=True)
    args = parser.parse_args(argv)
    scores = evaluate_files(args.input_data, args.input_response_data, args.output_dir)
    for name, value in scores.items():
        print(f"{name}: {value:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
