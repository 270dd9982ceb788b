"""The total of a page that came back empty, for the list queries whose total rides on the page (a window count).

Each list query selects `count() OVER ()` with its page, so page and total are one snapshot. An empty page has no
row to carry the total: at the first page nothing matched, in that same snapshot, so the total is 0; past the last
page it is counted by a second statement. Counting at the first page too would let a row committed between the two
statements report a total of 1 beside an empty page.
"""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection


async def total_of_empty_page(connection: AsyncConnection, count: sa.Select[Any], offset: int) -> int:
    return 0 if offset == 0 else int((await connection.execute(count)).scalar_one())
