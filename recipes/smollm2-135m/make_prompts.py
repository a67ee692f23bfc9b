"""Build the SmolLM2 RLVR prompts: short writing requests + one IFEval constraint each; train, dev and held-out.

    python recipes/smollm2-135m/make_prompts.py            # rewrites data/rlvr_train.jsonl, dev.jsonl, heldout.jsonl

Constraints come from the bundled catalog (tulu_recipes/generation/templates/ifeval_constraints.json), restricted
to those a ~64-token answer can satisfy (no 300-word or 5-paragraph demands: CPU rollouts are short). Topics are
our own; the three splits share no topic (and no topic word), so dev and held-out accuracy measure the constraint
skill, not memorized prompts. Dev (300 prompts, 20 topics) is for tuning decisions; held-out (600 prompts, 40
topics) only for the final table. The constraint mix and forms are the same in every split; the held-out topics
are the original 10 plus 30 added when the set grew from 100 to 600 prompts. Every split has its own seed, so
the files are rebuilt byte for byte. Rows are in the RLVR format (`messages`, `ground_truth` JSON,
`dataset: ifeval`).
"""

from __future__ import annotations

import argparse
import json
import random
import re
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
    # added with the 600-prompt held-out set (10 topics repeat each one 60 times)
    "a fishing village", "penguins", "a hot air balloon", "a broken umbrella", "a pottery class", "a tree house",
    "an old map", "a vegetable soup", "a windmill", "a grandmother's quilt", "a sleepy cat", "an airport",
    "a spider web", "a sandcastle", "a haunted house", "a lemonade stand", "a robot helper", "a wooden bridge",
    "a wheat field", "a dragonfly", "a street parade", "an ice rink", "a bus ride", "a candle", "a treasure chest",
    "a rooftop view", "a cactus", "a foggy harbor", "an owl", "a puppet show",
]  # fmt: skip
DEV_TOPICS = [
    "a goldfish", "a sunflower", "a tractor", "a lantern", "a snail", "a jigsaw puzzle", "a canoe trip",
    "a spinning top", "a chocolate cake", "a parrot", "a knitting circle", "a glass jar", "a red scarf",
    "a stone well", "a bamboo forest", "a pet hamster", "a marble statue", "a hiking boot", "a pumpkin patch",
    "a sewing machine",
]  # fmt: skip
# name, topics, prompts, seed (train and its seed are unchanged since the first release of this recipe)
SPLITS = [
    ("rlvr_train", TRAIN_TOPICS, 512, 1),
    ("heldout", HELDOUT_TOPICS, 600, 2),
    ("dev", DEV_TOPICS, 300, 3),
]


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


def topic_words(topics: list[str]) -> set[str]:
    """The content words of some topics (articles and prepositions dropped)."""
    return {w for t in topics for w in re.findall(r"[a-z']+", t.lower())} - {"a", "an", "the", "at", "of", "to"}


def shared_topics() -> list[str]:
    """Topics or topic words that two splits share; empty when the splits are disjoint."""
    shared = []
    for i, (a, ta, _, _) in enumerate(SPLITS):
        for b, tb, _, _ in SPLITS[i + 1 :]:
            both = (set(ta) & set(tb)) | (topic_words(ta) & topic_words(tb))
            shared += [f"{a}/{b}: {w}" for w in sorted(both)]
    return shared


def write_splits(data: Path) -> list[Path]:
    if shared_topics():
        raise SystemExit(f"error: splits share topics: {', '.join(shared_topics())}")
    data.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, topics, n, seed in SPLITS:
        paths.append(data / f"{name}.jsonl")
        with open(paths[-1], "w", encoding="utf-8") as fh:
            for row in rows(topics, n, seed):
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "data", help="output folder")
    for path in write_splits(parser.parse_args(argv).out):
        print(path)


if __name__ == "__main__":
    main()
