"""Registry and ``load_reward``: TRL contract, dispatch by dataset, plug-ins, options."""

from __future__ import annotations

import json
import pickle

import pytest

from rewards import REGISTRY, load_reward, register


def test_builtin_names_and_trl_contract():
    for name in ("gsm8k", "math", "ifeval", "verifiable"):
        fn = load_reward(name)
        assert fn.__name__ == name
    gsm = load_reward("GSM8K")
    out = gsm(
        prompts=["q1", "q2"],
        completions=["The answer is 18.", "The answer is 17."],
        ground_truth=["18", "18"],
        dataset=["gsm8k", "gsm8k"],
        trainer_state=None,
    )
    assert out == [10.0, 0.0]
    assert all(isinstance(x, float) for x in out)


def test_value_option_and_chat_messages():
    fn = load_reward("math", value=1.5)
    chats = [
        [{"role": "assistant", "content": "so $x = \\boxed{\\frac{1}{2}}$"}],
        [{"role": "user", "content": "\\boxed{3}"}, {"role": "assistant", "content": "\\boxed{4}"}],
    ]
    assert fn(None, chats, ground_truth=["0.5", "3"]) == [1.5, 0.0]  # the last assistant turn is judged


def test_verifiable_dispatches_by_dataset_and_returns_none_for_unknown():
    fn = load_reward("verifiable")
    ifeval_gt = json.dumps({"func_name": "validate_lowercase"})
    completions = ["The answer is 18.", "\\boxed{2}", "all lower case here", "ALL UPPER", "whatever", "#### 7"]
    truths = ["18", "\\frac{4}{2}", ifeval_gt, ifeval_gt, "x", "7"]
    datasets = ["gsm8k", "MATH", "ifeval", "IFEval", "code_contests", None]
    assert fn(None, completions, ground_truth=truths, dataset=datasets) == [10.0, 10.0, 10.0, 0.0, None, None]
    # without a dataset column no row is owned
    assert fn(None, ["#### 7"], ground_truth=["7"]) == [None]


def test_verifiable_never_routes_a_row_to_itself():
    """A row labelled `verifiable` names no verifier of its own: it is not owned (None), rather than dispatched back
    into the dispatcher, and the other rows of the batch are still judged."""
    fn = load_reward("verifiable")
    datasets = ["verifiable", "gsm8k", " Verifiable "]
    out = fn(None, ["#### 7", "#### 7", "#### 8"], ground_truth=["7", "7", "7"], dataset=datasets)
    assert out == [None, 10.0, None]


def test_plugin_module_function_runs_in_the_pool():
    fn = load_reward("operator:contains", value=2.0)  # contains(completion, gold) -> gold in completion
    assert fn.__name__ == "contains"
    assert fn(None, ["abc", "xyz"], ground_truth=["b", "q"]) == [2.0, 0.0]


def test_plugin_errors_name_the_module_or_function():
    with pytest.raises(ImportError, match="no_such_module_xyz"):
        load_reward("no_such_module_xyz:verify")
    with pytest.raises(AttributeError, match="no_such_function"):
        load_reward("operator:no_such_function")
    with pytest.raises(KeyError, match="unknown reward"):
        load_reward("nope")


def test_register_once():
    @register("test-only-verifier")
    def _batch(texts, truths, *, columns, options):
        return [t == g for t, g in zip(texts, truths, strict=True)]

    try:
        with pytest.raises(ValueError, match="already registered"):
            register("TEST-only-verifier")(_batch)
        assert load_reward("test-only-verifier")(None, ["a", "b"], ground_truth=["a", "a"]) == [10.0, 0.0]
    finally:
        del REGISTRY["test-only-verifier"]


def test_missing_ground_truth_is_a_clear_error_and_pickling_keeps_options():
    fn = load_reward("gsm8k", value=3.0)
    with pytest.raises(ValueError, match="ground_truth"):
        fn(None, ["1"])
    clone = pickle.loads(pickle.dumps(fn))
    assert clone.__name__ == "gsm8k"
    assert clone(None, ["#### 1"], ground_truth=["1"]) == [3.0]
