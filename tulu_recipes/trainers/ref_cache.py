"""Reference log-probs persisted on disk, keyed by everything that determines them.

TRL's `precompute_ref_log_probs` already writes its results to a `datasets` cache file named after
`(tokenized dataset fingerprint, reference weights hash)`, but that key is not the right one for a training run:

- the collator truncates (`max_length`, `truncation_mode`) after the dataset is fingerprinted, so with
  `truncation_mode="keep_end"` a changed `max_length` silently reuses log-probs of differently truncated sequences;
- with `keep_start` the fingerprint instead includes the whole training config (TRL's length filter closes over
  it), so changing `learning_rate`, `logging_steps` or `output_dir` recomputes everything;
- an in-memory dataset (no cache files) gets a random file name, so nothing is ever reused;
- the file lives in the global `datasets` cache, not with the run.

Here the key is built from exactly the inputs: the reference weights hash and config, the token ids of every row
in order (so data, chat template and tokenizer are covered), the truncation settings, the template text, and the
precision. The values are written to `<cache_dir>/<key>.pt` with a readable `<key>.json` beside it.

The weights hash must see real weights. TRL's `hash_module` hashes `state_dict()`, and under ZeRO-3 (`zero.Init`)
every partitioned parameter is an empty placeholder there, so any two checkpoints of one architecture would share
a key and a retrained SFT model would silently reuse stale log-probs. `weights_digest` gathers each partitioned
parameter in turn (`deepspeed.zero.GatheredParameters`, one tensor at a time, so peak memory grows by one
parameter) and hashes exactly what `hash_module` hashes on an unsharded model: the same checkpoint gives the same
key with or without ZeRO-3.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc
import torch
from datasets import Dataset, concatenate_datasets

FORMAT_VERSION = 1
TOKEN_COLUMNS = ("prompt_ids", "chosen_ids", "rejected_ids")
VALUE_COLUMNS = ("ref_chosen_logps", "ref_rejected_logps")


def token_fingerprint(dataset: Dataset, columns: tuple[str, ...] = TOKEN_COLUMNS, batch_size: int = 8192) -> str:
    """SHA-256 of the token ids of every row, in row order (lengths and values, column by column)."""
    h = hashlib.sha256()
    h.update(f"{len(dataset)}|{','.join(columns)}".encode())
    view = dataset.select_columns(list(columns)).with_format("arrow")
    for batch in view.iter(batch_size=batch_size):
        for name in columns:
            column = batch.column(name)
            h.update(np.asarray(pc.list_value_length(column).to_numpy(zero_copy_only=False), np.int64).tobytes())
            h.update(np.asarray(pc.list_flatten(column).to_numpy(zero_copy_only=False), np.int64).tobytes())
    return h.hexdigest()


def is_zero3_partitioned(module: torch.nn.Module) -> bool:
    """Whether a module's parameters are ZeRO-3 partitions (built under `deepspeed.zero.Init`)."""
    module = getattr(module, "module", module)  # a DeepSpeed engine wraps the model
    return any(hasattr(p, "ds_id") for p in module.parameters())


def _update(h: Any, tensor: torch.Tensor) -> None:
    tensor = tensor.detach().cpu()
    h.update(str(tensor.dtype).encode())
    if tensor.dtype in (torch.bfloat16, torch.float8_e4m3fn, torch.float8_e5m2):
        tensor = tensor.to(torch.float32)
    h.update(tensor.numpy().tobytes())


def weights_digest(module: torch.nn.Module) -> str:
    """SHA-256 of the full weights, equal to TRL's `hash_module` of the unsharded model; ZeRO-3 partitions are
    gathered one parameter at a time (a collective: every rank must call this)."""
    module = getattr(module, "module", module)
    h = hashlib.sha256()
    state = module.state_dict(keep_vars=True)
    for name in sorted(state):
        tensor = state[name]
        if hasattr(tensor, "ds_id"):
            import deepspeed

            with deepspeed.zero.GatheredParameters([tensor], modifier_rank=None):
                _update(h, tensor.data)
        else:
            _update(h, tensor)
    return h.hexdigest()


def model_fingerprint(weights_hash: str, config: Any) -> str:
    """The weights hash plus the model config (rope, attention, dtype), without its load path or library version."""
    settings = json.loads(config.to_json_string(use_diff=False))
    for key in ("_name_or_path", "transformers_version"):
        settings.pop(key, None)
    return hashlib.sha256(f"{weights_hash}|{json.dumps(settings, sort_keys=True)}".encode()).hexdigest()


def cache_key(parts: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps({"v": FORMAT_VERSION, **parts}, sort_keys=True).encode()).hexdigest()[:32]


def load(path: Path, rows: int) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The cached (chosen, rejected) sums, or None when the file is absent or does not fit the dataset."""
    if not path.is_file():
        return None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        chosen, rejected = payload[VALUE_COLUMNS[0]], payload[VALUE_COLUMNS[1]]
    except Exception:  # a truncated or foreign file: recompute rather than fail the run
        return None
    if chosen.shape != (rows,) or rejected.shape != (rows,):
        return None
    return chosen, rejected


def save(path: Path, chosen: torch.Tensor, rejected: torch.Tensor, meta: dict[str, Any]) -> None:
    """Write the values atomically (a crash never leaves a half-written file under the final name)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save({VALUE_COLUMNS[0]: chosen.contiguous(), VALUE_COLUMNS[1]: rejected.contiguous()}, tmp)
    os.replace(tmp, path)
    path.with_suffix(".json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def attach(dataset: Dataset, chosen: torch.Tensor, rejected: torch.Tensor) -> Dataset:
    """The dataset with the two reference columns TRL's collator and loss read."""
    values = Dataset.from_dict({VALUE_COLUMNS[0]: chosen.float().numpy(), VALUE_COLUMNS[1]: rejected.float().numpy()})
    return concatenate_datasets([dataset, values], axis=1)


def columns_of(dataset: Dataset) -> tuple[torch.Tensor, torch.Tensor]:
    """The reference columns of a dataset TRL precomputed, as float32 tensors."""
    arrow = dataset.select_columns(list(VALUE_COLUMNS)).with_format("arrow")[:]
    return tuple(torch.from_numpy(arrow.column(c).to_numpy().astype(np.float32)) for c in VALUE_COLUMNS)
