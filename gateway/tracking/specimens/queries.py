"""Reading specimens: one with its timeline, a page of them (with the at-risk view the lab watches), turnaround."""

import dataclasses
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from gateway.rules.in_force import RulesInForce
from gateway.storage.chunks import chunks
from gateway.storage.database import Database
from gateway.storage.keyset_page import Page, PageRequest
from gateway.storage.stored_event import StoredEvent
from gateway.storage.tables import events, specimens
from gateway.storage.totals import Total
from gateway.tracking.specimens.fold import SpecimenRow, journey_events
from gateway.tracking.specimens.rollup_reads import rolled_up_turnaround
from gateway.tracking.specimens.store import (
    SpecimenFilter,
    keyed_specimens,
    specimen_histories,
    specimen_keyset,
    specimen_page,
    specimen_row,
)
from gateway.tracking.specimens.turnaround import GroupBy, TurnaroundReport, outlook


class SpecimenQueries:
    """The specimens' rows and timelines, judged by the rules in force."""

    def __init__(self, db: Database, rules: RulesInForce) -> None:
        self._db = db
        self._rules = rules

    async def get(self, barcode: str) -> tuple[SpecimenRow, list[StoredEvent]] | None:
        """The specimen's row and its timeline in custody order (with its carriers' trip events); None if unseen."""
        async with self._db.engine.connect() as connection:
            row = (await connection.execute(sa.select(specimens).where(specimens.c.barcode == barcode))).first()
            if row is None:
                return None
            history = (await specimen_histories(connection, [barcode]))[barcode]
        return specimen_row(row), journey_events(history)

    async def collectors(self, barcodes: Sequence[str]) -> dict[str, str]:
        """The badge of whoever collected each specimen (its first collection that names one), where known."""
        found: dict[str, tuple[datetime, int, str]] = {}
        async with self._db.engine.connect() as connection:
            for chunk in chunks(barcodes):
                query = sa.select(events.c.subject_id, events.c.occurred_at, events.c.seq, events.c.body).where(
                    events.c.subject_kind == "specimen",
                    events.c.subject_id.in_(chunk),
                    events.c.type == "specimen.collected",
                )
                for row in await connection.execute(query):
                    badge = (row.body.get("data") or {}).get("badge")
                    seen = found.get(row.subject_id)
                    if badge and (seen is None or (row.occurred_at, row.seq) < seen[:2]):
                        found[row.subject_id] = (row.occurred_at, row.seq, badge)
        return {barcode: badge for barcode, (_, _, badge) in found.items()}

    async def page(
        self,
        *,
        limit: int,
        offset: int,
        status: str | None = None,
        where: SpecimenFilter | None = None,
        by_due: bool = False,
        at_risk_at: datetime | None = None,
    ) -> tuple[list[SpecimenRow], int]:
        """One page of specimens, most recent first (or the earliest due first), and how many match in all."""
        where = where or SpecimenFilter()
        if status is not None:
            where = dataclasses.replace(where, status=status)
        found = await self.listing(
            PageRequest(limit, offset, exact_total=True), where=where, by_due=by_due, at_risk_at=at_risk_at
        )
        return found.rows, found.total.value

    async def listing(
        self,
        request: PageRequest,
        *,
        where: SpecimenFilter,
        by_due: bool = False,
        at_risk_at: datetime | None = None,
    ) -> Page[SpecimenRow]:
        """One page of specimens by keyset, most recent first (or the earliest due first), and the list's total.

        With `at_risk_at` (now), only the specimens predicted to miss a target not yet passed; those are few (open,
        due from now to the longest legs' time ahead: `ix_specimens_due_open`, `SpecimenFilter.open_due_within`), so
        they are judged here with `turnaround.outlook`, counted exactly, and paged in memory, after the cursor's row
        when there is one.
        """
        rules = self._rules.current
        async with self._db.engine.connect() as connection:
            if at_risk_at is None:
                return await specimen_page(connection, where, by_due=by_due, request=request)
            horizon = timedelta(minutes=rules.turnaround.expected_legs.longest_minutes)
            candidates = dataclasses.replace(where, open_due_from=at_risk_at, open_due_within=(at_risk_at, horizon))
            every = await keyed_specimens(connection, candidates, by_due=by_due)
            after = None
            if request.cursor is not None:
                after = await keyed_specimens(connection, candidates, by_due=by_due, cursor=request.cursor)

        def risky(keyed: list[tuple[SpecimenRow, Any]]) -> list[tuple[SpecimenRow, Any]]:
            return [(row, key) for row, key in keyed if outlook(row, rules, at_risk_at).state == "at_risk"]

        at_risk = risky(every)
        total = len(at_risk)
        window = (at_risk if after is None else risky(after))[request.offset : request.offset + request.limit + 1]
        rows = window[: request.limit]
        more = len(window) > request.limit
        next_cursor = specimen_keyset(by_due).encode(rows[-1][1], candidates.scope()) if more else None
        return Page([row for row, _ in rows], Total(total), next_cursor)

    async def turnaround(
        self,
        since: datetime,
        until: datetime,
        *,
        site: str | None = None,
        group_by: GroupBy | None = None,
        wards: tuple[str, ...] | None = None,
    ) -> TurnaroundReport:
        """Collection-to-result figures over the specimens collected in [since, until) and resulted since (those of
        `wards`, when given), overall and per `group_by`, from the rollups (`rollup_reads`)."""
        async with self._db.engine.connect() as connection:
            return await rolled_up_turnaround(connection, since, until, site=site, group_by=group_by, wards=wards)
