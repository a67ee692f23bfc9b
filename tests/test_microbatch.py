"""The release's loss micro-batches (`loss_micro_batch_size`): a token mean over each group of k sequences, the
mean over a slice's groups, and the rollout batch regrouped at random every PPO epoch (trainers/microbatch.py)."""

from pathlib import Path

import pytest
import torch
import yaml
from _shared import QUIET_CPU
from datasets import Dataset
from transformers import AutoTokenizer

from tulu_recipes.trainers import ppo_math
from tulu_recipes.trainers.grpo_rloo import TuluGRPOConfig, TuluGRPOTrainer
from tulu_recipes.trainers.microbatch import grouped_mean
from tulu_recipes.trainers.ppo import TuluPPOConfig, TuluPPOTrainer, per_token_values

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "recipes" / "quickstart" / "tiny-base"
LENGTHS = [1, 5, 2, 6]  # completion tokens per row: pair token means, the slice's and sequence means all differ


def prompts(n: int) -> Dataset:
    return Dataset.from_list([{"prompt": [{"role": "user", "content": f"What is {i} + {i}?"}]} for i in range(n)])


def constant(completions, **kwargs):
    return [1.0] * len(completions)


def ppo_trainer(tmp_path: Path, **overrides) -> TuluPPOTrainer:
    args = dict(
        output_dir=str(tmp_path / "ppo"),
        per_device_train_batch_size=4,
        max_completion_length=6,
        max_steps=1,
        **QUIET_CPU,
    )
    args.update(overrides)
    return TuluPPOTrainer(
        model=str(TINY),
        reward_funcs=[constant],
        args=TuluPPOConfig(**args),
        train_dataset=prompts(8),
        processing_class=AutoTokenizer.from_pretrained(TINY),
    )


def loss_inputs(seed: int = 0) -> dict[str, torch.Tensor]:
    """A hand-made micro-batch of 4 rows with completions of `LENGTHS` tokens (right padded) and old log-probs
    0.15 away from the policy's on average, so some ratios are clipped."""
    g = torch.Generator().manual_seed(seed)
    rows, width = len(LENGTHS), max(LENGTHS)
    mask = (torch.arange(width) < torch.tensor(LENGTHS)[:, None]).long()
    value_mask = torch.nn.functional.pad(mask, (0, 1))
    value_mask[torch.arange(rows), torch.tensor(LENGTHS)] = 1  # `after_eos`: one position past the last token
    return {
        "prompt_ids": torch.randint(5, 100, (rows, 3), generator=g),
        "prompt_mask": torch.ones(rows, 3, dtype=torch.long),
        "completion_ids": torch.randint(5, 100, (rows, width), generator=g) * mask,
        "completion_mask": mask,
        "loss_mask": mask,
        "value_mask": value_mask,
        "old_logps": -3.0 + 0.3 * torch.randn(rows, width, generator=g),
        "old_values": torch.randn(rows, width + 1, generator=g),
        "advantages": torch.randn(rows, width, generator=g) * mask,
        "returns": torch.randn(rows, width + 1, generator=g),
    }


