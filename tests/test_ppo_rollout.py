"""TuluPPOTrainer's rollout and loss against an independent computation on a padded batch of hand-made completions.

The value model is the tiny base with a random scalar head, so its values differ from position to position: a
per-token value slice shifted by one, or a padding position let into a loss or into GAE, changes the numbers.
Reference values come from unpadded single-row forwards (value = the reward model's score of the prefix), GAE
from a plain loop in float64.
"""

import json
from pathlib import Path

import pytest
import torch
from datasets import Dataset
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

from tulu_recipes.trainers.ppo import TuluPPOConfig, TuluPPOTrainer

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "recipes" / "quickstart" / "tiny-base"
RLVR = ROOT / "recipes" / "quickstart" / "data" / "rlvr.jsonl"
MAX_LEN = 5  # max_completion_length: row 1 below fills it (truncated, no EOS)
BETA, GAMMA, LAM = 0.1, 1.0, 0.95
SCORES = [3.0, 4.0, 2.0]  # verifier scores; row 1 has no EOS and gets the -10 penalty instead


@pytest.fixture(scope="module")
def value_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("value")
    torch.manual_seed(0)
    rm = AutoModelForSequenceClassification.from_pretrained(TINY, num_labels=1)
    torch.nn.init.normal_(rm.score.weight, std=0.5)
    rm.save_pretrained(out)
    return out


def fixed_scores(completions, **kwargs):
    return SCORES[: len(completions)]


def rows(n: int) -> Dataset:
    data = [json.loads(line) for line in RLVR.read_text().splitlines()[:n]]
    return Dataset.from_list(
        [{"prompt": r["messages"], "ground_truth": r["ground_truth"], "dataset": r["dataset"]} for r in data]
    )


def make_trainer(tmp_path: Path, value_dir: Path, score_position: str, whiten: bool = False) -> TuluPPOTrainer:
    args = TuluPPOConfig(
        output_dir=str(tmp_path / "ppo"),
        value_model_path=str(value_dir),
        score_position=score_position,
        beta=BETA,
        gamma=GAMMA,
        lam=LAM,
        whiten_advantages=whiten,
        per_device_train_batch_size=3,
        max_completion_length=MAX_LEN,
        max_steps=1,
        use_cpu=True,
        bf16=False,
        report_to="none",
        save_strategy="no",
        disable_tqdm=True,
        seed=0,
    )
    trainer = TuluPPOTrainer(
        model=str(TINY),
        reward_funcs=[fixed_scores],
        args=args,
        train_dataset=rows(3),
        processing_class=AutoTokenizer.from_pretrained(TINY),
    )
    with torch.no_grad():  # move the policy away from the reference so that the KL term is not zero
        torch.manual_seed(1)
        for p in trainer.model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return trainer


def hand_rollout(trainer: TuluPPOTrainer, prompts: list[list[int]], completions: list[list[int]], after_eos: bool):
    """Per row: values, log-probs, rewards, advantages, returns from unpadded forwards and a float64 loop."""
    value_model = trainer.value_model
    ref = trainer.ref_model
    out = []
    for prompt, completion, score in zip(prompts, completions, SCORES, strict=True):
        eos = completion[-1] == trainer._tokenizer.eos_token_id
        score = score if eos else -10.0
        seq = torch.tensor([prompt + completion])
        n, p = len(completion), len(prompt)
        with torch.no_grad():
            # V_t: the value model's pooled score of the prefix before token t (t = n: the whole sequence)
            values = [value_model(input_ids=seq[:, : p + t]).logits[0, 0].item() for t in range(n + 1)]
            logp = torch.log_softmax(trainer.model(input_ids=seq).logits[0, p - 1 : -1].double(), -1)
            ref_logp = torch.log_softmax(ref(input_ids=seq).logits[0, p - 1 : -1].double(), -1)
        ids = torch.tensor(completion)
        lp = logp.gather(1, ids[:, None])[:, 0].tolist()
        kl = [a - b for a, b in zip(lp, ref_logp.gather(1, ids[:, None])[:, 0].tolist(), strict=True)]
        width = n + 1 if after_eos and n < MAX_LEN else n  # the release scores one past EOS if there is room
        rewards = [-BETA * kl[t] if t < n else 0.0 for t in range(width)]
        rewards[width - 1] += score
        values = values[:width]
        advantages, running = [0.0] * width, 0.0
        for t in reversed(range(width)):
            next_value = values[t + 1] if t + 1 < width else 0.0
            running = rewards[t] + GAMMA * next_value - values[t] + GAMMA * LAM * running
            advantages[t] = running
        returns = [a + v for a, v in zip(advantages, values, strict=True)]
        out.append(dict(values=values, logps=lp, advantages=advantages[:n], returns=returns, n=n, width=width))
    return out


def rollout(trainer: TuluPPOTrainer, monkeypatch):
    tok = trainer._tokenizer
    eos = tok.eos_token_id
    words = lambda text: tok(text, add_special_tokens=False)["input_ids"]  # noqa: E731
    prompts = [
        words("<|user|>\n2+2?\n<|assistant|>\n"),
        words("<|user|>\nWhat is 7 times 8?\n<|assistant|>\n"),
        words("<|user|>\nHi\n<|assistant|>\n"),
    ]
    completions = [words("4 is")[:2] + [eos], words("The answer is 56 and")[:MAX_LEN], words("ok")[:1] + [eos]]
    assert [len(c) for c in completions] == [3, MAX_LEN, 2] and len({len(p) for p in prompts}) == 3
    texts = [[{"role": "assistant", "content": tok.decode(c, skip_special_tokens=True)}] for c in completions]
    monkeypatch.setattr(trainer, "_generate", lambda _prompts: (prompts, completions, texts))
    inputs = list(rows(3))
    trainer.model.train()
    return prompts, completions, trainer._generate_and_score_completions(inputs)


