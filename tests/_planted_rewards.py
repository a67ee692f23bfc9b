"""A reward planted by the active-sampling tests: the row's ground truth decides whether its group has spread."""


def planted(prompts, completions, ground_truth, **kwargs):
    """`solved` rows score 10, `failed` rows 0, `mixed` rows 10 and 0 by turns (a group of even size: both),
    `partial` rows 10 and unscored (None) by turns: spread only if the unscored ones were counted."""
    out = []
    for i, gold in enumerate(ground_truth):
        if gold == "partial":
            out.append(None if i % 2 == 0 else 10.0)
        else:
            out.append(10.0 if gold == "solved" else 0.0 if gold == "failed" else 10.0 * (i % 2 == 0))
    return out
