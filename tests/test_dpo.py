"""Length-normalized DPO: the trainer's loss and logged rewards against the paper's formula computed by hand.

The hand computation uses nothing of TRL: a plain forward pass, log_softmax, and response masks derived here from
the rendered Tülu template (the tokens after `<|assistant|>\\n` are the answer's content plus EOS).
"""

from __future__ import annotations

import copy
import json
import math

import pytest
import torch
import torch.nn.functional as F
from datasets import Dataset
from trl import ModelConfig

from tulu_recipes.chat_templates import load_chat_template
from tulu_recipes.stages.loading import load_model, load_tokenizer
from tulu_recipes.trainers.dpo import TuluDPOConfig, TuluDPOTrainer

BETA = 5.0
FP32_TOL = 2e-5  # see test_loss_and_normalized_rewards_match_hand_computation


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tokenizer(tiny_base):
    return load_tokenizer(ModelConfig(model_name_or_path=str(tiny_base)), load_chat_template("tulu"), training=False)


@pytest.fixture(scope="module")
def pairs(quickstart_dir) -> list[dict]:
    lines = (quickstart_dir / "data" / "preferences.jsonl").read_text(encoding="utf-8").splitlines()[:6]
    rows = [json.loads(line) for line in lines]
    # One multi-turn pair: under `preference_turns: final` only the final assistant turn is the completion (the
    # earlier one is prompt context); `all` is tested in test_dpo_turns.py.
    rows[5]["prompt"] = [
        {"role": "user", "content": "Say hi."},
        {"role": "assistant", "content": "hi"},
        *rows[5]["prompt"],
    ]
    return rows


def base_model(tiny_base, tokenizer):
    torch.manual_seed(0)
    return load_model(ModelConfig(model_name_or_path=str(tiny_base), dtype="float32"), tokenizer)


def perturb(model: torch.nn.Module, scale: float = 0.05) -> None:
    gen = torch.Generator().manual_seed(123)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(scale * torch.randn(p.shape, generator=gen))


def config(tmp_path, **kw) -> TuluDPOConfig:
    return TuluDPOConfig(
        output_dir=str(tmp_path / "out"),
        use_cpu=True,
        bf16=False,
        report_to="none",
        per_device_train_batch_size=len(kw.pop("_rows", [0] * 6)),
        max_length=kw.pop("max_length", 128),
        gradient_checkpointing=False,
        disable_tqdm=True,
        **kw,
    )


def response_mean_logps(model, tokenizer, prompt: list[dict], answer: list[dict], summed: bool = False) -> torch.Tensor:
    """ℓ̄ = mean log-prob of the answer's tokens (content + EOS) after the rendered prompt, from raw logits.

    `summed=True` gives the sum instead: the unnormalized DPO formula, which the test must tell apart.
    """
    prompt_text = tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=False)
    full_text = tokenizer.apply_chat_template(prompt + answer, tokenize=False)
    assert full_text == prompt_text + answer[0]["content"] + tokenizer.eos_token
    prompt_ids = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
    full_ids = tokenizer(full_text, add_special_tokens=False)["input_ids"]
    assert full_ids[: len(prompt_ids)] == prompt_ids
    response = full_ids[len(prompt_ids) :]
    assert tokenizer.decode(response) == answer[0]["content"] + tokenizer.eos_token
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([full_ids])).logits[0].double()
    logps = F.log_softmax(logits, dim=-1)
    positions = torch.arange(len(prompt_ids), len(full_ids))
    token_logps = logps[positions - 1, torch.tensor(response)]
    return token_logps.sum() if summed else token_logps.mean()


def hand_dpo_norm(policy, reference, tokenizer, rows, summed: bool = False) -> tuple[float, dict[str, float]]:
    """The paper's loss (batch mean) and the normalized rewards β(ℓ̄θ − ℓ̄ref), computed independently.

    Computed in float64 on float64 copies of both models, so the reference carries no fp32 rounding of its own
    and the tolerance below only has to cover the trainer's fp32 kernels.
    """
    policy = copy.deepcopy(policy).double().eval()
    reference = copy.deepcopy(reference).double().eval()
    chosen, rejected = [], []
    for row in rows:
        for out, answer in ((chosen, row["chosen"]), (rejected, row["rejected"])):
            out.append(
                BETA
                * (
                    response_mean_logps(policy, tokenizer, row["prompt"], answer, summed)
                    - response_mean_logps(reference, tokenizer, row["prompt"], answer, summed)
                )
            )
    c, r = torch.stack(chosen), torch.stack(rejected)
    loss = (-F.logsigmoid(c - r)).mean().item()
    rewards = {
        "rewards_norm/chosen": c.mean().item(),
        "rewards_norm/rejected": r.mean().item(),
        "rewards_norm/margins": (c - r).mean().item(),
        "rewards_norm/accuracies": (c > r).float().mean().item(),
    }
    return loss, rewards


