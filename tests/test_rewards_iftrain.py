"""IFTrain (OLMo 2/3's IF-RLVR constraints): each of the 29 constraints holds and fails as AllenAI's reference
decides (every verdict below was also checked against open-instruct's ``IFEvalG`` code), multi-constraint rows
(all must hold; partial credit as an option), routing through ``verifiable``, and the gold check before training.
"""

from __future__ import annotations

import json
import random
import re

import pytest
from _shared import rlvr_error_before_the_model_loads

from rewards import load_reward
from rewards.gold_checks import UnknownInstruction, gold_problem
from rewards.ifeval import verify
from rewards.iftrain import CHECKERS, constraints, is_iftrain_gold, score
from rewards.iftrain.checkers import _phrase_spans
from rewards.iftrain.text import split_sentences_rule, word_tokenize
from tulu_recipes.config import RecipeError
from tulu_recipes.stages.rlvr_golds import check_rlvr_golds


def gold(*rows: tuple[str, dict | None]) -> str:
    """A gold as ``allenai/IF_multi_constraints_upto5`` stores it: the repr of a one-element Python list."""
    return str([{"instruction_id": [i for i, _ in rows], "kwargs": [kw for _, kw in rows]}])


PROMPT = "Write a haiku about rain."
# (instruction id, kwargs, a response that satisfies it, one that violates it; the comment: the rule deciding it)
CASES = [
    # the spans run from the first word to the nearest last word; each differs from the phrase in exactly one word
    ("copy:repeat_phrase", {"phrase": "Time flies when having fun", "small_n": 2},
     "Time runs when having fun. And Time flies while having fun!",
     "Time runs when having fun. Time flies when having fun."),
    ("copy:copy", {"prompt_to_repeat": PROMPT}, "  write a HAIKU about rain.\n", PROMPT + " Rain falls."),
    # the span is the Python slice [n_start:n_end], the end not included: "haik", not "haiku"
    ("new:copy_span_idx", {"prompt_to_repeat": PROMPT, "n_start": 8, "n_end": 12}, " HAIK", "haiku"),
    # split on "-" must give the rule sentences exactly, with no space around a hyphen
    ("detectable_format:sentence_hyphens", None, "I came.-I saw.-I won.", "I came. -I saw.-I won."),
    # "b" right after "a" (any case) breaks it; "a" after "b" does not
    ("keywords:no_adjacent_consecutive", None, "banana apple daily fish", "Apple banana cake"),
    ("detectable_format:square_brackets", None, "[Hello] [big] [world]", "[Hello] [big] world"),
    # case-insensitive, and a substring counts: "Rain" plus "rainy" is two
    ("keywords:word_once", {"keyword": "rain"}, "Rain falls on the roof.", "Rain makes a rainy day."),
    ("keywords:word_count_different_numbers", {"keyword": "tree", "frequency": 2, "relation": "at least"},
     "A tree and a TREE.", "A tree and a bush."),
    # only " keyword " with a space on each side is excluded
    ("keywords:exclude_word_harder", {"keyword": "cloud"}, "cloud. Clouds pass.", "The cloud passes."),
    # an empty first piece is not counted
    ("paragraphs:paragraphs", None, "***\nFirst part.\n***\nSecond part.", "First.\n***\nSecond.\n***\nThird."),
    # an empty piece between two "\n\n" fails
    ("paragraphs:paragraphs2", None, "First part.\n\nSecond part.", "First part.\n\n\n\nSecond part."),
    ("first_word:first_word_sent", {"first_word": ["rain"]}, "Rain falls. RAIN stops!", "Rain falls. Then it stops."),
    ("first_word:first_word_answer", {"first_word": "rain"}, "RAIN is here.", "Rain, again."),
    # the last word loses its punctuation before the comparison
    ("last_word:last_word_sent", {"last_word": "now"}, "Come here now! Go away, NOW.", "Come now. Go away."),
    ("last_word:last_word_answer", {"last_word": "now"}, "We leave *now*.", "We leave now please."),
    ("detectable_format:bigram_wrapping", None, "<<I am>> <<at home>> alone", "<<I am>> at <<home now>>"),
    ("copy:copying_simple", {"prompt_to_repeat": PROMPT}, PROMPT.upper(), "Here: " + PROMPT),
    ("copy:copying_multiple", {"prompt_to_repeat": PROMPT, "N": 2}, f"{PROMPT}\n******\n{PROMPT}",
     f"{PROMPT}\n******\n{PROMPT}\n******\n{PROMPT}"),
    ("punctuation:punctuation_dot", None, "No dots here at all", "One dot here."),
    ("punctuation:punctuation_exclamation", None, "Calm text.", "Loud text!"),
    # \b[a-z]+\b: "the" and "dog" are two, "Big" and "BAD" are not lowercase words
    ("count:lowercase_counting", {"N": 2}, "Big the BAD dog.", "Big the bad dog."),
    ("letters:letter_counting", {"N": 5, "relation": "less than"}, "abcd 123", "abcde"),
    # counted in the lowercased response: "E" counts as "e"
    ("letters:letter_counting2", {"letter": "e", "let_frequency": 3, "let_relation": "at least"}, "Eve ate.",
     "Eva ate."),
    # NLTK words include the period: "Cats eat fish." is 4 words
    ("count:counting_composition", {"n_sent": 2, "n_words": 4},
     "Cats eat fish. Dogs eat meat.\n***\nBirds eat seeds. Cows eat grass.\n***\nFish eat bugs. Bees make honey.",
     "Cats eat fish. Dogs eat meat.\n***\nBirds eat seeds. Cows eat grass.\n***\n"
     "Fish eat small bugs. Bees make honey."),
    # NLTK words are case-sensitive: "The" and "the" are different
    ("count:count_unique", None, "The cat saw the dog.", "The cat saw a cat."),
    ("count:count_increment_word", {"keyword1": "sun", "keyword2": "moon"}, "Sun and moon and MOON.",
     "Sun and moon."),
    # a one-letter word is a palindrome
    ("keywords:palindrome", None, "I saw it.", "We saw it."),
    # sentence 2, NLTK word 3 (case-sensitive)
    ("keywords:keyword_specific_position", {"keyword": "blue", "n": 2, "m": 3}, "Hi there. The sky blue is. Yes.",
     "Hi there. The blue sky is. Yes."),
    # a final period is a word of its own, so it must not follow the last word
    ("keywords:start_end", None, "Rain falls all day rain", "Rain falls all day rain."),
]  # fmt: skip


