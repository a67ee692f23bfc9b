"""Upgrade safety: the TRL and transformers methods we override, and the TRL internals we import, keep the
signatures this suite was written against. A TRL or transformers release that renames a parameter, adds a
required one or drops the method fails here, naming it, instead of in a user's run. After reading the new
version's code, update the pin and the code together."""

from __future__ import annotations

import importlib.metadata

import pytest
from _overrides import fingerprint, imported_names, overridden_methods

COMPUTE_LOSS = "(self, model, inputs, return_outputs=False, num_items_in_batch=None)"
CALCULATE_REWARDS = "(self, inputs, prompts, completions, completion_ids_list)"

PINNED_OVERRIDES = {
    "transformers.trainer.Trainer._load_from_checkpoint": "(self, resume_from_checkpoint, model=None)",
    "transformers.trainer.Trainer._load_optimizer_and_scheduler": "(self, checkpoint)",
    "transformers.trainer.Trainer._save_optimizer_and_scheduler": "(self, output_dir)",
    "transformers.trainer.Trainer.create_optimizer": "(self, model=None)",
    "transformers.trainer.Trainer.create_scheduler": "(self, num_training_steps, optimizer=None)",
    "transformers.trainer.Trainer.get_decay_parameter_names": "(self, model)",
    "transformers.trainer.Trainer.save_model": "(self, output_dir=None, _internal_call=False)",
    "transformers.trainer_callback.TrainerCallback.on_optimizer_step": "(self, args, state, control, **kwargs)",
    "transformers.trainer_callback.TrainerCallback.on_pre_optimizer_step": "(self, args, state, control, **kwargs)",
    "transformers.trainer_callback.TrainerCallback.on_save": "(self, args, state, control, **kwargs)",
    "transformers.trainer_callback.TrainerCallback.on_step_end": "(self, args, state, control, **kwargs)",
    "transformers.trainer_callback.TrainerCallback.on_train_begin": "(self, args, state, control, **kwargs)",
    "trl.trainer.dpo_trainer.DPOTrainer._precompute_ref_logps": "(self, dataset, name, batch_size)",
    "trl.trainer.dpo_trainer.DPOTrainer._prepare_dataset": "(self, dataset, processing_class, args, dataset_name)",
    "trl.trainer.dpo_trainer.DPOTrainer._set_signature_columns_if_needed": "(self)",
    "trl.trainer.dpo_trainer.DPOTrainer.compute_loss": COMPUTE_LOSS,
    "trl.trainer.dpo_trainer.DataCollatorForPreference.torch_call": "(self, examples)",
    "trl.trainer.grpo_trainer.GRPOTrainer._calculate_rewards": CALCULATE_REWARDS,
    "trl.trainer.grpo_trainer.GRPOTrainer._load_optimizer_and_scheduler": "(self, checkpoint)",
    "trl.trainer.grpo_trainer.GRPOTrainer._compute_loss": "(self, model, inputs)",
    "trl.trainer.grpo_trainer.GRPOTrainer._generate_and_score_completions": "(self, inputs)",
    "trl.trainer.grpo_trainer.GRPOTrainer._prepare_inputs": "(self, generation_batch)",
    "trl.trainer.grpo_trainer.GRPOTrainer._generate_single_turn": (
        "(self, prompt_ids, images, multimodal_fields, num_generations, has_tool_images=False)"
    ),
    "trl.trainer.grpo_trainer.GRPOTrainer._get_per_token_logps_and_entropies": (
        "(self, model, input_ids, attention_mask, logits_to_keep, batch_size=None, compute_entropy=False, "
        "compute_aux_loss=False, pixel_values=None, image_grid_thw=None, num_images=None, pixel_attention_mask=None, "
        "spatial_shapes=None, num_tiles=None, image_sizes=None, token_type_ids=None, mm_token_type_ids=None, "
        "image_position_ids=None)"
    ),
    "trl.trainer.rloo_trainer.RLOOTrainer._get_per_token_logps_and_entropies": (
        "(self, model, input_ids, attention_mask, logits_to_keep, batch_size=None, compute_entropy=False, "
        "compute_aux_loss=False, pixel_values=None, image_grid_thw=None, num_images=None, pixel_attention_mask=None, "
        "spatial_shapes=None, num_tiles=None, image_sizes=None, token_type_ids=None, mm_token_type_ids=None, "
        "image_position_ids=None)"
    ),
    "trl.trainer.rloo_trainer.RLOOTrainer._generate_single_turn": "(self, prompt_ids, images, multimodal_fields)",
    "trl.trainer.rloo_trainer.RLOOTrainer._calculate_rewards": CALCULATE_REWARDS,
    "trl.trainer.rloo_trainer.RLOOTrainer._compute_loss": "(self, model, inputs)",
    "trl.trainer.rloo_trainer.RLOOTrainer._generate_and_score_completions": "(self, inputs)",
    "trl.trainer.rloo_trainer.RLOOTrainer._prepare_inputs": "(self, generation_batch)",
    "trl.trainer.sft_trainer.SFTTrainer.compute_loss": COMPUTE_LOSS,
}

