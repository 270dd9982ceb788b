"""Long key lists and row lists cut into statements of a safe size."""

from collections.abc import Iterable, Sequence
from typing import Any

CHUNK = 1000
"""Keys or rows per statement: far below SQLite's and asyncpg's bound-parameter limits."""


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    """`items` in slices of at most `size`, for `IN (...)` lists and multi-row inserts."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
