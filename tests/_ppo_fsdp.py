"""Two PPO optimizer steps on a fixed rollout, for tests/test_ppo_fsdp.py.

    python tests/_ppo_fsdp.py OUT                              1 process, plain modules, the whole batch
    torchrun --nproc_per_node 2 tests/_ppo_fsdp.py OUT         FSDP2 (`fully_shard`, gloo), half the batch each

Policy = the tiny base model; value model = `load_value_model` from the same checkpoint (as TuluPPOTrainer builds it
without `value_model_path`) with a seeded, larger head so values vary by position. The rollout (4 rows, left-padded
prompts, right-padded completions of different lengths, padded once for the whole batch) is hand-made; old
log-probs and values come from the initial models, rewards/GAE/losses from `ppo_math` and the trainer's own value
slicing and masks (score after EOS, the release's). Each process holds 6 loss tokens and 8 value tokens, so the
mean of the per-process token means is the global token mean. Writes OUT/<run>/info.json and the gathered final
weights (OUT/<run>/policy.safetensors, value.safetensors).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from types import SimpleNamespace

import torch
import torch.distributed as dist
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl.trainer.utils import selective_log_softmax

from tulu_recipes.trainers import ppo_math
from tulu_recipes.trainers.ppo import TuluPPOTrainer, _zero_dropout, load_value_model, per_token_values

TINY = Path(__file__).resolve().parents[1] / "recipes" / "quickstart" / "tiny-base"
PAD, EOS = 2, 1
PROMPTS = [[5, 17, 42], [7, 8, 9, 10, 11], [100, 200], [300, 301, 302, 303]]
COMPLETIONS = [[50, 60, 70, EOS], [80, EOS], [90, 91, EOS], [33, 44, EOS]]
SCORES = [1.0, -1.0, 0.5, 0.0]
MAX_COMPLETION = 5  # no completion fills it, so every row gets the extra value position after EOS
ARGS = SimpleNamespace(score_position="after_eos", max_completion_length=MAX_COMPLETION)
BETA, GAMMA, LAM, CLIP, CLIP_V, VF_COEF, LR, MAX_NORM = 0.05, 1.0, 0.95, 0.2, 0.2, 0.1, 3e-4, 1.0


def rollout() -> dict[str, torch.Tensor]:
    width_p, width_c = max(map(len, PROMPTS)), max(map(len, COMPLETIONS))
    prompt = torch.tensor([[PAD] * (width_p - len(p)) + p for p in PROMPTS])
    prompt_mask = torch.tensor([[0] * (width_p - len(p)) + [1] * len(p) for p in PROMPTS])
    completion = torch.tensor([c + [PAD] * (width_c - len(c)) for c in COMPLETIONS])
    completion_mask = torch.tensor([[1] * len(c) + [0] * (width_c - len(c)) for c in COMPLETIONS])
    ref_shift = 0.1 * (torch.arange(completion.numel()).reshape(completion.shape) % 3 - 1).float()
    return {
        "input_ids": torch.cat([prompt, completion], dim=1),
        "attention_mask": torch.cat([prompt_mask, completion_mask], dim=1),
        "loss_mask": completion_mask,
        "scores": torch.tensor(SCORES),
        "ref_shift": ref_shift,  # log π_ref = log π_old + shift: a KL penalty that differs per token
    }


def completion_logps(policy, batch, keep: int) -> torch.Tensor:
    logits = policy(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], use_cache=False).logits
    return selective_log_softmax(logits[:, -keep - 1 : -1], batch["input_ids"][:, -keep:])


def completion_values(value_model, batch, keep: int) -> torch.Tensor:
    values = per_token_values(value_model, batch["input_ids"], batch["attention_mask"])
    return TuluPPOTrainer._value_columns(SimpleNamespace(args=ARGS), values, keep)


def advantages_and_returns(policy, value_model, batch, keep: int) -> dict[str, torch.Tensor]:
    """The rollout side of TuluPPOTrainer._generate_and_score_completions, on the fixed completions."""
    with torch.no_grad():
        old_logps = completion_logps(policy, batch, keep)
        old_values = completion_values(value_model, batch, keep)
    loss_mask = batch["loss_mask"]
    value_mask = TuluPPOTrainer._value_mask(SimpleNamespace(args=ARGS), loss_mask)
    pad = torch.nn.functional.pad
    width = value_mask.size(1)
    rewards, _ = ppo_math.token_rewards(
        batch["scores"],
        pad(old_logps, (0, width - keep)),
        pad(old_logps + batch["ref_shift"], (0, width - keep)),
        pad(loss_mask, (0, width - keep)),
        BETA,
        score_mask=value_mask,
    )
    advantages, returns = ppo_math.gae(rewards, old_values, value_mask, GAMMA, LAM)
    return {
        "old_logps": old_logps,
        "old_values": old_values,
        "advantages": advantages[:, :keep] * loss_mask,
        "returns": returns,
        "value_mask": value_mask,
    }


def grad_norm(parameters) -> float:
    norm = torch.nn.utils.clip_grad_norm_(list(parameters), MAX_NORM)  # each model clipped on its own (release)
    return float(norm.full_tensor() if hasattr(norm, "full_tensor") else norm)


def shard_info(model) -> list[dict]:
    from torch.distributed.tensor import DTensor, Shard

    return [
        {
            "name": name,
            "dtensor": isinstance(p, DTensor),
            "shard0": isinstance(p, DTensor) and tuple(p.placements) == (Shard(0),),
            "full": p.numel(),
            "rows": p.size(0),
            "local": p.to_local().numel() if isinstance(p, DTensor) else p.numel(),
        }
        for name, p in model.named_parameters()
    ]


def main() -> None:
    torch.set_num_threads(1)
    out = Path(sys.argv[1])
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = 0
    if world > 1:
        dist.init_process_group("gloo")
        rank = dist.get_rank()
    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(TINY)
    policy = AutoModelForCausalLM.from_pretrained(TINY, dtype=torch.float32)
    value_model = load_value_model(str(TINY), tokenizer.pad_token_id, len(tokenizer), dtype=torch.float32)
    torch.nn.init.normal_(value_model.score.weight, std=0.5)  # seeded: the same head on every process
    for model in (policy, value_model):
        _zero_dropout(model)
        model.train()

    full = rollout()
    rows = slice(rank * len(PROMPTS) // world, (rank + 1) * len(PROMPTS) // world)
    batch = {key: tensor[rows] for key, tensor in full.items()}
    keep = batch["loss_mask"].size(1)
    info: dict = {"world": world}
    if world > 1:
        from torch.distributed.device_mesh import init_device_mesh

        from tulu_recipes.trainers.fsdp import shard_policy_and_value

        mesh = init_device_mesh("cpu", (world,))
        shard_policy_and_value(policy, value_model, mesh)
        info["shards"] = {"policy": shard_info(policy), "value": shard_info(value_model)}

    batch |= advantages_and_returns(policy, value_model, batch, keep)
    info["tokens"] = [int(batch["loss_mask"].sum()), int(batch["value_mask"].sum())]
    optimizers = [torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.01) for model in (policy, value_model)]
    steps = []
    for _ in range(2):
        logps = completion_logps(policy, batch, keep)
        values = completion_values(value_model, batch, keep)
        pg, pg_clip = ppo_math.policy_loss(logps, batch["old_logps"], batch["advantages"], batch["loss_mask"], CLIP)
        vf, vf_clip = ppo_math.value_loss(values, batch["old_values"], batch["returns"], batch["value_mask"], CLIP_V)
        (pg + VF_COEF * vf).backward()
        norms = [grad_norm(policy.parameters()), grad_norm(value_model.parameters())]
        for optimizer in optimizers:
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        stats = torch.stack([pg.detach(), vf.detach(), pg_clip, vf_clip])
        if world > 1:  # logged as the trainer does: the mean over processes
            dist.all_reduce(stats)
            stats /= world
        steps.append(
            dict(zip(["policy_loss", "value_loss", "policy_clip", "value_clip"], stats.tolist(), strict=True))
            | {
                "policy_grad_norm": norms[0],
                "value_grad_norm": norms[1],
            }
        )
    info["steps"] = steps

    if world > 1:
        from tulu_recipes.trainers.fsdp import full_state_dict

        states = [full_state_dict(policy), full_state_dict(value_model)]
        info["state_keys"] = [len(state) for state in states]
        gathered: list = [None] * world
        dist.all_gather_object(gathered, info)
        info["per_rank"] = gathered
    else:
        states = [policy.state_dict(), value_model.state_dict()]
    if rank == 0:
        run = out / ("fsdp" if world > 1 else "plain")
        run.mkdir(parents=True, exist_ok=True)
        for name, state in zip(("policy", "value"), states, strict=True):
            save_file({k: v.detach().clone().contiguous() for k, v in state.items()}, run / f"{name}.safetensors")
        (run / "info.json").write_text(json.dumps(info))
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