def forward(trainer: TuluPPOTrainer, inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """The policy's per-token log-probs and the value model's V columns, as `_compute_loss` computes them."""
    ids = torch.cat([inputs["prompt_ids"], inputs["completion_ids"]], dim=1)
    attention = torch.cat([inputs["prompt_mask"], inputs["completion_mask"]], dim=1)
    width = inputs["completion_ids"].size(1)
    with torch.no_grad():
        logps, _, _ = trainer._get_per_token_logps_and_entropies(trainer.model, ids, attention, width)
        values = trainer._value_columns(per_token_values(trainer.value_model, ids, attention), width)
    return logps, values


def hand_token_mean(per_token: torch.Tensor, rows: list[int]) -> float:
    """Sum of the rows' per-token terms over their real tokens, divided by their number of tokens."""
    total = sum(float(per_token[r, t]) for r in rows for t in range(per_token.size(1)) if t < LENGTHS[r])
    return total / sum(LENGTHS[r] for r in rows)


def hand_value_token_mean(per_token: torch.Tensor, rows: list[int]) -> float:
    # the value is trained one position further (the score position past EOS)
    total = sum(float(per_token[r, t]) for r in rows for t in range(LENGTHS[r] + 1))
    return total / sum(LENGTHS[r] + 1 for r in rows)


def test_ppo_loss_is_the_mean_over_pairs_of_each_pairs_token_mean(tmp_path):
    trainer = ppo_trainer(tmp_path, loss_micro_batch_size=2)
    inputs = loss_inputs()
    with torch.no_grad():
        loss = trainer._compute_loss(trainer.model, inputs).item()
    logps, values = forward(trainer, inputs)

    ratio = torch.exp(logps - inputs["old_logps"])
    adv = inputs["advantages"]
    pg = torch.maximum(-adv * ratio, -adv * ratio.clamp(0.8, 1.2))
    clipped_v = inputs["old_values"] + (values - inputs["old_values"]).clamp(-0.2, 0.2)
    vf = torch.maximum((values - inputs["returns"]) ** 2, (clipped_v - inputs["returns"]) ** 2)
    pairs = [[0, 1], [2, 3]]
    pg_pairs = [hand_token_mean(pg, p) for p in pairs]
    vf_pairs = [0.5 * hand_value_token_mean(vf, p) for p in pairs]
    expected = sum(pg_pairs) / 2 + 0.1 * sum(vf_pairs) / 2
    assert loss == pytest.approx(expected, rel=1e-5, abs=1e-6)

    # the alternatives differ by far more than the tolerance: one token mean over the slice, sequence means
    slice_mean = hand_token_mean(pg, [0, 1, 2, 3]) + 0.1 * 0.5 * hand_value_token_mean(vf, [0, 1, 2, 3])
    sequence_mean = sum(hand_token_mean(pg, [r]) + 0.05 * hand_value_token_mean(vf, [r]) for r in range(4)) / 4
    assert min(abs(expected - slice_mean), abs(expected - sequence_mean)) > 1e-3


def test_ppo_default_loss_is_bit_identical_to_one_token_mean_per_slice(tmp_path):
    """The default computes what the trainer computed before the field existed; a group as large as the slice
    computes the same number."""
    trainer = ppo_trainer(tmp_path)
    inputs = loss_inputs(seed=1)
    with torch.no_grad():
        loss = trainer._compute_loss(trainer.model, inputs)
    logps, values = forward(trainer, inputs)
    pg, _ = ppo_math.policy_loss(logps, inputs["old_logps"], inputs["advantages"], inputs["loss_mask"], 0.2)
    vf, _ = ppo_math.value_loss(values, inputs["old_values"], inputs["returns"], inputs["value_mask"], 0.2)
    assert torch.equal(loss, pg + 0.1 * vf)

    trainer.args.loss_micro_batch_size = 4
    with torch.no_grad():
        assert torch.equal(trainer._compute_loss(trainer.model, inputs), loss)


def test_grouped_mean_averages_each_output_over_row_groups():
    values = torch.tensor([[1.0, 2.0], [3.0, 0.0], [4.0, 4.0], [0.0, 8.0]])
    mask = torch.tensor([[1, 1], [1, 0], [1, 1], [0, 1]])
    (mean,) = grouped_mean(lambda v, m: (ppo_math.masked_mean(v, m),), 2, values, mask)
    assert mean.item() == pytest.approx(((1 + 2 + 3) / 3 + (4 + 4 + 8) / 3) / 2)


def epoch_orders(tmp_path: Path, **overrides) -> list[list[int]]:
    """The row order of each of 3 PPO epochs over one rollout of 8 rows (2 slices of 4), from TRL's real
    `_prepare_inputs`; the rollout is a stub whose rows carry their index."""
    trainer = ppo_trainer(tmp_path, gradient_accumulation_steps=2, num_iterations=3, **overrides)
    rollout = {
        "row": torch.arange(8),
        "completion_ids": torch.arange(8)[:, None].repeat(1, 3),
        "completion_mask": torch.ones(8, 3, dtype=torch.long),
    }
    trainer._generate_and_score_completions = lambda batch: dict(rollout)
    trainer.model.train()
    torch.manual_seed(0)  # TRL's own shuffle of the new rollout (global RNG) is then the same for every `seed`
    orders = []
    for epoch in range(3):
        order = []
        for step in range(2):
            trainer._step = 2 * epoch + step
            inputs = trainer._prepare_inputs([{}] * 8)
            assert torch.equal(inputs["completion_ids"][:, 0], inputs["row"])  # rows stay whole
            order += inputs["row"].tolist()
        orders.append(order)
    return orders


def test_grouping_regroups_every_epoch_deterministically_with_the_seed(tmp_path):
    orders = epoch_orders(tmp_path, loss_micro_batch_size=2, seed=3)
    assert all(sorted(order) == list(range(8)) for order in orders)
    assert orders[0] != orders[1] and orders[1] != orders[2] and orders[0] != orders[2]
    assert epoch_orders(tmp_path, loss_micro_batch_size=2, seed=3) == orders
    assert epoch_orders(tmp_path, loss_micro_batch_size=2, seed=4) != orders

    # the default: TRL's one shuffle per rollout, the same slices in every epoch
    default = epoch_orders(tmp_path, seed=3)
    assert default[0] == default[1] == default[2] and sorted(default[0]) == list(range(8))


def test_bad_group_sizes_are_refused():
    common = dict(output_dir="unused", per_device_train_batch_size=4, **QUIET_CPU)
    with pytest.raises(ValueError, match="loss_micro_batch_size .3. must be >= 1 and divide"):
        TuluPPOConfig(loss_micro_batch_size=3, **common)
    with pytest.raises(ValueError, match="loss_micro_batch_size .0."):
        TuluPPOConfig(loss_micro_batch_size=0, **common)
    with pytest.raises(ValueError, match="loss_type: bnpo"):
        TuluGRPOConfig(loss_micro_batch_size=2, num_generations=2, loss_type="dapo", **common)
    assert TuluGRPOConfig(loss_micro_batch_size=2, num_generations=2, loss_type="bnpo", **common)


def test_grpo_bnpo_loss_is_the_mean_over_pairs_of_each_pairs_token_mean(tmp_path):
    """On-policy GRPO with beta 0: every ratio is 1, so a group's token mean is sum(-A x length) / tokens."""
    trainer = TuluGRPOTrainer(
        model=str(TINY),
        reward_funcs=[constant],
        args=TuluGRPOConfig(
            output_dir=str(tmp_path / "grpo"),
            per_device_train_batch_size=4,
            num_generations=2,
            max_completion_length=6,
            beta=0.0,
            loss_type="bnpo",
            loss_micro_batch_size=2,
            **QUIET_CPU,
        ),
        train_dataset=prompts(8),
        processing_class=AutoTokenizer.from_pretrained(TINY),
    )
    inputs = loss_inputs()
    advantages = torch.tensor([1.0, -2.0, 0.5, 3.0])
    grpo_inputs = {key: inputs[key] for key in ("prompt_ids", "prompt_mask", "completion_ids", "completion_mask")}
    grpo_inputs |= {"advantages": advantages, "old_per_token_logps": None, "num_items_in_batch": torch.tensor(14)}
    trainer.model.train()
    trainer.current_gradient_accumulation_steps = 2  # set by the Trainer's training loop
    loss = trainer._compute_loss(trainer.model, grpo_inputs).item()

    def pair(rows: list[int]) -> float:
        return sum(-advantages[r].item() * LENGTHS[r] for r in rows) / sum(LENGTHS[r] for r in rows)

    assert loss == pytest.approx((pair([0, 1]) + pair([2, 3])) / 2 / 2, rel=1e-5)  # / 2 accumulation steps
    assert abs(loss - pair([0, 1, 2, 3]) / 2) > 1e-2  # one token mean over the slice differs


@pytest.mark.parametrize(
    ("recipe", "size", "per_device"),
    [("tulu3-8b/rlvr.yaml", 2, 4), ("tulu3-70b/rlvr.yaml", 1, 2), ("tulu3-8b/rlvr-grpo.yaml", 2, 8)],
)
def test_release_recipes_use_the_release_micro_batches(recipe, size, per_device):
    cfg = yaml.safe_load((ROOT / "recipes" / recipe).read_text())
    assert cfg["loss_micro_batch_size"] == size and cfg["per_device_train_batch_size"] == per_device