def trainer_loss_and_logs(trainer, rows) -> tuple[float, dict[str, float]]:
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(len(rows))])
    trainer.model.train()  # dropout is disabled by the trainer; train mode only selects the "train" metrics
    with torch.no_grad():
        loss = trainer.compute_loss(trainer.model, batch).item()
    trainer.log({})
    return loss, trainer.state.log_history[-1]


def test_defaults_are_the_papers():
    args = TuluDPOConfig(output_dir="unused", use_cpu=True, bf16=False)
    assert args.loss_type == ["sigmoid_norm"]
    assert (args.beta, args.learning_rate, args.num_train_epochs, args.max_length) == (5.0, 5e-7, 1.0, 2048)
    assert (args.lr_scheduler_type, args.warmup_steps, args.weight_decay) == ("linear", 0.1, 0.0)
    assert args.precompute_ref_log_probs is True


@pytest.mark.parametrize("precompute", [True, False], ids=["cached-reference", "reference-model"])
def test_loss_and_normalized_rewards_match_hand_computation(tmp_path, tiny_base, tokenizer, pairs, precompute):
    model = base_model(tiny_base, tokenizer)
    reference = copy.deepcopy(model).eval()
    dataset = Dataset.from_list(pairs)
    if precompute:
        # The reference log-probs are computed from the untouched model at init; then the policy moves.
        trainer = TuluDPOTrainer(
            model=model,
            args=config(tmp_path, precompute_ref_log_probs=True, preference_turns="final"),
            train_dataset=dataset,
            processing_class=tokenizer,
        )
        assert trainer.ref_model is None
        perturb(trainer.model)
    else:
        perturb(model)
        trainer = TuluDPOTrainer(
            model=model,
            ref_model=copy.deepcopy(reference),
            args=config(tmp_path, precompute_ref_log_probs=False, preference_turns="final"),
            train_dataset=dataset,
            processing_class=tokenizer,
        )

    loss, logs = trainer_loss_and_logs(trainer, pairs)
    expected_loss, expected_rewards = hand_dpo_norm(trainer.model, reference, tokenizer, pairs)

    assert abs(expected_loss - math.log(2)) > 1e-2  # the policy really differs from the reference
    # fp32 log-probs of a few-token answer carry ~1e-6 of rounding, which β = 5 scales up; the kernels differ
    # across CPUs and thread counts, so 2e-5 (relative, and absolute for rewards near 0) fits fp32 while the
    # unnormalized formula (sums, not means) lands orders of magnitude away, as checked first.
    wrong_loss, wrong_rewards = hand_dpo_norm(trainer.model, reference, tokenizer, pairs, summed=True)
    assert abs(wrong_loss - expected_loss) > 100 * FP32_TOL
    assert abs(wrong_rewards["rewards_norm/margins"] - expected_rewards["rewards_norm/margins"]) > 100 * FP32_TOL
    assert loss == pytest.approx(expected_loss, rel=FP32_TOL, abs=FP32_TOL)
    for key, value in expected_rewards.items():
        assert logs[key] == pytest.approx(value, rel=FP32_TOL, abs=FP32_TOL), key
    # The margins are the loss's own argument, unlike TRL's β·(summed log-ratio) rewards.
    assert logs["rewards_norm/margins"] != pytest.approx(logs["rewards/margins"], abs=1e-3)


def test_training_logs_normalized_rewards_and_improves_margin(tmp_path, tiny_base, tokenizer, pairs):
    rows = pairs[:4]
    args = config(
        tmp_path,
        _rows=rows,
        learning_rate=5e-3,
        warmup_steps=0,
        max_steps=6,
        logging_steps=1,
        lr_scheduler_type="constant",
        save_strategy="no",
    )
    trainer = TuluDPOTrainer(
        model=base_model(tiny_base, tokenizer),
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
    )
    trainer.train()
    steps = [h for h in trainer.state.log_history if "loss" in h]
    assert len(steps) == 6
    # Step 1: policy = reference, so every normalized reward is exactly 0 and the loss is log 2.
    # (up to fp32 rounding: the cached reference log-probs come from another forward pass than the policy's)
    assert steps[0]["loss"] == pytest.approx(math.log(2), rel=FP32_TOL)
    assert steps[0]["rewards_norm/margins"] == pytest.approx(0.0, abs=FP32_TOL)
    # The loss is -log σ(margin) per pair, so a falling loss means a growing normalized margin.
    assert steps[-1]["loss"] < steps[0]["loss"] - 0.05
    assert steps[-1]["rewards_norm/margins"] > 0.05
