"""Benchmark: embedded 8-gram decontamination vs datatrove's n-gram filter and a set-based implementation.

One synthetic corpus (prompts built from sentences over the evaluation vocabulary plus unseen words, some
non-ASCII, with 0.1% evaluation prompts planted verbatim or wrapped) is scanned against the default evaluation
sets read from local files (GSM8K test, MATH-500, IFEval). On a subset every method runs single-process; then
``tulu_recipes`` scans the whole corpus with ``--num-proc`` workers.

    python benchmarks/decontaminate.py --rows 1000000 --subset 20000 --num-proc 2

datatrove (``pip install datatrove spacy``; its English word tokenizer is spaCy's) flags a row when ANY of its
8-grams is an evaluation 8-gram; the set-based baseline applies exactly our rule (coverage > 50% from one
training instance) with Python sets and must flag the same rows as ``tulu_recipes``.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from tulu_recipes.data.decontamination import build_index, load_eval_sets, scan, tokenize

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


class Clock:
    """Wall time and CPU time (this process plus finished child processes) of a block."""

    def __enter__(self) -> Clock:
        self.wall, self.cpu = time.perf_counter(), self._cpu()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, self._cpu() - self.cpu

    @staticmethod
    def _cpu() -> float:
        child = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.process_time() + child.ru_utime + child.ru_stime


def make_corpus(evals: dict[str, list[str]], rows: int, seed: int = 0) -> tuple[list[str], int]:
    """Synthetic prompts and the number of planted evaluation prompts."""
    rng = np.random.default_rng(seed)
    eval_vocab = sorted({t for texts in evals.values() for x in texts for t in tokenize(x)})
    unseen = [f"zq{i}x" for i in range(20000)] + ["café", "naïve", "Straße", "über", "年份", "—"]
    lexicon = np.array(eval_vocab + unseen, dtype=object)
    p = np.where(np.arange(len(lexicon)) < len(eval_vocab), 0.8 / len(eval_vocab), 0.2 / len(unseen))
    n_sent = 50000
    lengths = rng.integers(4, 21, n_sent)
    picks = rng.choice(len(lexicon), size=int(lengths.sum()), p=p / p.sum())
    bounds = np.concatenate(([0], np.cumsum(lengths)))
    sentences = [" ".join(lexicon[picks[bounds[i] : bounds[i + 1]]]) + "." for i in range(n_sent)]
    per_row = rng.integers(1, 15, rows)  # 1..14 sentences, ~90 words on average
    choice = rng.integers(0, n_sent, int(per_row.sum()))
    offs = np.concatenate(([0], np.cumsum(per_row)))
    corpus = [" ".join([sentences[j] for j in choice[offs[i] : offs[i + 1]]]) for i in range(rows)]
    all_evals = [x for texts in evals.values() for x in texts]
    planted = rng.choice(rows, size=rows // 1000, replace=False)
    for k, r in enumerate(planted):
        text = all_evals[int(rng.integers(len(all_evals)))]
        corpus[r] = text if k % 2 else f"Please solve the following. {text} Explain briefly."
    return corpus, len(planted)


def ours(index, corpus: list[str], num_proc: int) -> set[int]:
    report = scan(index, {"train": corpus}, num_proc=num_proc, batch_size=4096, progress=False)
    return set(report.flagged_rows["train"])


def set_based(evals: dict[str, list[str]], corpus: list[str], n: int = 8, threshold: float = 0.5):
    """Straightforward implementation of the same rule with tuples and sets (index build included)."""
    table: dict[tuple[str, ...], list[tuple[int, int]]] = defaultdict(list)
    lengths = []
    for e, text in enumerate(x for texts in evals.values() for x in texts):
        toks = tokenize(text)
        lengths.append(len(toks))
        if 0 < len(toks) < n:
            table[tuple(toks)].append((e, 0))
        for i in range(len(toks) - n + 1):
            table[tuple(toks[i : i + n])].append((e, i))
    short = sorted({k for k in lengths if 0 < k < n})
    flagged = set()
    for r, text in enumerate(corpus):
        toks = tokenize(text)
        covered: dict[int, set[int]] = defaultdict(set)
        for k in [*short, n]:
            for i in range(len(toks) - k + 1):
                for e, pos in table.get(tuple(toks[i : i + k]), ()):
                    if k == n or lengths[e] == k:
                        covered[e].update(range(pos, pos + k))
        if any(len(c) / lengths[e] > threshold for e, c in covered.items()):
            flagged.add(r)
    return flagged


def datatrove_filter(evals: dict[str, list[str]], corpus: list[str], n: int = 8):
    """datatrove's NGramsDecontFilter over an index of the eval prompts' n-grams (index build included)."""
    import datatrove.utils.hashes.xxhash as dt_xxhash
    import xxhash
    from datatrove.data import Document
    from datatrove.pipeline.decont import NGramsDecontConfig, NGramsDecontFilter

    # xxhash >= 4 rejects str; hash the UTF-8 bytes as xxhash 3 did implicitly (datatrove passes str).
    dt_xxhash.xxhash64 = lambda data: xxhash.xxh64_intdigest(data.encode() if isinstance(data, str) else data)
    from datatrove.utils.hashing import create_hash_func
    from datatrove.utils.text import ngrams, simplify_text

    config = NGramsDecontConfig(n_grams=n, find_query_ngrams=True)
    with tempfile.TemporaryDirectory() as folder:
        filt = NGramsDecontFilter(index_folder=folder, config=config)
        hash_func = create_hash_func(config.hash_config)
        for name, texts in evals.items():
            hashes = {
                hash_func(" ".join(g))
                for text in texts
                for g in ngrams(filt.tokenizer.word_tokenize(simplify_text(text, config.norm_config)), n)
            }
            array = np.array(sorted(hashes), dtype=config.hash_config.np_descr)
            array.tofile(f"{folder}/{name}.index.hashes")
        return {r for r, text in enumerate(corpus) if filt.filter(Document(text=text, id=str(r))) is not True}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--subset", type=int, default=20_000)
    ap.add_argument("--num-proc", type=int, default=2)
    ap.add_argument("--data-dir", default=str(DATA))
    ap.add_argument("--skip-datatrove", action="store_true")
    args = ap.parse_args()

    evals = load_eval_sets(local_dir=args.data_dir)
    t0 = time.perf_counter()
    index = build_index(evals)
    t_index = time.perf_counter() - t0
    t0 = time.perf_counter()
    corpus, planted = make_corpus(evals, args.rows)
    words = sum(len(x.split()) for x in corpus[: args.subset]) / args.subset
    print(
        f"eval instances {index.n_instances}, index built in {t_index:.2f}s; corpus {args.rows} rows "
        f"(~{words:.0f} words/row, {planted} planted) generated in {time.perf_counter() - t0:.1f}s"
    )

    sub = corpus[: args.subset]
    results = []

    def run(name: str, n_rows: int, fn, *fn_args) -> set[int]:
        with Clock() as clock:
            flagged = fn(*fn_args)
        results.append((name, n_rows, clock.wall, clock.cpu, len(flagged)))
        return flagged

    f_ours = run("tulu_recipes (1 proc)", len(sub), ours, index, sub, 1)
    f_set = run("set-based, same rule (1 proc)", len(sub), set_based, evals, sub)
    assert f_set == f_ours, "set-based baseline and tulu_recipes disagree"
    if not args.skip_datatrove:
        try:
            run("datatrove NGramsDecontFilter (1 proc, any 8-gram)", len(sub), datatrove_filter, evals, sub)
        except ImportError as err:
            print(f"datatrove unavailable: {err}")
    run(f"tulu_recipes ({args.num_proc} procs), full corpus", len(corpus), ours, index, corpus, args.num_proc)

    base = results[0][1] / results[0][3]
    print("\n| method | rows | wall s | CPU s | rows/s (wall) | rows/CPU s | CPU per row vs ours | flagged |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, n_rows, wall, cpu, flagged in results:
        print(
            f"| {name} | {n_rows} | {wall:.2f} | {cpu:.2f} | {n_rows / wall:,.0f} | {n_rows / cpu:,.0f} | "
            f"{base / (n_rows / cpu):.1f}x | {flagged} |"
        )


if __name__ == "__main__":
    main()
