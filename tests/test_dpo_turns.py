"""Multi-turn DPO: `preference_turns: all` (the release) and `final` (TRL) against a float64 hand computation.

The hand computation shares nothing with the trainer: the trained tokens come from transformers' assistant mask
under the marked training template (content + EOS of each assistant turn), the log-probs from a float64 forward
pass and log_softmax, and the loss from the paper's formula (recipe doc §3.1).
"""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from datasets import Dataset
from trl import ModelConfig

from tulu_recipes.chat_templates import load_chat_template
from tulu_recipes.data.normalize import normalize
from tulu_recipes.stages.loading import load_model, load_tokenizer
from tulu_recipes.trainers import ref_cache
from tulu_recipes.trainers.dpo import TuluDPOConfig, TuluDPOTrainer

BETA = 5.0
pytestmark = pytest.mark.usefixtures("one_torch_thread")

# Two multi-turn pairs in the Tülu format (full conversations sharing every message but the last) and one
# single-turn pair, on which both settings must agree.
CONVERSATIONS = [
    (
        [
            {"role": "system", "content": "You add numbers."},
            {"role": "user", "content": "What is 2 + 2?"},
            {"role": "assistant", "content": "2 + 2 = 4. The answer is 4."},
            {"role": "user", "content": "And 4 + 3?"},
        ],
        "4 + 3 = 7. The answer is 7.",
        "4 - 3 = 1. The answer is 1.",
    ),
    (
        [
            {"role": "user", "content": "Say hi."},
            {"role": "assistant", "content": "hi"},
            {"role": "user", "content": "There are 6 cards and Zoe adds 4. How many cards?"},
            {"role": "assistant", "content": "6 + 4 = 10."},
            {"role": "user", "content": "Now 2 more?"},
        ],
        "10 + 2 = 12. The answer is 12.",
        "I do not know.",
    ),
    ([{"role": "user", "content": "What is 5 + 1?"}], "5 + 1 = 6.", "5 + 1 = 7, I think."),
]


def tulu_rows() -> list[dict]:
    return [
        {
            "chosen": [*prompt, {"role": "assistant", "content": good}],
            "rejected": [*prompt, {"role": "assistant", "content": bad}],
        }
        for prompt, good, bad in CONVERSATIONS
    ]


@pytest.fixture(scope="module")
def tokenizer(tiny_base):
    return load_tokenizer(ModelConfig(model_name_or_path=str(tiny_base)), load_chat_template("tulu"), training=False)


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    """What the DPO stage trains on: the Tülu-format rows through the project's normalizer."""
    return normalize(Dataset.from_list(tulu_rows()), "preference", "multi-turn").remove_columns("source")


def base_model(tiny_base, tokenizer):
    torch.manual_seed(0)
    return load_model(ModelConfig(model_name_or_path=str(tiny_base), dtype="float32"), tokenizer)


def perturb(model: torch.nn.Module, scale: float = 0.05) -> None:
    gen = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(scale * torch.randn(p.shape, generator=gen))


