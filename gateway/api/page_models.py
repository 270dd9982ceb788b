"""What every keyset-paged list answers beside its rows: the cursor to the next page and the list's total."""

from typing import Any

from pydantic import BaseModel, Field

from gateway.storage.keyset_page import Page
from gateway.storage.totals import CAP

COUNTED_UP_TO_CAP = f"exact up to {CAP:,}; beyond, it is {CAP:,} and `total_capped` is true"
"""How a list's `count` is counted (`storage/totals.py`), for the lists paged by offset that report no estimate."""
TOTAL_CAPPED = f"true: counting stopped at {CAP:,}; there are at least that many (show it as {CAP:,}+)."


class KeysetListPublic(BaseModel):
    """The paging half of a list's answer; each list adds its `data`."""

    count: int = Field(
        description=f"How many match, across all pages: exact up to {CAP:,}; beyond, see total_capped and "
        "total_is_estimate (the same number as `total`, kept for older clients)."
    )
    total: int = Field(description="The same as `count`.")
    total_is_estimate: bool = Field(
        default=False,
        description="true: `total` is the database's estimate of an unfiltered list's size (PostgreSQL), not a count.",
    )
    total_capped: bool = Field(
        default=False,
        description=TOTAL_CAPPED,
    )
    next_cursor: str | None = Field(
        default=None,
        description="Pass as `cursor` (with the same filters and sort) for the page after this one; null on the last.",
    )


def paging_of(page: Page[Any]) -> dict[str, Any]:
    """The `KeysetListPublic` fields of `page`."""
    total = page.total
    return {
        "count": total.value,
        "total": total.value,
        "total_is_estimate": total.estimate,
        "total_capped": total.capped,
        "next_cursor": page.next_cursor,
    }
