"""Reference data in the database: versions, the one in force, and adopting a new one.

Each import becomes the next version and holds every kind in full: the kinds the import brought replace that
kind's whole list (a staff file is the whole staff list), the others are carried over from the version before.
So any version can be read or exported as it was, and a bad import is undone by importing the previous export.
Version 0 is "nothing imported": every lookup answers None and screens show the bare ids.
"""

import asyncio
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from gateway.reference.model import KINDS, DeviceInfo, Location, Medication, ReferenceData, StaffMember
from gateway.storage.database import Database
from gateway.storage.reference_tables import reference_items, reference_versions

_RECORDS: dict[str, type[Any]] = {
    "locations": Location,
    "staff": StaffMember,
    "medications": Medication,
    "devices": DeviceInfo,
}
_KEYS = {"locations": "id", "staff": "badge", "medications": "gtin", "devices": "id"}


@dataclass(frozen=True, slots=True)
class ReferenceVersion:
    version: int
    imported_at: datetime
    imported_by: str
    source: str
    comment: str
    counts: Mapping[str, int]


def _rows(version: int, data: ReferenceData) -> list[dict[str, Any]]:
    rows = []
    for kind in KINDS:
        key = _KEYS[kind]
        for item in getattr(data, kind).values():
            body = dataclasses.asdict(item)
            rows.append({"version": version, "kind": kind, "key": body[key], "body": body})
    return rows


def _data(version: int, rows: Sequence[Any]) -> ReferenceData:
    kinds: dict[str, list[Any]] = {kind: [] for kind in KINDS}
    for row in rows:
        kinds[row.kind].append(_RECORDS[row.kind](**row.body))
    return ReferenceData.of(version=version, **kinds)


class ReferenceStore:
    """Reads the version in force (cached, looked up again at most every `refresh_s`) and adopts new versions."""

    def __init__(self, db: Database, *, refresh_s: float = 5.0) -> None:
        self._db = db
        self._refresh_s = refresh_s
        self._cached = ReferenceData()
        self._checked_at = -float("inf")
        self._lock = asyncio.Lock()

    async def current(self) -> ReferenceData:
        """The version in force; another process's import shows within `refresh_s`."""
        loop = asyncio.get_running_loop()
        if loop.time() - self._checked_at < self._refresh_s:
            return self._cached
        async with self._lock:
            if loop.time() - self._checked_at >= self._refresh_s:
                latest = await self._latest_version()
                if latest != self._cached.version:
                    self._cached = await self.at(latest) or ReferenceData()
                self._checked_at = loop.time()
        return self._cached

    async def _latest_version(self) -> int:
        async with self._db.engine.connect() as connection:
            found = await connection.scalar(sa.select(sa.func.max(reference_versions.c.version)))
        return int(found or 0)

    async def at(self, version: int) -> ReferenceData | None:
        """One version's data; None when there is no such version (version 0 is always there, empty)."""
        if version == 0:
            return ReferenceData()
        async with self._db.engine.connect() as connection:
            known = await connection.scalar(
                sa.select(reference_versions.c.version).where(reference_versions.c.version == version)
            )
            if known is None:
                return None
            rows = (
                await connection.execute(
                    sa.select(reference_items.c.kind, reference_items.c.body).where(
                        reference_items.c.version == version
                    )
                )
            ).all()
        return _data(version, rows)

    async def versions(self) -> list[ReferenceVersion]:
        """Every imported version, newest first."""
        c = reference_versions.c
        async with self._db.engine.connect() as connection:
            rows = await connection.execute(sa.select(reference_versions).order_by(c.version.desc()))
            return [ReferenceVersion(**row._asdict()) for row in rows]

    async def adopt(
        self, imported: Mapping[str, Sequence[Any]], *, by: str, source: str, comment: str, now: datetime
    ) -> ReferenceData:
        """Store the next version: `imported` maps kinds to their whole new lists; other kinds are carried over."""
        unknown = set(imported) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown reference kinds: {', '.join(sorted(unknown))}; known: {', '.join(KINDS)}")
        for attempt in range(5):
            latest = await self._latest_version()
            previous = await self.at(latest) or ReferenceData()
            kinds = {kind: list(imported.get(kind, getattr(previous, kind).values())) for kind in KINDS}
            data = ReferenceData.of(version=latest + 1, **kinds)
            try:
                async with self._db.write(), self._db.engine.begin() as connection:
                    await connection.execute(
                        sa.insert(reference_versions).values(
                            version=data.version,
                            imported_at=now,
                            imported_by=by,
                            source=source[:200],
                            comment=comment[:200],
                            counts=data.counts(),
                        )
                    )
                    rows = _rows(data.version, data)
                    for start in range(0, len(rows), 1000):
                        await connection.execute(sa.insert(reference_items), rows[start : start + 1000])
            except IntegrityError:
                if attempt == 4:
                    raise
                continue  # another import took this version number first: build on it instead
            self._cached, self._checked_at = data, asyncio.get_running_loop().time()
            return data
        raise AssertionError("unreachable")
