"""Data layer: load sources, normalize formats, apply the Tülu 3 filters and mix (open-instruct semantics).

Entry point::

    from tulu_recipes.data import load_mixture
    result = load_mixture([{"path": "allenai/tulu-3-sft-mixture", "fraction": 0.1}], kind="sft")
    result.train, result.test, result.table, result.to_markdown(), result.to_dict()
"""

from tulu_recipes.data.errors import DataError
from tulu_recipes.data.filters import DEFAULT_IDENTITY_KEYWORDS, FilterConfig, apply_filters
from tulu_recipes.data.mixer import MixtureResult, load_mixture, sample_indices, target_rows
from tulu_recipes.data.normalize import KINDS, normalize
from tulu_recipes.data.sources import SourceSpec, load_source, parse_sources

__all__ = [
    "DEFAULT_IDENTITY_KEYWORDS",
    "KINDS",
    "DataError",
    "FilterConfig",
    "MixtureResult",
    "SourceSpec",
    "apply_filters",
    "load_mixture",
    "load_source",
    "normalize",
    "parse_sources",
    "sample_indices",
    "target_rows",
]
