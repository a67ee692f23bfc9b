"""`tulu-recipes verifier-audit`: the metrics and intervals on a hand-made file, bad input, the shipped example."""

from __future__ import annotations

import importlib.util
import json
import re

import pytest

from tulu_recipes import cli
from tulu_recipes.verifier_audit import Counts, audit, nearest_rank, newcombe, read_labelled, wilson

# (completion, gold, label, category): hand-labelled; the verifier's verdict and its reason in the comment
ROWS = [
    ("So the answer is 18.", "18", True, "plain"),  # accepted: true positive
    ("The answer is 17.", "18", False, "plain"),  # rejected, wrong answer: true negative
    ("The answer is 3 or 4.", "3", False, "hedge"),  # rejected, hedge: true negative
    ("The answer is XII.", "12", True, "roman"),  # rejected, no number (parse failure): false negative
    ("#### 5", "5", False, "lucky"),  # accepted, but the grader says the reasoning is wrong: false positive
    ("The answer is 7.", "8", True, "plain"),  # rejected, wrong answer: false negative
]


def write(path, rows) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def flat(rate: tuple) -> tuple:
    """(value, low, high) of a ``Counts.rates()`` entry."""
    return (rate[0], *rate[1])


@pytest.fixture
def labelled(tmp_path) -> str:
    rows = [{"completion": c, "ground_truth": g, "label": label, "category": k} for c, g, label, k in ROWS]
    return write(tmp_path / "labelled.jsonl", rows)


def test_wilson_and_newcombe_match_hand_computed_intervals():
    assert wilson(3, 4) == pytest.approx((0.3006, 0.9544), abs=1e-4)
    assert wilson(3, 6) == pytest.approx((0.1876, 0.8124), abs=1e-4)
    assert wilson(0, 2) == pytest.approx((0.0, 1.959964**2 / (2 + 1.959964**2)), abs=1e-6)  # 0.6576
    assert wilson(0, 0) is None
    # sensitivity 1/2 minus FPR 0/2 = 0.5: Newcombe's interval from the Wilson intervals [0.0945, 0.9055], [0, 0.6576]
    assert newcombe(1, 2, 0, 2) == pytest.approx((-0.2726, 0.9055), abs=1e-4)
    assert nearest_rank([5.0, 1.0, 3.0, 2.0, 4.0], 0.5) == 3.0 and nearest_rank([1.0, 9.0], 0.99) == 9.0


def test_agreement_rates_and_youden_on_a_hand_made_file(labelled, capsys):
    outcomes = audit(read_labelled(labelled), "gsm8k")
    assert [o.diagnosis.category for o in outcomes] == ["correct", "wrong", "hedge", "no_answer", "correct", "wrong"]
    counts = Counts.of(outcomes)
    assert counts == Counts(tp=1, fp=1, tn=2, fn=2)
    rates = counts.rates()
    assert flat(rates["agreement"]) == pytest.approx((3 / 6, 0.1876, 0.8124), abs=1e-4)
    assert flat(rates["false-positive rate"]) == pytest.approx((1 / 3, 0.0615, 0.7923), abs=1e-4)
    assert flat(rates["false-negative rate"]) == pytest.approx((2 / 3, 0.2077, 0.9385), abs=1e-4)
    # J = 1/3 - 1/3 = 0; Newcombe: +-sqrt((1/3 - 0.0615)^2 + (0.7923 - 1/3)^2) = +-0.5334
    assert flat(rates["Youden's J"]) == pytest.approx((0.0, -0.5334, 0.5334), abs=1e-4)

    assert cli.main(["verifier-audit", labelled, "--verifier", "gsm8k"]) == 0
    out = capsys.readouterr().out
    assert "6 rows, 6 scored, 0 unscored" in out
    assert re.search(r"agreement +50\.0% +\[18\.8%, 81\.2%\] +3/6", out)
    assert re.search(r"false-positive rate +33\.3% +\[6\.1%, 79\.2%\] +1/3 labelled wrong", out)
    assert re.search(r"false-negative rate +66\.7% +\[20\.8%, 93\.9%\] +2/3 labelled right", out)
    assert re.search(r"Youden's J +0\.000 +\[-0\.533, 0\.533\]", out)
    # parse failures are counted apart from wrong answers
    assert "rejected as a wrong answer 2, as a hedge 1, as a parse failure (no answer extracted) 1" in out
    assert "false negatives by cause: wrong answer 1, hedge 0, parse failure 1" in out
    assert re.search(r"\nplain +3 +66\.7% +0 +1 +0 +0\n", out)
    assert re.search(r"\nroman +1 +0\.0% +0 +1 +0 +1\n", out)
    assert re.search(r"latency per row: p50 [\d.]+ ms, p99 [\d.]+ ms \(n=6", out)