def test_every_iftrain_constraint_has_cases():
    assert len(CHECKERS) == 29
    assert {c[0] for c in CASES} == set(CHECKERS)


@pytest.mark.parametrize(("instruction_id", "kwargs", "good", "bad"), CASES, ids=[c[0] for c in CASES])
def test_constraint_holds_and_fails(instruction_id, kwargs, good, bad):
    assert score(good, gold((instruction_id, kwargs))) == 1.0
    assert score(bad, gold((instruction_id, kwargs))) == 0.0


class TestRules:
    def test_rule_sentences(self):
        assert split_sentences_rule("Mr. Smith met Dr. Who at 3.5 p.m. today. Done!") == [
            "Mr. Smith met Dr. Who at 3.5 p.m. today.",
            "Done!",
        ]
        # only the period before "com" is protected: "www." ends a sentence
        assert split_sentences_rule("Wait... What? www.site.com is up.") == [
            "Wait...",
            "What?",
            "www.",
            "site.com is up.",
        ]
        assert split_sentences_rule('He said "go." Then left') == ['He said "go".', "Then left"]
        assert split_sentences_rule("") == []
        assert split_sentences_rule("One\nTwo. Three") == ["One Two.", "Three"]

    def test_nltk_words_without_nltk_data(self):
        assert word_tokenize('He said "don\'t go." Cannot!') == [
            "He", "said", "``", "do", "n't", "go", ".", "''", "Can", "not", "!",
        ]  # fmt: skip
        # Punkt splits "cherry." from a final "!", so the period becomes a word of its own
        assert word_tokenize("one cherry.!") == ["one", "cherry", ".", "!"]

    def test_phrase_spans_equal_the_lazy_regex(self):
        rng = random.Random(0)
        alphabet = ["a", "b", "c", " ", " ", "\n", "ab", "ba"]
        for _ in range(3000):
            text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
            first, last = rng.choice(["a", "b", "ab"]), rng.choice(["a", "b", "ba"])
            expected = re.findall(rf"{re.escape(first)} .*? {re.escape(last)}", text)
            assert _phrase_spans(text, first, last) == expected, (text, first, last)

    def test_keywords_are_literal_text(self):
        # deliberate difference 2: the reference reads "a.c" as a regex and would count "abc" too
        assert score("abc a.c", gold(("keywords:word_once", {"keyword": "a.c"}))) == 1.0


