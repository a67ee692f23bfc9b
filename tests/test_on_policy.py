"""On-policy DPO pairs for the quickstart: verifier-judged samples binarized by build_preference_pair."""

from __future__ import annotations

import json

from tulu_recipes.quickstart.on_policy import build_pairs, main, sample_completions

ROWS = [
    {
        "messages": [{"role": "user", "content": "Mia has 2 pens and finds 3 more. How many pens?"}],
        "ground_truth": "5",
        "dataset": "gsm8k",
    },
    {
        "messages": [{"role": "user", "content": "Tom has 9 eggs and gives away 4. How many are left?"}],
        "ground_truth": "5",
        "dataset": "gsm8k",
    },
    {
        "messages": [{"role": "user", "content": "Ada has 7 cards and loses 2. How many are left?"}],
        "ground_truth": "5",
        "dataset": "gsm8k",
    },
]


def test_pairs_put_a_verified_answer_over_a_wrong_one():
    samples = [
        ["2 + 3 = 5. The answer is 5.", "2 + 3 = 6. The answer is 6.", "The answer is 1."],  # mixed -> pair
        ["9 - 4 = 5. The answer is 5.", "The answer is 5."],  # all correct -> no pair
        ["The answer is 4.", "no idea"],  # all wrong -> no pair
    ]
    pairs, accuracy = build_pairs(ROWS, samples, "gsm8k", seed=0, model_name="sft")
    assert accuracy == 3 / 7
    assert len(pairs) == 1
    pair = pairs[0]
    assert pair["chosen"] == ROWS[0]["messages"] + [{"role": "assistant", "content": "2 + 3 = 5. The answer is 5."}]
    assert pair["rejected"][:-1] == ROWS[0]["messages"]
    assert pair["rejected"][-1]["content"] in samples[0][1:]
    assert (pair["chosen_rating"], pair["rejected_rating"], pair["chosen_model"]) == (1.0, 0.0, "sft")


def test_sampling_gives_distinct_samples_per_prompt(tiny_base, capsys):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    model, tok = AutoModelForCausalLM.from_pretrained(tiny_base), AutoTokenizer.from_pretrained(tiny_base)
    out = sample_completions(model, tok, [r["messages"] for r in ROWS], samples=4, temperature=1.0, max_new_tokens=6)
    assert [len(s) for s in out] == [4, 4, 4]
    assert len(set(out[0])) > 1  # temperature 1 on a random model: the samples differ
    bar = capsys.readouterr().err  # the tqdm progress bar over the prompts
    assert "on-policy samples" in bar and "3/3" in bar


def test_cli_writes_pairs_and_a_dpo_recipe_that_reads_them(tmp_path, tiny_base, quickstart_dir, monkeypatch):
    import tulu_recipes.quickstart.on_policy as on_policy

    # The random tiny model never answers right: stand in for its samples by right/wrong answers by sample length.
    def fake_build(rows, completions, reward, seed, model_name):
        scored = [[len(t) % 2 == 0 for t in texts] for texts in completions]
        fake = [[("The answer is 5." if ok else "The answer is 0.") for ok in s] for s in scored]
        return build_pairs(rows, fake, reward, seed, model_name)

    monkeypatch.setattr(on_policy, "build_pairs", fake_build)
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    out = tmp_path / "pairs.jsonl"
    stats = main(
        [
            str(tiny_base),
            str(prompts),
            str(out),
            "--samples",
            "6",
            "--max-new-tokens",
            "5",
            "--dpo-recipe",
            str(quickstart_dir / "dpo.yaml"),
            "--write-recipe",
            str(tmp_path / "dpo.yaml"),
        ]
    )
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert stats.prompts == 3 and stats.pairs == len(rows) >= 1
    from trl import ModelConfig

    from tulu_recipes.config import parse_recipe
    from tulu_recipes.script_args import TuluScriptArguments
    from tulu_recipes.trainers.dpo import TuluDPOConfig

    script, args, _ = parse_recipe([TuluScriptArguments, TuluDPOConfig, ModelConfig], [str(tmp_path / "dpo.yaml")])
    assert script.mixture_sources() == [{"path": str(out.resolve()), "fraction": 1.0}]
    assert args.loss_type == ["sigmoid_norm"] and args.beta == 5.0  # everything else is the shipped recipe