@pytest.mark.parametrize("score_position", ["after_eos", "eos"])
def test_rollout_matches_hand_computation_on_a_padded_batch(
    tmp_path, value_dir, monkeypatch, one_torch_thread, score_position
):
    trainer = make_trainer(tmp_path, value_dir, score_position)
    prompts, completions, batch = rollout(trainer, monkeypatch)
    expected = hand_rollout(trainer, prompts, completions, after_eos=score_position == "after_eos")
    width = MAX_LEN + (score_position == "after_eos")
    assert batch["old_values"].shape == batch["returns"].shape == batch["value_mask"].shape == (3, width)
    assert batch["advantages"].shape == batch["old_logps"].shape == (3, MAX_LEN)
    # which positions train the value: after_eos reaches one past rows 0 and 2 (not row 1, which fills MAX_LEN)
    lengths = [row["width"] for row in expected]
    assert lengths == ([4, 5, 3] if score_position == "after_eos" else [3, 5, 2])
    assert batch["value_mask"].sum(dim=1).tolist() == lengths
    for i, row in enumerate(expected):
        n, w = row["n"], row["width"]
        assert batch["old_values"][i, :w].tolist() == pytest.approx(row["values"], rel=1e-5, abs=1e-5)
        assert batch["old_logps"][i, :n].tolist() == pytest.approx(row["logps"], rel=1e-5, abs=1e-5)
        assert batch["advantages"][i, :n].tolist() == pytest.approx(row["advantages"], rel=1e-5, abs=1e-5)
        assert batch["returns"][i, :w].tolist() == pytest.approx(row["returns"], rel=1e-5, abs=1e-5)
        assert batch["advantages"][i, n:].abs().sum() == 0 and batch["returns"][i, w:].abs().sum() == 0
    # the score sits where the value is trained last: A_last = s - V_last (+ the KL term on a real token)
    last = expected[0]
    if score_position == "after_eos":
        assert last["returns"][-1] == pytest.approx(SCORES[0])  # R at the position past EOS is the score itself


@pytest.mark.parametrize("score_position", ["after_eos", "eos"])
def test_loss_uses_only_real_positions_of_each_row(tmp_path, value_dir, monkeypatch, one_torch_thread, score_position):
    """Plant values at padded positions that would dominate the loss, and set returns to V + 0.5 on real ones."""
    trainer = make_trainer(tmp_path, value_dir, score_position)
    _, _, batch = rollout(trainer, monkeypatch)
    mask, value_mask = batch["loss_mask"].bool(), batch["value_mask"].bool()
    advantages = torch.where(mask, torch.tensor([[1.0, -2.0, 0.5, 3.0, -1.0]]), torch.tensor(100.0))
    returns = torch.where(value_mask, batch["old_values"] + 0.5, torch.tensor(-100.0))
    inputs = dict(batch, advantages=advantages, returns=returns)
    loss = trainer._compute_loss(trainer.model, inputs)
    # the policy is unchanged since the rollout, so ratio = 1 and the policy loss is -mean(A) over real tokens;
    # V = V_old, so the value loss is 0.5 * 0.5^2 on every real value position
    pg = -advantages[mask].double().mean().item()
    vf = 0.5 * 0.25
    assert loss.item() == pytest.approx(pg + trainer.args.vf_coef * vf, rel=1e-5)
    assert trainer._metrics["train"]["value_loss"][-1] == pytest.approx(vf, rel=1e-4)
    assert trainer._metrics["train"]["policy_loss"][-1] == pytest.approx(pg, rel=1e-5)


def test_policy_logps_reference_is_the_initial_model(tmp_path, value_dir):
    """The hand computation's reference is TRL's copy of the initial policy (what beta's KL is measured to)."""
    trainer = make_trainer(tmp_path, value_dir, "eos")
    base = AutoModelForCausalLM.from_pretrained(TINY).state_dict()
    ref = trainer.ref_model.state_dict()
    assert all(torch.equal(base[k], ref[k]) for k in base)
    assert not torch.equal(trainer.model.get_input_embeddings().weight, base["model.embed_tokens.weight"])


def test_whitened_advantages_use_only_real_tokens(tmp_path, value_dir, monkeypatch, one_torch_thread):
    """The release whitens advantages over the batch's real tokens (Bessel-corrected); padding stays 0 and is never
    counted: with rows of 3, 5 and 2 tokens in a width of 5, counting the 5 padded zeros would shift the mean."""
    trainer = make_trainer(tmp_path, value_dir, "eos", whiten=True)
    prompts, completions, batch = rollout(trainer, monkeypatch)
    expected = hand_rollout(trainer, prompts, completions, after_eos=False)
    real = torch.tensor([a for row in expected for a in row["advantages"]], dtype=torch.float64)
    assert real.numel() == 10
    mean, std = real.mean(), real.std(unbiased=True)
    for i, row in enumerate(expected):
        n = row["n"]
        hand = [(a - mean.item()) / std.item() for a in row["advantages"]]
        assert batch["advantages"][i, :n].tolist() == pytest.approx(hand, rel=1e-4, abs=1e-5)
        assert batch["advantages"][i, n:].abs().sum() == 0
