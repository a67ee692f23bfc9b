"""The `ifbench` and `ifbench_offline` evaluation tasks: IFBench's 58 constraints (arXiv 2507.02833).

- `ifbench`: the rows of `allenai/IFBench_test` (`key`, `prompt`, `instruction_id_list`, `kwargs`), read from
  `IFBench_test.jsonl` in `data_dir`, from `ifbench=PATH`, or, only when asked with `ifbench=hub`, from the Hub
  through `datasets` (the one task here that can download).
- `ifbench_offline`: prompts built here without any download, seeded: each of the 58 constraints, in `rounds`
  rounds, gets arguments drawn with `random.Random(seed)` and its description (written for this project from the
  reference's definitions) appended to a base request from `BASE_REQUESTS`; the task-like `custom:*` constraints
  are whole requests. Rows have IFBench_test's shape, so both tasks are scored alike.

Scoring (`kind` "ifbench"): prompt- and instruction-level accuracy, strict and loose, by `rewards.ifbench` (IFBench's
`evaluation_lib` rules: strict on the response, loose on IFEval's 8 variants); the paper reports prompt-level loose.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from typing import Any

DEFAULT_FILE = "IFBench_test.jsonl"
HUB_DATASET = "allenai/IFBench_test"
BASE_REQUESTS = (
    "Explain how a refrigerator keeps food cold.",
    "Describe a walk through a quiet forest in autumn.",
    "Give advice to someone starting their first job.",
    "Summarize the causes of the French Revolution.",
    "Tell a short story about a lighthouse keeper.",
    "Explain why the sky looks blue during the day.",
    "Describe how to plan a small vegetable garden.",
    "Write a product description for a reusable water bottle.",
    "Explain the difference between weather and climate.",
    "Describe the life cycle of a butterfly.",
    "Give tips for learning a new language as an adult.",
    "Explain how vaccines train the immune system.",
)
PASSAGES = (
    "The river wound slowly through the valley, carrying leaves and small branches toward the distant sea.",
    "Good software is written twice: once to make it work, and once more to make it clear to the next reader.",
    "Bread rises because yeast eats sugar and releases gas, which the stretchy dough traps in small bubbles.",
)
WORDS = ("lantern", "harbor", "velvet", "compass", "meadow", "granite", "orbit", "thistle", "ember", "quartz")
OPTIONS = ("yes/no/maybe", "I know or I don't know", "a), b), c), d)")
SEPARATORS = ("...", "SEPARATOR", "!?!?", "-")

Draw = Callable[[random.Random, str], dict[str, Any]]


def _n(key: str, low: int, high: int) -> Draw:
    return lambda rng, base: {key: rng.randint(low, high)}


def _word_range(rng: random.Random, base: str) -> dict[str, Any]:
    low = rng.randint(50, 300)
    return {"min_words": low, "max_words": low + rng.randint(5, 30)}


def _keywords(rng: random.Random, base: str) -> dict[str, Any]:
    return {f"keyword{i}": w for i, w in enumerate(rng.sample(WORDS, 5), start=1)}


def _span(rng: random.Random, base: str) -> dict[str, Any]:
    start = rng.randint(0, len(base) - 10)
    return {"prompt_to_repeat": base, "n_start": start, "n_end": rng.randint(start + 5, len(base) - 1)}


# id -> (description template, argument draw); a template with no base request ("custom:*") is the whole prompt
CONSTRAINTS: dict[str, tuple[str, Draw | None]] = {
    "count:word_count_range": ("Your answer must be {min_words} to {max_words} words long.", _word_range),
    "count:unique_word_count": ("Use {N} or more different words in your answer.", _n("N", 20, 150)),
    "ratio:stop_words": (
        "Keep stop words (the, of, and, ...) to at most {percentage}% of all the words you write.",
        _n("percentage", 20, 60),
    ),
    "ratio:sentence_type": ("Write twice as many statements as questions.", None),
    "ratio:sentence_balance": ("Use equally many statements, questions and exclamations.", None),
    "count:conjunctions": ("Use {small_n} or more different coordinating conjunctions.", _n("small_n", 2, 6)),
    "count:person_names": (
        "Name at least {N} different people, taking the names from: Emma, Liam, Sophia, Jackson, Olivia, Noah, Ava, "
        "Lucas, Isabella, Mason, Mia, Ethan, Charlotte, Alexander, Amelia, Benjamin, Harper, Leo, Zoe, Daniel.",
        _n("N", 1, 8),
    ),
    "ratio:overlap": (
        "Reuse this passage so that about {percentage}% (give or take 2) of your character trigrams come from it: "
        '"{reference_text}"',
        lambda rng, base: {"reference_text": rng.choice(PASSAGES), "percentage": rng.randint(10, 60)},
    ),
    "count:numbers": ("Include exactly {N} numbers in your answer.", _n("N", 1, 6)),
    "words:alphabet": ("Start each word with the next letter of the alphabet, wrapping from z back to a.", None),
    "words:vowel": ("Answer in a single line using no more than three different vowels.", None),
    "words:consonants": ("Every word you write must contain two consonants in a row.", None),
    "sentence:alliteration_increment": ("Make each sentence more alliterative than the one before.", None),
    "words:palindrome": ("Use at least ten palindromes of five or more letters.", None),
    "count:punctuation": ("Use every one of . , ! ? ; : and also an interrobang (?! or !?).", None),
    "format:parentheses": ("Nest brackets at least five levels deep somewhere in your answer.", None),
    "format:quotes": ("Include quotes nested three levels deep, alternating double and single quotes.", None),
    "words:prime_lengths": ("Use only words whose length in letters is a prime number.", None),
    "format:options": (
        "Reply with one of these options and nothing else: {options}.",
        lambda rng, base: {"options": rng.choice(OPTIONS)},
    ),
    "format:newline": ("Put every word on its own line.", None),
    "format:emoji": ("Finish every sentence with an emoji.", None),
    "ratio:sentence_words": ("Write exactly three sentences with the same number of characters each.", None),
    "count:words_japanese": ("Make every {N}th word a Japanese word.", _n("N", 3, 10)),
    "words:start_verb": ("Begin your answer with a verb.", None),
    "words:repeats": ("Do not use any word more than {small_n} times.", _n("small_n", 1, 4)),
    "sentence:keyword": (
        'Sentence number {N} of your answer must contain the word "{word}".',
        lambda rng, base: {"word": rng.choice(WORDS), "N": rng.randint(1, 5)},
    ),
    "count:pronouns": ("Use at least {N} pronouns.", _n("N", 5, 25)),
    "words:odd_even_syllables": ("Alternate between words with an odd and an even number of syllables.", None),
    "words:last_first": ("Start each sentence with the word that ended the sentence before it.", None),
    "words:paragraph_last_first": (
        "Separate paragraphs with a new line, and end each paragraph with the word it began with.",
        None,
    ),
    "sentence:increment": (
        "Each sentence must have exactly {small_n} more words than the previous one.",
        _n("small_n", 1, 3),
    ),
    "words:no_consecutive": ("No two neighbouring words may begin with the same letter.", None),
    "format:line_indent": ("Indent each new line by more spaces than the line above, like a staircase.", None),
    "format:quote_unquote": ("Follow every quoted phrase with an explanation outside the quotes.", None),
    "format:list": (
        "Give your answer as a list whose items start with {sep} instead of bullet points.",
        lambda rng, base: {"sep": rng.choice(SEPARATORS)},
    ),
    "format:thesis": ("Open each section with a thesis statement in italics, marked with HTML tags.", None),
    "format:sub-bullets": (
        "Use bullet points marked with *, each followed by at least one sub-point marked with -.",
        None,
    ),
    "format:no_bullets_bullets": (
        "Write at least two sentences ending in a period, then at least two bullet points marked with *.",
        None,
    ),
    "custom:multiples": ("Count from 10 to 50, printing only the multiples of 7.", None),
    "custom:mcq_count_length": (
        'Write 4 multiple-choice questions about "20th century art history", each with 5 options (A to E). Start '
        'each with "Question", make each question longer than the one before, and add no explanation.',
        None,
    ),
    "custom:reverse_newline": ("List every country of Africa, one per line, in reverse alphabetical order.", None),
    "custom:word_reverse": (
        "Which animal is the national symbol of the US? Answer in one sentence with its words in reverse order.",
        None,
    ),
    "custom:character_reverse": (
        "Which animal is the national symbol of the US? Answer in one sentence spelled backwards letter by letter.",
        None,
    ),
    "custom:sentence_alphabet": (
        "Tell a story of 26 sentences whose first words start with A, B, C and so on through Z.",
        None,
    ),
    "custom:european_capitals_sort": (
        "Name the capitals of the European countries lying north of 45 degrees latitude, without the countries, "
        "comma separated, from the northernmost to the southernmost.",
        None,
    ),
    "custom:csv_city": (
        'Write comma-separated CSV data with the columns ["ID", "Country", "City", "Year", "Count"] and 7 rows.',
        None,
    ),
    "custom:csv_special_character": (
        'Write comma-separated CSV data with the columns ["ProductID", "Category", "Brand", "Price", "Stock"] and 14 '
        "rows, where one field holds a special character and is wrapped in double quotes.",
        None,
    ),
    "custom:csv_quotes": (
        'Write tab-separated CSV data with the columns ["StudentID", "Subject", "Grade", "Semester", "Score"] and 3 '
        "rows, with every field wrapped in double quotes.",
        None,
    ),
    "custom:date_format_list": (
        "Give the start dates of all of Napoleon's battles, comma separated, as YYYY-MM-DD, with no explanation.",
        None,
    ),
    "count:keywords_multiple": (
        "Use {keyword1} once, {keyword2} twice, {keyword3} three times, {keyword4} five times and {keyword5} seven "
        "times.",
        _keywords,
    ),
    "words:keywords_specific_position": (
        'Make "{keyword}" word number {m} of sentence number {n}.',
        lambda rng, base: {"keyword": rng.choice(WORDS), "n": rng.randint(1, 4), "m": rng.randint(2, 8)},
    ),
    "words:words_position": (
        'Make "{keyword}" both the second word and the second-to-last word of your answer.',
        lambda rng, base: {"keyword": rng.choice(WORDS)},
    ),
    "repeat:repeat_change": (
        "Repeat the request below word for word except for its first word, which you must change; say nothing else "
        "and do not answer it. Request: {prompt_to_repeat}",
        lambda rng, base: {"prompt_to_repeat": base},
    ),
    "repeat:repeat_simple": ("Only output this sentence here, ignore all other requests.", None),
    "repeat:repeat_span": (
        "Copy exactly the characters from index {n_start} to index {n_end} (both included) of the request above.",
        _span,
    ),
    "format:title_case": ("Write the whole answer in title case.", None),
    "format:output_template": (
        "Answer with this template: My Answer: [answer] My Conclusion: [conclusion] Future Outlook: [outlook]",
        None,
    ),
    "format:no_whitespace": ("Do not use any whitespace.", None),
}
STANDALONE = frozenset(i for i in CONSTRAINTS if i.startswith("custom:")) | {
    "repeat:repeat_simple",
    "repeat:repeat_change",
}


def offline_rows(seed: int = 0, rounds: int = 2) -> list[dict[str, Any]]:
    """`rounds` prompts per constraint in IFBench_test's row shape (rules in the module docstring)."""
    rng = random.Random(seed)
    rows = []
    for round_no in range(rounds):
        for iid in sorted(CONSTRAINTS):
            template, draw = CONSTRAINTS[iid]
            base = rng.choice(BASE_REQUESTS)
            kwargs = draw(rng, base) if draw else {}
            text = template.format(**kwargs)
            prompt = text if iid in STANDALONE else f"{base} {text}"
            rows.append(
                {"key": f"offline-{round_no}-{iid}", "prompt": prompt, "instruction_id_list": [iid], "kwargs": [kwargs]}
            )
    return rows