def hand_side(policy, reference, tokenizer, conversation: list[dict], turns: str) -> torch.Tensor:
    """β(ℓ̄θ − ℓ̄ref) of one side in float64; ℓ̄ averages over all assistant turns or only the final one."""
    training = load_chat_template("tulu").training
    rendered = tokenizer.apply_chat_template(
        conversation, chat_template=training, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    plain = tokenizer.apply_chat_template(conversation, tokenize=True, return_dict=True)["input_ids"]
    assert rendered["input_ids"] == plain  # the marked template renders the same tokens
    ids, mask = torch.tensor(rendered["input_ids"]), torch.tensor(rendered["assistant_masks"], dtype=torch.bool)
    if turns == "final":  # keep only the last run of assistant tokens
        last_gap = (~mask).nonzero().max().item()
        mask[: last_gap + 1] = False
    values = []
    for model in (policy, reference):
        with torch.no_grad():
            logits = model(input_ids=ids[None]).logits[0].double()
        token_logps = F.log_softmax(logits[:-1], dim=-1).gather(1, ids[1:, None])[:, 0]
        values.append(token_logps[mask[1:]].sum() / mask.sum())
    return BETA * (values[0] - values[1])


def hand_loss(policy, reference, tokenizer, turns: str) -> torch.Tensor:
    policy64, reference64 = copy.deepcopy(policy).double().eval(), copy.deepcopy(reference).double().eval()
    margins = [
        hand_side(policy64, reference64, tokenizer, row["chosen"], turns)
        - hand_side(policy64, reference64, tokenizer, row["rejected"], turns)
        for row in tulu_rows()
    ]
    return -F.logsigmoid(torch.stack(margins))


def make_trainer(tmp_path, tiny_base, tokenizer, dataset, turns: str) -> tuple[TuluDPOTrainer, torch.nn.Module]:
    model = base_model(tiny_base, tokenizer)
    reference = copy.deepcopy(model).eval()
    args = TuluDPOConfig(
        output_dir=str(tmp_path / turns),
        ref_logprobs_cache_dir=str(tmp_path / "ref_cache"),  # shared: the setting must keep the entries apart
        preference_turns=turns,
        use_cpu=True,
        bf16=False,
        report_to="none",
        per_device_train_batch_size=len(dataset),
        max_length=256,
        gradient_checkpointing=False,
        disable_tqdm=True,
    )
    trainer = TuluDPOTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer)
    perturb(trainer.model)  # the reference log-probs were cached from the unperturbed model at init
    return trainer, reference


def per_pair_loss(trainer) -> torch.Tensor:
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(len(trainer.train_dataset))])
    chosen, rejected = trainer.normalized_rewards(batch, *_token_logps(trainer, batch))
    return -F.logsigmoid((chosen - rejected).double()), trainer.compute_loss(trainer.model, batch).item()


def _token_logps(trainer, batch):
    labels = batch["input_ids"].masked_fill(batch["completion_mask"] == 0, -100)
    with torch.no_grad():
        out = trainer.model(
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=labels, fused_lm_head=True
        )
    return out.log_probs, None


def test_default_is_the_release():
    assert TuluDPOConfig(output_dir="unused", use_cpu=True, bf16=False).preference_turns == "all"


@pytest.mark.parametrize("turns", ["all", "final"])
def test_loss_counts_the_chosen_assistant_turns_as_computed_by_hand(tmp_path, tiny_base, tokenizer, dataset, turns):
    trainer, reference = make_trainer(tmp_path, tiny_base, tokenizer, dataset, turns)
    trainer.model.train()
    pairs, loss = per_pair_loss(trainer)
    expected = hand_loss(trainer.model, reference, tokenizer, turns)
    other = hand_loss(trainer.model, reference, tokenizer, "final" if turns == "all" else "all")

    # fp32 log-probs summed over < 100 tokens: relative error well under 1e-5 of the float64 loss.
    assert loss == pytest.approx(expected.mean().item(), rel=1e-5)
    assert pairs.tolist() == pytest.approx(expected.tolist(), rel=1e-5)
    # The settings differ on both multi-turn pairs by far more than the tolerance, and agree on the single turn.
    assert (expected[:2] - other[:2]).abs().min().item() > 1e-3
    assert expected[2].item() == pytest.approx(other[2].item(), rel=1e-9)


def test_the_reference_cache_key_includes_the_setting(tmp_path, tiny_base, tokenizer, dataset):
    first, _ = make_trainer(tmp_path, tiny_base, tokenizer, dataset, "all")
    second, _ = make_trainer(tmp_path, tiny_base, tokenizer, dataset, "final")
    keys = [ref_cache.cache_key(t.ref_cache_parts(t.train_dataset)) for t in (first, second)]
    assert keys[0] != keys[1]
    assert sorted(p.stem for p in (tmp_path / "ref_cache").glob("*.pt")) == sorted(keys)
    # The multi-turn pairs' cached reference sums differ (more tokens under `all`); the single-turn one is equal.
    chosen = [torch.tensor(t.train_dataset["ref_chosen_logps"]) for t in (first, second)]
    assert (chosen[0][:2] < chosen[1][:2] - 1.0).all()
    assert chosen[0][2].item() == pytest.approx(chosen[1][2].item(), rel=1e-6)


