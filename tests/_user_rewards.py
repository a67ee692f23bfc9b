"""Reward functions a user might plug in with `reward_funcs: [module:function]` (used by the tests)."""


def length_reward(prompts, completions, **kwargs):
    return [float(len(c)) for c in completions]


def flaky_reward(prompts, completions, ground_truth, **kwargs):
    """Raises on rows whose ground truth is 'boom'; returns NaN for 'nan'."""
    out = []
    for completion, gold in zip(completions, ground_truth, strict=True):
        if gold == "boom":
            raise RuntimeError("user bug")
        out.append(float("nan") if gold == "nan" else float(completion == gold))
    return out


def always_raises(prompts, completions, **kwargs):
    raise KeyError("broken")
