"""Reading an IFBench instruction's keyword arguments; a bad value raises ``ValueError`` (the caller scores 0).

AllenAI's reference draws a random value where an argument is missing, ``None`` or negative (a keyword from its
word list, a count from a range), so such a row has no fixed verdict: here it is bad input. Counts may be written
as integral floats (``5.0``, as in ``allenai/IFBench_test``); booleans and strings are not numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def count(kwargs: Mapping[str, Any], key: str, *, minimum: int = 0) -> int:
    """A whole number ``>= minimum``."""
    value = kwargs.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise ValueError(f"{key} must be a whole number, got {value!r}")
    if value < minimum:
        raise ValueError(f"{key} must be at least {minimum}, got {value!r}")
    return int(value)


def percentage(kwargs: Mapping[str, Any], key: str = "percentage") -> float:
    """A number ``>= 0`` (a share in percent)."""
    value = kwargs.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ValueError(f"{key} must be a number >= 0, got {value!r}")
    return value


def text(kwargs: Mapping[str, Any], key: str, *, strip: bool = False) -> str:
    """A non-empty string (stripped first when ``strip``)."""
    value = kwargs.get(key)
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a string, got {value!r}")
    value = value.strip() if strip else value
    if not value:
        raise ValueError(f"{key} must not be empty")
    return value