@pytest.mark.parametrize("mode", ["keep_start", "keep_end"])
def test_turn_masks_are_truncated_like_the_token_ids(mode):
    """A multi-turn pair longer than `max_length`: the per-token masks are cut on the same side as TRL cuts the
    ids. Masks 0,1,0,1,... and ids 100,101,... let the kept window be read off: the mask at a kept position must be
    the one of that position's id."""
    from tulu_recipes.trainers.dpo import TurnMaskCollator

    prompt, chosen, rejected = list(range(100, 106)), list(range(106, 110)), list(range(106, 109))
    alternating = lambda n: [i % 2 for i in range(n)]  # noqa: E731
    example = {
        "prompt_ids": prompt,
        "chosen_ids": chosen,
        "rejected_ids": rejected,
        "chosen_loss_mask": alternating(10),
        "rejected_loss_mask": alternating(9),
    }
    out = TurnMaskCollator(pad_token_id=0, max_length=7, truncation_mode=mode)([example])
    for row in range(2):
        ids = out["input_ids"][row][out["attention_mask"][row].bool()].tolist()
        assert len(ids) == 7
        assert ids[0] == (100 if mode == "keep_start" else (103 if row == 0 else 102))
        assert out["completion_mask"][row, :7].tolist() == [(i - 100) % 2 for i in ids]


@pytest.mark.parametrize("turns", ["all", "final"])
def test_long_prompts_are_kept_while_they_have_trained_tokens(tmp_path, tiny_base, tokenizer, dataset, turns):
    """A window that ends inside the multi-turn prompts: TRL (`final`) drops every row whose prompt fills it; with
    every assistant turn trained (`all`, the release) a row stays while both sides have a trained token in it."""
    training = load_chat_template("tulu").training

    def mask(conversation: list[dict]) -> list[int]:
        rendered = tokenizer.apply_chat_template(
            conversation, chat_template=training, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
        )
        return rendered["assistant_masks"]

    rows = tulu_rows()
    first_trained = mask(rows[0]["chosen"]).index(1)
    window = first_trained + 3
    prompt_lengths = [
        len(tokenizer.apply_chat_template(r["chosen"][:-1], tokenize=True, add_generation_prompt=True, return_dict=True)
            ["input_ids"])
        for r in rows
    ]  # fmt: skip
    assert prompt_lengths[0] >= window and prompt_lengths[1] >= window  # TRL would drop both multi-turn pairs
    if turns == "all":
        trains = [any(mask(r["chosen"])[:window]) and any(mask(r["rejected"])[:window]) for r in rows]
        expected = [i for i, ok in enumerate(trains) if ok]
    else:
        expected = [i for i, n in enumerate(prompt_lengths) if n < window]
    args = TuluDPOConfig(
        output_dir=str(tmp_path / turns), preference_turns=turns, max_length=window, use_cpu=True, bf16=False,
        report_to="none", precompute_ref_log_probs=False, gradient_checkpointing=False, disable_tqdm=True,
    )  # fmt: skip
    trainer = TuluDPOTrainer(
        model=base_model(tiny_base, tokenizer), args=args, train_dataset=dataset, processing_class=tokenizer
    )
    kept = [trainer.train_dataset[i]["chosen_ids"] for i in range(len(trainer.train_dataset))]
    assert len(kept) == len(expected)
    if turns == "all":
        assert 0 in expected  # the first pair's early assistant turn lies in the window: trained, as the release did