PINNED_IMPORTS = {
    "trl.chat_template_utils.get_training_chat_template": "(processing_class=None, tokenizer=None)",
    "trl.data_utils.is_conversational": "(example)",
    "trl.models.utils.disable_gradient_checkpointing": "(model, gradient_checkpointing_kwargs=None)",
    "trl.trainer.dpo_trainer.DataCollatorForPreference": (
        "(self, pad_token_id, max_length=None, truncation_mode='keep_start', pad_to_multiple_of=None, "
        "return_tensors='pt')"
    ),
    "trl.trainer.utils.disable_dropout_in_model": "(model)",
    "trl.trainer.utils.get_config_model_id": "(config)",
    "trl.trainer.utils.pad": "(tensors, padding_value=0, padding_side='right', pad_to_multiple_of=None)",
    "trl.trainer.utils.split_tensor_dict": "(tensor_dict, num_chunks)",
    "trl.trainer.utils.use_adapter": "(model, adapter_name)",
}

TESTED = {"trl": "1.16", "transformers": "5.24"}


def signature_drift(pinned: dict[str, str], found: dict[str, object]) -> list[str]:
    """One line per pinned name that is gone or whose fingerprint changed, and per unpinned name in use."""
    lines = []
    for name, expected in sorted(pinned.items()):
        if name not in found:
            lines.append(f"{name}: no longer overridden/imported, or gone from the library")
        elif fingerprint(found[name]) != expected:
            lines.append(f"{name}: signature {fingerprint(found[name])}, pinned {expected}")
    lines += [f"{name}: in use but not pinned" for name in sorted(set(found) - set(pinned))]
    return lines


@pytest.mark.parametrize("name", sorted(PINNED_OVERRIDES))
def test_overridden_method_signature_is_pinned(name: str):
    found = overridden_methods()
    assert name in found, f"{name} is no longer overridden or no longer exists in the library"
    assert fingerprint(found[name]) == PINNED_OVERRIDES[name], name


@pytest.mark.parametrize("name", sorted(PINNED_IMPORTS))
def test_imported_internal_signature_is_pinned(name: str):
    found = imported_names()
    assert name in found
    assert fingerprint(found[name]) == PINNED_IMPORTS[name], name


def test_every_override_and_internal_import_is_pinned():
    assert signature_drift(PINNED_OVERRIDES, overridden_methods()) == []
    assert signature_drift(PINNED_IMPORTS, imported_names()) == []


def test_a_changed_library_signature_is_reported_by_name(monkeypatch):
    from trl.trainer.rloo_trainer import RLOOTrainer

    def _compute_loss(self, model, inputs, num_items_in_batch):  # a release that adds a required parameter
        raise NotImplementedError

    monkeypatch.setattr(RLOOTrainer, "_compute_loss", _compute_loss)
    drift = signature_drift(PINNED_OVERRIDES, overridden_methods())
    assert drift == [
        "trl.trainer.rloo_trainer.RLOOTrainer._compute_loss: signature (self, model, inputs, num_items_in_batch), "
        "pinned (self, model, inputs)"
    ]


def test_installed_versions_are_the_tested_minors():
    for package, minor in TESTED.items():
        version = importlib.metadata.version(package)
        assert version.split(".")[:2] == minor.split("."), f"{package} {version} is installed; tests pin {minor}"


def test_pyproject_pins_trl_to_the_tested_minor(repo_root):
    import tomllib

    deps = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]["dependencies"]
    trl = next(d for d in deps if d.startswith("trl"))
    assert trl.replace(" ", "") == f"trl>={TESTED['trl']},<1.{int(TESTED['trl'].split('.')[1]) + 1}"
