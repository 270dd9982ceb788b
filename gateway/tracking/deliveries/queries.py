"""Reading deliveries: a page of them by status, ward or robot, or one delivery with its steps."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from gateway.storage.database import Database
from gateway.storage.keyset_page import Page, PageRequest
from gateway.tracking.deliveries.fold import DeliveryRow, DeliveryStep
from gateway.tracking.deliveries.store import delivery_page, find_delivery, list_deliveries


class DeliveryQueries:
    """The deliveries' rows and the steps each went through."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def page(
        self,
        *,
        status: str | None = None,
        ward: str | None = None,
        wards: tuple[str, ...] | None = None,
        robot: str | None = None,
        in_progress: bool | None = None,
        overdue_at: datetime | None = None,
        ids: Sequence[str] | None = None,
        statuses: Sequence[str] | None = None,
        updated_since: datetime | None = None,
        updated_before: datetime | None = None,
        limit: int,
        offset: int,
    ) -> tuple[list[DeliveryRow], int]:
        """One page of deliveries, the most recently active first, and how many match in all (`list_deliveries`)."""
        async with self._db.engine.connect() as connection:
            return await list_deliveries(
                connection,
                status=status,
                ward=ward,
                wards=wards,
                robot=robot,
                in_progress=in_progress,
                overdue_at=overdue_at,
                ids=ids,
                statuses=statuses,
                updated_since=updated_since,
                updated_before=updated_before,
                limit=limit,
                offset=offset,
            )

    async def listing(self, request: PageRequest, **filters: Any) -> Page[DeliveryRow]:
        """One page of deliveries by keyset, the most recently active first, and the list's total (`delivery_page`,
        whose keyword filters `filters` are)."""
        async with self._db.engine.connect() as connection:
            return await delivery_page(connection, request, **filters)

    async def get(self, delivery: str) -> tuple[DeliveryRow, list[DeliveryStep]] | None:
        """The delivery's row and its steps in the order they happened; None when nothing about it arrived."""
        async with self._db.engine.connect() as connection:
            return await find_delivery(connection, delivery)