def test_rows_no_verifier_owns_are_counted_apart(tmp_path, capsys):
    rows = [{"completion": "The answer is 3.", "ground_truth": "3", "label": True, "dataset": "gsm8k"},
            {"completion": "x", "ground_truth": "3", "label": True, "dataset": "chess"}]  # fmt: skip
    assert cli.main(["verifier-audit", write(tmp_path / "v.jsonl", rows), "--verifier", "verifiable"]) == 0
    out = capsys.readouterr().out
    assert "2 rows, 1 scored, 1 unscored" in out and re.search(r"agreement +100\.0% .* 1/1", out)


@pytest.mark.parametrize(
    ("lines", "verifier", "message"),
    [
        (['{"completion": "a", "ground_truth": "1", "label": true}', '{"completion": "b", "ground_truth": "1"}'],
         "gsm8k", ":2: missing field 'label'"),
        (['', '{"completion": "a", "ground_truth": "1", "label": "true"}'], "gsm8k",
         """:2: 'label' must be true or false, got "true\""""),
        (['{"completion": "a", "ground_truth": "1", "label": 1}'], "gsm8k", ":1: 'label' must be true or false, got 1"),
        (['{"ground_truth": "1", "label": true}'], "gsm8k", ":1: missing field 'completion'"),
        (['{"completion": "a", "label": true}'], "math", ":1: missing field 'ground_truth'"),
        (['{"completion": "a", "ground_truth": "1", "label": true'], "gsm8k", ":1: not valid JSON"),
        (['["a", "1", true]'], "gsm8k", ":1: expected a JSON object, got list"),
        (['{"completion": "a", "ground_truth": "1", "label": true}'], "verifiable", ":1: --verifier verifiable routes"),
        (['{"completion": "a", "ground_truth": "1", "label": true}'], "gsm9k", "unknown verifier 'gsm9k'"),
        ([''], "gsm8k", ": no labelled rows"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, lines, verifier, message):
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(SystemExit) as err:
        cli.main(["verifier-audit", str(path), "--verifier", verifier])
    assert err.value.code == 2
    stderr = capsys.readouterr().err
    assert message in stderr and stderr.startswith("error: ") and stderr.count("\n") == 1


def test_missing_file_and_missing_option(tmp_path, capsys):
    for argv in ([str(tmp_path / "nope.jsonl"), "--verifier", "math"], [str(tmp_path / "nope.jsonl")]):
        with pytest.raises(SystemExit) as err:
            cli.main(["verifier-audit", *argv])
        assert err.value.code == 2
    err_text = capsys.readouterr().err
    assert "nope.jsonl: no such file" in err_text and "the following arguments are required: --verifier" in err_text


def test_shipped_example_is_rebuilt_by_its_script_and_audits(repo_root, capsys):
    script = repo_root / "recipes" / "examples" / "make_verifier_audit.py"
    spec = importlib.util.spec_from_file_location("make_verifier_audit", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    shipped = repo_root / "recipes" / "examples" / "verifier_audit.jsonl"
    assert module.render() == shipped.read_text(encoding="utf-8")
    assert cli.main(["verifier-audit", str(shipped), "--verifier", "verifiable"]) == 0
    out = capsys.readouterr().out
    assert "54 rows, 54 scored" in out and re.search(r"false-positive rate +0\.0% .* 0/25 labelled wrong", out)
