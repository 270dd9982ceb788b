"""`limit` and `offset` for list routes whose rows are few enough to be assembled in full and then paged."""

from collections.abc import Sequence
from typing import Annotated, TypeVar

from fastapi import Query

MAX_PAGE = 500
MAX_OFFSET = 2**31 - 1
"""Beyond any real list, and small enough for every database's integer (a larger one was a 500 on SQLite)."""

T = TypeVar("T")

Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"Page size, at most {MAX_PAGE}.")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="How many to skip: the page starts after them.")]


def page(rows: Sequence[T], limit: int, offset: int) -> list[T]:
    """One page of `rows`; the caller reports `len(rows)` as the total count."""
    return list(rows[offset : offset + limit])


Cursor = Annotated[
    str | None,
    Query(
        max_length=1000,
        pattern="^[A-Za-z0-9_-]+$",
        description="The previous page's `next_cursor`: this page starts after its last row. Keep the same filters "
        "and sort; `offset`, if given too, skips that many more.",
    ),
]