class TestRows:
    GOLD = gold(
        ("punctuation:no_comma", None),  # an IFEval id, judged by rewards.ifeval
        ("last_word:last_word_answer", {"last_word": "brief", "unused": None}),
        ("keywords:palindrome", None),
    )

    def test_all_must_hold(self):
        assert score("I am brief", self.GOLD) == 1.0
        assert score("I am, brief", self.GOLD) == 0.0  # a comma breaks one of three
        assert verify("I am brief", self.GOLD) is True
        assert verify("I am, brief", self.GOLD) is False

    def test_partial_credit_is_the_share_held(self):
        assert score("I am, brief", self.GOLD, partial=True) == pytest.approx(2 / 3)
        assert score("Not short, we are", self.GOLD, partial=True) == 0.0
        assert verify("We are, brief", self.GOLD, partial=True) == pytest.approx(1 / 3)

    def test_loose_tries_ifevals_variants_per_constraint(self):
        row = gold(("punctuation:punctuation_exclamation", None), ("first_word:first_word_answer", {"first_word": "I"}))
        assert score("Sure!\nI am here", row) == 0.0
        assert score("Sure!\nI am here", row, loose=True) == 1.0  # the response without its first line

    def test_the_answer_after_thinking_is_judged(self):
        assert score("<think>a, b, c</think>\n<answer>I am brief</answer>", self.GOLD) == 1.0
        assert score("I am brief</think>", self.GOLD) == 0.0  # nothing after the thinking

    def test_gold_forms(self):
        payload = json.loads(json.dumps([{"instruction_id": ["keywords:palindrome"], "kwargs": [None]}]))
        for form in (json.dumps(payload), payload, payload[0], [json.dumps(payload[0])], str(payload)):
            assert is_iftrain_gold(form)
            assert score("a b", form) == 1.0
        assert not is_iftrain_gold('{"func_name": "validate_lowercase"}')
        assert not is_iftrain_gold({"instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]})
        assert constraints(self.GOLD)[1] == ("last_word:last_word_answer", {"last_word": "brief"})

    @pytest.mark.parametrize(
        "bad_gold",
        [
            "[]",
            "[{'instruction_id': [], 'kwargs': []}]",
            "[{'instruction_id': ['keywords:palindrome'], 'kwargs': []}]",
            "[{'instruction_id': ['keywords:palindrome', 'keywords:palindrome'], 'kwargs': [None]}]",
            "[{'instruction_id': ['keywords:nope'], 'kwargs': [None]}]",
            "[{'instruction_id': ['keywords:word_once'], 'kwargs': [None]}]",
            "[{'instruction_id': ['letters:letter_counting2'], 'kwargs': [{'letter': '#', 'let_frequency': 1, "
            "'let_relation': 'at least'}]}]",
            "__import__('os').system('echo hacked')",
            "[" * 100_000,
            None,
            42,
        ],
    )
    def test_bad_input_scores_zero_and_never_raises(self, bad_gold):
        assert score("a # b", bad_gold) == 0.0
        assert score("a # b", bad_gold, partial=True) == 0.0
        assert verify("a # b", bad_gold) is False

    def test_bad_completion_scores_zero(self):
        assert score(None, gold(("keywords:palindrome", None))) == 0.0
        assert score("   ", gold(("punctuation:punctuation_dot", None))) == 0.0


def test_verifiable_routes_open_instruct_rows_and_partial_credit_is_an_option():
    completions = [[{"role": "assistant", "content": "I am brief"}], "I am, brief", "#### 7"]
    columns = {"ground_truth": [TestRows.GOLD, TestRows.GOLD, "7"], "dataset": ["ifeval", "IFEval", "gsm8k"]}
    assert load_reward("verifiable")(None, completions, **columns) == [10.0, 0.0, 10.0]
    partial = load_reward("verifiable", partial=True)(None, completions, **columns)
    assert partial == [10.0, pytest.approx(20 / 3), 10.0]


class TestGoldCheck:
    def test_gold_problems(self):
        assert gold_problem("ifeval", TestRows.GOLD) is None
        assert gold_problem("ifeval", gold(("keywords:word_once", None))) == (
            "keywords:word_once: keyword must be a non-empty string, got None"
        )
        assert gold_problem("ifeval", "[{'instruction_id': ['keywords:palindrome'], 'kwargs': []}]").startswith(
            "malformed multi-constraint gold"
        )
        with pytest.raises(UnknownInstruction, match="'keywords:palindrom'"):
            gold_problem("ifeval", gold(("punctuation:no_comma", None), ("keywords:palindrom", None)))

    def test_unknown_iftrain_id_stops_before_training_naming_the_row(self):
        from datasets import Dataset

        rows = Dataset.from_list(
            [
                {"ground_truth": TestRows.GOLD, "dataset": "ifeval", "source": "a"},
                {"ground_truth": gold(("copy:repeat_phrases", {"phrase": "a b c", "small_n": 2})),
                 "dataset": "ifeval", "source": "b"},
            ]
        )  # fmt: skip
        with pytest.raises(RecipeError) as err:
            check_rlvr_golds(rows, ["verifiable"], 0.5)
        message = str(err.value)
        assert "\n" not in message
        assert message == (
            "rlvr data: row 1 (source b), column ground_truth: unknown instruction id 'copy:repeat_phrases' "
            "(instruction_id)"
        )

    def test_missing_arguments_count_as_unparseable_golds(self):
        from datasets import Dataset

        rows = Dataset.from_list(
            [{"ground_truth": TestRows.GOLD, "dataset": "ifeval"}, {"ground_truth": gold(("copy:copy", {})),
              "dataset": "ifeval"}]
        )  # fmt: skip
        with pytest.raises(RecipeError, match=r"ifeval verifier cannot parse 1 of 2 golds \(50.0%\).*row 1: copy:copy"):
            check_rlvr_golds(rows, ["verifiable"], 0.05)


def test_partial_credit_is_a_recipe_field_off_by_default():
    from tulu_recipes.stages.rlvr import RLVRArguments, load_rewards

    assert load_rewards(RLVRArguments())[0].options.partial is False
    assert load_rewards(RLVRArguments(ifeval_partial_credit=True))[0].options.partial is True


def test_the_stage_stops_on_an_unknown_iftrain_id_before_the_model_loads(tmp_path, monkeypatch):
    rows = [{"messages": [{"role": "user", "content": f"q{i}"}], "ground_truth": TestRows.GOLD, "dataset": "ifeval"}
            for i in range(4)]  # fmt: skip
    rows[2]["ground_truth"] = gold(("punctuation:no_comma", None), ("count:count_uniq", None))
    assert re.fullmatch(
        r"rlvr data: row \d \(source .*\), column ground_truth: "
        r"unknown instruction id 'count:count_uniq' \(instruction_id\)",
        rlvr_error_before_the_model_loads(tmp_path, monkeypatch, rows),
    )
