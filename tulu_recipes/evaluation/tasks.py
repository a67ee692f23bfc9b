"""Evaluation tasks as chat prompts with a gold answer: GSM8K, MATH, IFEval, or a local verifiable JSONL.

Settings follow the paper's evaluation (Tülu 3 §8, OLMES): GSM8K 8-shot chain of thought, MATH 4-shot in the
Minerva format, IFEval zero-shot. The exemplar files ship in `tulu_recipes/evaluation/data/`.

GSM8K follows OLMES's `gsm8k::tulu` task (allenai/olmes `oe_eval/configs/tasks.py`, suite `tulu_3_dev`): the
test split, 8 shots from the fixed few-shot source `STD:GSM8k` (the Wei et al. 2022 chain-of-thought exemplars),
`use_chat_format` with `fewshot_as_multiturn`: each shot is a user turn `Question: ...` and an assistant turn
`Answer: <reasoning> So the answer is N.`, the test question is the last user turn, and the model continues the
assistant prefix `Answer:` that `oe_eval/run_eval.py::convert_chat_instance` appends to the rendered generation
prompt. Here that prefix is a trailing assistant message, which the generation code appends the same way
(`tulu_recipes.evaluation.decoding.chat_prompt_text`). MATH gives its 4 Minerva exemplars the same way, as
separate chat turns (`Problem:` user turns, `Solution:` assistant turns ending in the Minerva final line, then the
problem and the assistant prefix `Solution:`), as OLMES `minerva_math_{subject}::tulu` does (`oe_eval/configs/
tasks.py`: 4 shots, `fewshot_as_multiturn`, greedy, 1,024 new tokens; the Minerva prompt text itself is in OLMES's
task class, not read here). `math_fewshot_as_multiturn: false` keeps the exemplars in one user turn (the layout
before). Generation limits per task: `OLMES_MAX_NEW_TOKENS`.

IFBench (`ifbench`, `ifbench_offline`) lives in `tulu_recipes.evaluation.ifbench`.

A local task is a JSONL of open-instruct RLVR rows (`messages` ending in a user turn, `ground_truth`, `dataset`),
scored by the `verifiable` reward, which routes each row on its `dataset` value.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data"

# Generation limits (max_gen_toks) of the OLMES Tülu tasks, allenai/olmes `oe_eval/configs/tasks.py`:
# `minerva_math_{subject}::tulu` 1024 and `ifeval::tulu` 2048 (each with stop_sequences [], the chat template's EOS
# ends an answer). `gsm8k::tulu` sets no generation_kwargs, so the GSM8K task's own default applies (OLMES
# `oe_eval/tasks/oe_eval_tasks/gsm8k.py`, max_gen_toks 512; that file could not be read here, the 512 is from
# scripts that run `gsm8k::tulu`). A local .jsonl task keeps the earlier 1024.
OLMES_MAX_NEW_TOKENS = {"gsm8k": 512, "math": 1024, "ifeval": 2048}
LOCAL_MAX_NEW_TOKENS = 1024
BUILTIN = ("gsm8k", "math", "ifeval")
DEFAULT_FILES = {"gsm8k": "gsm8k_test.jsonl", "math": "math_test.jsonl", "ifeval": "ifeval_input_data.jsonl"}


@dataclass
class Example:
    """One prompt: chat messages, the gold answer, the verifier that judges it, and a group for macro averages."""

    messages: list[dict[str, str]]
    ground_truth: Any
    verifier: str
    group: str | None = None


@dataclass
class EvalTask:
    """A named list of examples scored by one `kind` of scorer (`gsm8k`, `math`, `ifeval` or `verifiable`)."""

    name: str
    kind: str
    examples: list[Example] = field(repr=False)
    settings: dict[str, Any] = field(default_factory=dict)
    max_new_tokens: int = LOCAL_MAX_NEW_TOKENS  # the task's own limit; `max_new_tokens` in a recipe replaces it


def read_jsonl(path: str | Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _subset(rows: list, limit: int | None, seed: int | None) -> list:
    """The first `limit` rows, or `limit` rows drawn with `seed` (kept in file order) when a seed is given."""
    if limit is None or limit >= len(rows):
        return rows
    if seed is None:
        return rows[:limit]
    keep = sorted(random.Random(seed).sample(range(len(rows)), limit))
    return [rows[i] for i in keep]


def gsm8k_gold(answer: str) -> str:
    """The gold number of a GSM8K answer: what follows its last `####`."""
    return answer.rsplit("####", 1)[-1].strip().replace(",", "")


GSM8K_ASSISTANT_PREFIX = "Answer:"


def fewshot_chat(shots: list[tuple[str, str]], question: str, prefix: str) -> list[dict[str, str]]:
    """Few-shot as multi-turn chat: a user/assistant pair per shot, the question, then the assistant `prefix` the
    model continues."""
    messages = []
    for user, assistant in shots:
        messages += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    return [*messages, {"role": "user", "content": question}, {"role": "assistant", "content": prefix}]


def gsm8k_messages(question: str, num_shots: int = 8) -> list[dict[str, str]]:
    """OLMES `gsm8k::tulu`: the shots as multi-turn chat, the question, then the assistant prefix `Answer:`."""
    shots = [
        (f"Question: {s['question']}", f"{GSM8K_ASSISTANT_PREFIX} {s['rationale']} So the answer is {s['answer']}.")
        for s in read_jsonl(DATA / "gsm8k_8shot.jsonl")[:num_shots]
    ]
    return fewshot_chat(shots, f"Question: {question}", GSM8K_ASSISTANT_PREFIX)


def gsm8k_prompt(question: str, num_shots: int = 8) -> str:
    """All shots in one user turn (the RLVR training prompts' layout, recipe doc §6; not the evaluation's)."""
    shots = read_jsonl(DATA / "gsm8k_8shot.jsonl")[:num_shots]
    parts = [f"Question: {s['question']}\nAnswer: {s['rationale']} So the answer is {s['answer']}." for s in shots]
    parts.append(f"Question: {question}\nAnswer:")
    return "\n\n".join(parts)


def math_prompt(problem: str, num_shots: int = 4) -> str:
    """The user turn in the Minerva format: `Problem:` / `Solution:` exemplars ending in the fixed final line."""
    shots = read_jsonl(DATA / "math_minerva_4shot.jsonl")[:num_shots]
    parts = [
        f"Problem:\n{s['problem']}\n\nSolution:\n{s['solution']}\n"
        f"Final Answer: The final answer is ${s['answer']}$. I hope it is correct."
        for s in shots
    ]
    parts.append(f"Problem:\n{problem}\n\nSolution:")
    return "\n\n".join(parts)


MATH_ASSISTANT_PREFIX = "Solution:"


def math_messages(problem: str, num_shots: int = 4) -> list[dict[str, str]]:
    """Minerva exemplars as multi-turn chat (as `gsm8k_messages`), the problem, then the prefix `Solution:`."""
    final = "Final Answer: The final answer is ${}$. I hope it is correct."
    shots = [
        (f"Problem:\n{s['problem']}", f"{MATH_ASSISTANT_PREFIX}\n{s['solution']}\n{final.format(s['answer'])}")
        for s in read_jsonl(DATA / "math_minerva_4shot.jsonl")[:num_shots]
    ]
    return fewshot_chat(shots, f"Problem:\n{problem}", MATH_ASSISTANT_PREFIX)


def math_gold(row: dict) -> str:
    """MATH-500 rows carry `answer`; full MATH rows only a solution whose last `\\boxed{}` is the answer."""
    if row.get("answer") not in (None, ""):
        return str(row["answer"])
    from rewards.extract import last_boxed

    boxed = last_boxed(row.get("solution", ""))
    if boxed is None:
        raise ValueError(f"MATH row without `answer` and without a \\boxed{{}} solution: {str(row)[:120]}")
    return boxed


def gsm8k_task(path: str | Path, num_shots: int = 8, limit: int | None = None, seed: int | None = None) -> EvalTask:
    rows = _subset(read_jsonl(path), limit, seed)
    examples = [Example(gsm8k_messages(r["question"], num_shots), gsm8k_gold(r["answer"]), "gsm8k") for r in rows]
    settings = {"num_shots": num_shots, "format": "gsm8k::tulu (OLMES, few-shot as multi-turn)", "path": str(path)}
    return EvalTask("gsm8k", "gsm8k", examples, settings, OLMES_MAX_NEW_TOKENS["gsm8k"])


def math_task(
    path: str | Path, num_shots: int = 4, limit: int | None = None, seed: int | None = None, multiturn: bool = True
) -> EvalTask:
    rows = _subset(read_jsonl(path), limit, seed)
    prompt = (
        (lambda p: math_messages(p, num_shots))
        if multiturn
        else (lambda p: [{"role": "user", "content": math_prompt(p, num_shots)}])
    )
    examples = [
        Example(
            prompt(r["problem"]),
            math_gold(r),
            "math",
            group=r.get("subject") or r.get("type"),
        )
        for r in rows
    ]
    layout = "minerva_math::tulu (few-shot as multi-turn)" if multiturn else "Minerva, exemplars in one user turn"
    settings = {"num_shots": num_shots, "format": layout, "path": str(path)}
    return EvalTask("math", "math", examples, settings, OLMES_MAX_NEW_TOKENS["math"])


def ifeval_task(path: str | Path, limit: int | None = None, seed: int | None = None) -> EvalTask:
    """Google's IFEval rows; the gold is the row's own `instruction_id_list`/`kwargs`/`prompt`."""
    rows = _subset(read_jsonl(path), limit, seed)
    examples = [
        Example(
            [{"role": "user", "content": r["prompt"]}],
            {"instruction_id_list": r["instruction_id_list"], "kwargs": r["kwargs"], "prompt": r["prompt"]},
            "ifeval",
        )
        for r in rows
    ]
    return EvalTask("ifeval", "ifeval", examples, {"num_shots": 0, "path": str(path)}, OLMES_MAX_NEW_TOKENS["ifeval"])


def jsonl_task(
    path: str | Path, name: str | None = None, limit: int | None = None, seed: int | None = None
) -> EvalTask:
    """Open-instruct RLVR rows (`messages`, `ground_truth`, `dataset`) scored by the `verifiable` reward."""
    from rewards.verifiable import verifier_for

    rows = _subset(read_jsonl(path), limit, seed)
    examples = []
    for i, r in enumerate(rows):
        missing = [k for k in ("messages", "ground_truth", "dataset") if k not in r]
        if missing:
            raise ValueError(f"{path} row {i}: missing {', '.join(missing)} (need messages, ground_truth, dataset)")
        verifier = verifier_for(str(r["dataset"]))
        if verifier is None:
            raise ValueError(f"{path} row {i}: no verifier for dataset {r['dataset']!r}")
        messages = list(r["messages"])
        if messages and messages[-1]["role"] == "assistant":
            messages = messages[:-1]
        examples.append(Example(messages, r["ground_truth"], verifier, group=verifier))
    return EvalTask(name or Path(path).stem, "verifiable", examples, {"num_shots": 0, "path": str(path)})


def _ifbench(key: str, path: str, data_dir: str | Path | None, limit: int | None, seed: int | None) -> EvalTask:
    from tulu_recipes.evaluation import ifbench

    if key == "ifbench_offline":
        if path and not path.isdigit():
            raise ValueError(f"ifbench_offline takes a number of rounds (ifbench_offline=2), got {path!r}")
        rounds = int(path or 2)
        rows = ifbench.offline_rows(0 if seed is None else seed, rounds)
        return ifbench.ifbench_task(rows, key, key, limit, seed, f"offline, seed {seed or 0}, {rounds} rounds")
    if not path:
        if data_dir is None:
            raise ValueError(
                f"task 'ifbench' needs `data_dir` (a folder with {ifbench.DEFAULT_FILE}), `ifbench=PATH` "
                "or `ifbench=hub`"
            )
        path = str(Path(data_dir) / ifbench.DEFAULT_FILE)
    if path != "hub" and not Path(path).is_file():
        raise ValueError(f"task 'ifbench': file {path} does not exist")
    return ifbench.ifbench_task(ifbench.read_rows(path), key, path, limit, seed, path)


def build_task(
    spec: str,
    data_dir: str | Path | None = None,
    limit: int | None = None,
    seed: int | None = None,
    gsm8k_shots: int = 8,
    math_shots: int = 4,
    math_multiturn: bool = True,
) -> EvalTask:
    """`gsm8k`, `math`, `ifeval`, `ifbench` (read from `data_dir`, or `name=path`; `ifbench=hub` downloads),
    `ifbench_offline[=ROUNDS]` (built here, seeded with `seed` or 0), or a local `.jsonl` (`name=path` too)."""
    name, _, path = spec.partition("=") if "=" in spec else (None, "", spec)
    key = (name or spec).lower()
    if key in ("ifbench", "ifbench_offline"):
        return _ifbench(key, path if name else "", data_dir, limit, seed)
    if key in BUILTIN:
        if not path or path == spec:
            if data_dir is None:
                raise ValueError(f"task {key!r} needs `data_dir` (a folder with {DEFAULT_FILES[key]}) or `{key}=PATH`")
            path = str(Path(data_dir) / DEFAULT_FILES[key])
        if not Path(path).is_file():
            raise ValueError(f"task {key!r}: file {path} does not exist")
        if key == "gsm8k":
            return gsm8k_task(path, gsm8k_shots, limit, seed)
        if key == "math":
            return math_task(path, math_shots, limit, seed, math_multiturn)
        return ifeval_task(path, limit, seed)
    if not path.endswith(".jsonl"):
        raise ValueError(f"unknown task {spec!r}: use gsm8k, math, ifeval, or a .jsonl file of verifiable rows")
    if not Path(path).is_file():
        raise ValueError(f"task file {path} does not exist")
    return jsonl_task(path, name, limit, seed)
