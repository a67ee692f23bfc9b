"""SFT: the Tülu sum loss equals a hand-computed summed cross-entropy, whatever the gradient accumulation."""

from __future__ import annotations

import json

import pytest
import torch
from datasets import Dataset
from transformers import AutoModelForCausalLM, AutoTokenizer

from tulu_recipes.chat_templates import load_chat_template
from tulu_recipes.stages import sft as sft_stage
from tulu_recipes.trainers.sft import TuluSFTConfig, TuluSFTTrainer

ROWS = [
    [
        {"role": "user", "content": "Mia has 3 pens and finds 4 more. How many pens does Mia have now?"},
        {"role": "assistant", "content": "3 + 4 = 7. The answer is 7."},
    ],
    [
        {"role": "user", "content": "Tom has 12 eggs and gives away 5. How many eggs does Tom have left?"},
        {"role": "assistant", "content": "12 - 5 = 7. The answer is 7."},
    ],
    [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "4"},
        {"role": "user", "content": "and 3+3?"},
        {"role": "assistant", "content": "The answer is 6."},
    ],
    [{"role": "user", "content": "Say hi."}, {"role": "assistant", "content": "hi"}],
]


def tokenizer_for(tiny_base):
    tok = AutoTokenizer.from_pretrained(tiny_base)
    tok.chat_template = load_chat_template("tulu").training
    return tok


def hand_gradient(tiny_base) -> dict[str, torch.Tensor]:
    """Sum of -log p over the assistant tokens (content + EOS) of all four rows, divided by 4 sequences."""
    tok = tokenizer_for(tiny_base)
    model = AutoModelForCausalLM.from_pretrained(tiny_base)
    model.train()
    total = 0.0
    for messages in ROWS:
        enc = tok.apply_chat_template(messages, return_assistant_tokens_mask=True, return_dict=True)
        ids = torch.tensor([enc["input_ids"]])
        mask = torch.tensor(enc["assistant_masks"], dtype=torch.bool)
        logp = torch.log_softmax(model(input_ids=ids).logits[0].float(), dim=-1)
        token_logp = logp[:-1].gather(1, ids[0, 1:, None])[:, 0]
        total = total + (-token_logp[mask[1:]]).sum()
    (total / len(ROWS)).backward()
    return {n: p.grad.detach().clone() for n, p in model.named_parameters()}


def trainer_update(tiny_base, tmp_path, batch: int, accumulation: int, reduction: str) -> dict[str, torch.Tensor]:
    """One SGD step with lr 1 and no clipping: the parameter change is minus the gradient the trainer used."""
    args = TuluSFTConfig(
        output_dir=str(tmp_path / f"{reduction}-{batch}x{accumulation}"),
        per_device_train_batch_size=batch,
        gradient_accumulation_steps=accumulation,
        loss_reduction=reduction,
        max_steps=1,
        learning_rate=1.0,
        optim="sgd",
        lr_scheduler_type="constant",
        warmup_steps=0,
        max_grad_norm=0.0,
        max_length=256,
        use_cpu=True,
        bf16=False,
        activation_checkpointing=False,
        report_to="none",
        save_strategy="no",
        disable_tqdm=True,
    )
    model = AutoModelForCausalLM.from_pretrained(tiny_base)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    trainer = TuluSFTTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_dict({"messages": ROWS}),
        processing_class=tokenizer_for(tiny_base),
    )
    trainer.train()
    return {n: before[n] - p.detach() for n, p in trainer.model.named_parameters()}


def max_relative_error(got: dict[str, torch.Tensor], want: dict[str, torch.Tensor]) -> float:
    num = max((got[n] - want[n]).abs().max().item() for n in want)
    den = max(want[n].abs().max().item() for n in want)
    return num / den


@pytest.fixture(scope="module")
def hand(tiny_base):
    return hand_gradient(tiny_base)


@pytest.mark.parametrize(("batch", "accumulation"), [(4, 1), (1, 4), (2, 2)])
def test_sum_loss_matches_hand_computed_gradient(tiny_base, tmp_path, hand, batch, accumulation):
    got = trainer_update(tiny_base, tmp_path, batch, accumulation, "sum")
    assert max_relative_error(got, hand) < 1e-4


def test_mean_reduction_is_a_different_gradient(tiny_base, tmp_path, hand):
    """TRL's token mean divides by the token count (~40 here), not by 4 sequences: the check above can fail."""
    got = trainer_update(tiny_base, tmp_path, 4, 1, "mean")
    assert max_relative_error(got, hand) > 0.5


def test_quickstart_sft_trains_and_saves_template(tmp_path, quickstart_dir):
    out = tmp_path / "sft"
    trainer = sft_stage.main(
        [
            str(quickstart_dir / "sft.yaml"),
            "--output_dir",
            str(out),
            "--max_steps",
            "40",
            "--logging_steps",
            "4",
            "--disable_tqdm",
            "true",
        ]
    )
    losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    assert len(losses) >= 10
    assert sum(losses[-3:]) / 3 < 0.5 * sum(losses[:3]) / 3  # loss goes down
    tok = AutoTokenizer.from_pretrained(out)
    assert tok.chat_template == load_chat_template("tulu").inference
    assert (out / "model.safetensors").exists()
    recipe = (out / "recipe.yaml").read_text()
    assert "loss_reduction: sum" in recipe and "max_steps: 40" in recipe
    assert "## Recipe" in (out / "README.md").read_text()
    mixture = json.loads((out / "mixture.json").read_text())
    assert mixture["train_rows"] == 6000


def test_evaluation_loss_is_the_token_mean_under_the_sum_loss(tiny_base, tmp_path):
    """The sum loss is a training rule (it scales gradients per optimizer step); evaluation reports the plain
    per-token cross-entropy, so eval losses compare across recipes: here the mean -log p over the assistant tokens
    of the four rows, in one batch."""
    tok = tokenizer_for(tiny_base)
    model = AutoModelForCausalLM.from_pretrained(tiny_base)
    total, count = 0.0, 0
    with torch.no_grad():
        for messages in ROWS:
            enc = tok.apply_chat_template(messages, return_assistant_tokens_mask=True, return_dict=True)
            ids = torch.tensor([enc["input_ids"]])
            mask = torch.tensor(enc["assistant_masks"], dtype=torch.bool)[1:]
            logp = torch.log_softmax(model(input_ids=ids).logits[0].double(), dim=-1)[:-1]
            total += -logp.gather(1, ids[0, 1:, None])[:, 0][mask].sum().item()
            count += int(mask.sum())
    args = TuluSFTConfig(
        output_dir=str(tmp_path / "eval"),
        per_device_eval_batch_size=4,
        loss_reduction="sum",
        max_length=256,
        use_cpu=True,
        bf16=False,
        report_to="none",
        disable_tqdm=True,
    )
    trainer = TuluSFTTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_dict({"messages": ROWS}),
        eval_dataset=Dataset.from_dict({"messages": ROWS}),
        processing_class=tok,
    )
    assert trainer.evaluate()["eval_loss"] == pytest.approx(total / count, rel=1e-5)
