"""Build the SmolLM2 RLVR prompts: short writing requests + one IFEval constraint each, train and held-out split.

    python recipes/smollm2-135m/make_prompts.py            # rewrites data/rlvr_train.jsonl and data/heldout.jsonl

Constraints come from the bundled catalog (tulu_recipes/generation/templates/ifeval_constraints.json), restricted
to those a ~64-token answer can satisfy (no 300-word or 5-paragraph demands: CPU rollouts are short). Topics are
our own; the held-out topics never appear in training, so held-out accuracy measures the constraint skill, not
memorized prompts. Rows are in the RLVR format (`messages`, `ground_truth` JSON, `dataset: ifeval`).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from tulu_recipes.generation.constraints import load_catalog, sample_constraint

SHORT_ANSWER_CONSTRAINTS = {
    "verify_keywords", "validate_forbidden_words", "verify_postscript", "validate_placeholders",
    "verify_bullet_points", "validate_title", "validate_choice", "validate_highlighted_sections",
    "validate_json_format", "validate_uppercase", "validate_lowercase", "validate_end", "validate_quotation",
    "validate_no_commas", "validate_two_responses",
}  # fmt: skip
FORMS = ["a short note", "two sentences", "a brief description", "a short answer", "a tiny story", "a short tip"]
TRAIN_TOPICS = [
    "the ocean", "a rainy day", "coffee", "bicycles", "the moon", "a library", "winter", "gardening", "trains",
    "a lost key", "mountains", "music practice", "a birthday party", "bread baking", "the city at night",
    "a friendly dog", "recycling", "a science fair", "chess", "the first day of school", "a picnic", "kites",
    "a thunderstorm", "fresh fruit", "a museum visit", "learning to swim", "a quiet morning", "camping",
    "a letter to a friend", "the stars",
]  # fmt: skip
HELDOUT_TOPICS = [
    "a lighthouse", "honey bees", "an old clock", "a snowman", "a market stall", "a paper boat", "volcanoes",
    "a violin", "a desert road", "autumn leaves",
]  # fmt: skip


def rows(topics: list[str], n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    catalog = [e for e in load_catalog() if e["func_name"] in SHORT_ANSWER_CONSTRAINTS]
    out = []
    for _ in range(n):
        ground_truth, instruction = sample_constraint(rng, catalog)
        request = f"Write {rng.choice(FORMS)} about {rng.choice(topics)}."
        content = f"{request} {instruction}"
        out.append(
            {
                "messages": [{"role": "user", "content": content}],
                "ground_truth": json.dumps(ground_truth, ensure_ascii=False),
                "dataset": "ifeval",
            }
        )
    return out


def main() -> None:
    assert not set(TRAIN_TOPICS) & set(HELDOUT_TOPICS)
    data = Path(__file__).resolve().parent / "data"
    data.mkdir(exist_ok=True)
    for name, topics, n, seed in [("rlvr_train", TRAIN_TOPICS, 512, 1), ("heldout", HELDOUT_TOPICS, 100, 2)]:
        with open(data / f"{name}.jsonl", "w", encoding="utf-8") as fh:
            for row in rows(topics, n, seed):
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
