"""A copy of the quickstart's tiny base without a pad token, like Llama 3.1 base: the stages add `<pad>` and grow
the embedding (437 rows + 1, padded to a multiple of 8: 440)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

TINY_BASE = Path(__file__).resolve().parents[1] / "recipes" / "quickstart" / "tiny-base"


def base_without_pad(dst: Path) -> Path:
    """The tiny base with its `<pad>` (id 2) renamed `<unused_2>` and no pad token declared."""
    shutil.copytree(TINY_BASE, dst)
    tok = dst / "tokenizer.json"
    tok.write_text(tok.read_text().replace('"<pad>"', '"<unused_2>"'))
    config = json.loads((dst / "tokenizer_config.json").read_text())
    config.pop("pad_token", None)
    (dst / "tokenizer_config.json").write_text(json.dumps(config, indent=2))
    for name in ("config.json", "generation_config.json"):
        data = json.loads((dst / name).read_text())
        data.pop("pad_token_id", None)
        (dst / name).write_text(json.dumps(data, indent=2))
    return dst