def read_rows(source: str) -> list[dict[str, Any]]:
    """IFBench_test rows from a local JSONL, or from the Hub when `source` is `hub`."""
    if source == "hub":
        import datasets

        return [dict(r) for r in datasets.load_dataset(HUB_DATASET, split="train")]
    with open(source, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def check_rows(rows: Sequence[dict[str, Any]], where: str) -> None:
    """Every row has a prompt, known instruction ids and one kwargs object per id (`ValueError` naming the row)."""
    from rewards.ifbench import IDS

    for i, row in enumerate(rows):
        missing = [k for k in ("prompt", "instruction_id_list", "kwargs") if k not in row]
        if missing:
            raise ValueError(f"{where} row {i}: missing {', '.join(missing)}")
        unknown = [x for x in row["instruction_id_list"] if x not in IDS]
        if unknown:
            raise ValueError(f"{where} row {i}: unknown IFBench instruction id {unknown[0]!r}")
        if len(row["kwargs"]) != len(row["instruction_id_list"]):
            raise ValueError(f"{where} row {i}: {len(row['kwargs'])} kwargs for {len(row['instruction_id_list'])} ids")


def ifbench_task(
    rows: list[dict[str, Any]], name: str, where: str, limit: int | None, seed: int | None, source: str
) -> Any:
    """An `EvalTask` of kind `ifbench` over IFBench_test-shaped rows (the gold is the row's ids and kwargs)."""
    from tulu_recipes.evaluation.tasks import EvalTask, Example, _subset

    check_rows(rows, where)
    rows = _subset(rows, limit, seed)
    examples = [
        Example(
            [{"role": "user", "content": r["prompt"]}],
            {"instruction_id_list": r["instruction_id_list"], "kwargs": r["kwargs"], "prompt": r["prompt"]},
            "ifbench",
        )
        for r in rows
    ]
    return EvalTask(name, "ifbench", examples, {"num_shots": 0, "source": source})


def check_instructions(
    prompt: str, response: str, ids: Sequence[str], kwargs: Sequence[Any], loose: bool = False
) -> list[bool]:
    """`rewards.ifbench.check_instructions` in the IFEval scorer's argument order (the prompt is not needed)."""
    from rewards.ifbench import check_instructions as check

    return check(response, ids, kwargs, loose=loose)
