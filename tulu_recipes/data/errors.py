"""Errors raised by the data layer.

Rule: every problem with a user's data or mixture spec surfaces as a ``DataError`` whose message names the
source (path or label) and says what was found and what was expected. ``DataError`` subclasses ``ValueError``
so callers that already catch ``ValueError`` keep working.
"""

from __future__ import annotations


class DataError(ValueError):
    """A dataset, a source spec or a mixture cannot be used as given."""
