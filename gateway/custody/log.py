"""The custody log: one append-only record per custody event, each chained by SHA-256 to the record before in its
site's chain.

Every stored event about a specimen, carrier, delivery or cabinet gets one record, in commit order (not the order
things happened). Each site has its own chain (migration 0013): `site_position` counts up from 1 without gaps
within the site, `body_sha256` fingerprints the event body as stored in `events.body`, and `hash = sha256(prev_hash
+ canonical JSON of the record's fields, its site and site_position among them)`; a site's first record chains to
the head of the single chain of before (`custody_chain_start`: 64 zeros when there was none). The records of that
single chain keep `site` NULL and their hashes over `position`, as they were written. `position` is every record's
unique key, in commit order (from a sequence on PostgreSQL: passes of different sites append at once, so it may
skip numbers). Editing, removing or reordering a record, or editing a recorded event's body, breaks a hash or a
link that `gateway.custody.verify.verify_custody_log` recomputes.

Appends to a site's chain are serialised: on PostgreSQL by the site's projection lock every pass of it takes
(`gateway.projection.transaction`; several projectors may append to different sites at once), on SQLite by its
single writer. Both the writer and the verifier hash the
canonical JSON form (`canonical_json`), so a database that reorders keys or reformats numbers in a JSON column
changes no hash.
"""

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from contract import Event
from gateway.projection.transaction import Tx
from gateway.storage.chunks import chunks
from gateway.storage.custody_anchors import anchors
from gateway.storage.tables import custody_chain_start, custody_log, events, projection_backlog
from gateway.storage.totals import Total, total_of

CUSTODY_KINDS: tuple[str, ...] = ("specimen", "carrier", "delivery", "cabinet")
"""Subject kinds whose events are custody evidence (robots and devices report health, not custody)."""

GENESIS_HASH = "0" * 64
"""The `prev_hash` of the first record."""


def _canonical(value: Any) -> Any:
    """Numbers as the JSON column may give them back: an integral float is the integer it equals."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:  # the common leaves first: this runs per value
        return value
    if kind is dict:
        return {str(k): _canonical(v) for k, v in value.items()}
    if kind is list:
        return [_canonical(v) for v in value]
    if isinstance(value, int | str):  # bool is an int
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("a custody record cannot hold NaN or infinity")
        return int(value) if value.is_integer() else value
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, ASCII, integral floats as integers: the same text for the same JSON value."""
    return json.dumps(_canonical(value), sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def body_sha256(body: Any) -> str:
    """The fingerprint of an event body as stored in `events.body`."""
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()


def iso(at: datetime) -> str:
    """One spelling of an instant: UTC, microseconds, `Z`."""
    if at.tzinfo is None:
        raise ValueError("naive datetime: custody records hold aware UTC instants")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True)
class CustodyFields:
    """What a record's hash covers (besides the previous hash)."""

    position: int
    """In the site's chain (`site_position`); for a record of the single chain of before, its `position`."""
    event_id: UUID
    subject_kind: str
    subject_id: str
    type: str
    occurred_at: datetime
    recorded_at: datetime
    body_sha256: str
    site: str | None = None
    """None for a record of the single chain of before (its hash does not cover a site)."""

    @classmethod
    def of(cls, row: Any, *, position: int | None = None) -> "CustodyFields":
        """The fields of a stored `custody_log` row; `position` overrides the stored one (to test a move)."""
        site = getattr(row, "site", None)
        stored = row.position if site is None else row.site_position
        return cls(
            site=site,
            position=stored if position is None else position,
            event_id=row.event_id,
            subject_kind=row.subject_kind,
            subject_id=row.subject_id,
            type=row.type,
            occurred_at=row.occurred_at,
            recorded_at=row.recorded_at,
            body_sha256=row.body_sha256,
        )

    def canonical(self) -> str:
        site = {} if self.site is None else {"site": self.site}
        return canonical_json(
            {
                **site,
                "position": self.position,
                "event_id": str(self.event_id),
                "subject_kind": self.subject_kind,
                "subject_id": self.subject_id,
                "type": self.type,
                "occurred_at": iso(self.occurred_at),
                "recorded_at": iso(self.recorded_at),
                "body_sha256": self.body_sha256,
            }
        )


def record_hash(prev_hash: str, fields: CustodyFields) -> str:
    """`sha256(prev_hash + canonical JSON of the fields)`, hex."""
    return hashlib.sha256((prev_hash + fields.canonical()).encode()).hexdigest()


# -- appending ---------------------------------------------------------------------------------------------------
def _append_order(event: Event) -> tuple[datetime, int, str]:
    return (event.occurred_at, event.seq, str(event.id))


async def chain_start(connection: AsyncConnection) -> tuple[int, str]:
    """Where the site chains start: the single chain of before's head (position and hash; 0 and 64 zeros if none)."""
    c = custody_chain_start.c
    row = (await connection.execute(sa.select(c.legacy_position, c.legacy_hash).where(c.id == 1))).first()
    return (0, GENESIS_HASH) if row is None else (int(row.legacy_position), str(row.legacy_hash))


async def _site_head(connection: AsyncConnection, site: str) -> tuple[int, str] | None:
    """The site's last record (site_position and hash), or its anchor's once retention removed them all; None for a
    site with no chain yet."""
    c = custody_log.c
    query = sa.select(c.site_position, c.hash).where(c.site == site).order_by(c.site_position.desc()).limit(1)
    row = (await connection.execute(query)).first()
    if row is not None:
        return (int(row.site_position), str(row.hash))
    return (await anchors(connection, site)).get(site)


async def _positions(connection: AsyncConnection, count: int) -> list[int]:
    """`count` new record keys, in order: from the sequence on PostgreSQL, after the highest on SQLite."""
    if connection.dialect.name == "postgresql":
        draw = sa.text("SELECT nextval('custody_log_position_seq') FROM generate_series(1, :n)")
        return sorted(int(p) for p in (await connection.execute(draw, {"n": count})).scalars())
    highest = (await connection.execute(sa.select(sa.func.max(custody_log.c.position)))).scalar_one_or_none() or 0
    return list(range(highest + 1, highest + 1 + count))


async def _older_unrecorded(connection: AsyncConnection, site: str, batch: set[UUID]) -> list[UUID]:
    """A site's custody events stored before the log existed (a database upgraded to the custody log), oldest
    first; not those waiting in the projection backlog: their own projection pass records them."""
    c = events.c
    waiting = sa.select(projection_backlog.c.event_id)
    query = (
        sa.select(c.id)
        .where(c.site == site, c.subject_kind.in_(CUSTODY_KINDS), c.id.not_in(waiting))
        .order_by(c.received_at, c.occurred_at, c.seq, c.id)
    )
    return [event_id for event_id in (await connection.execute(query)).scalars() if event_id not in batch]


async def _stored(connection: AsyncConnection, ids: Sequence[UUID]) -> dict[UUID, Any]:
    found: dict[UUID, Any] = {}
    for chunk in chunks(ids):
        query = sa.select(
            events.c.id, events.c.subject_kind, events.c.subject_id, events.c.type, events.c.occurred_at, events.c.body
        ).where(events.c.id.in_(chunk))
        found.update({row.id: row for row in await connection.execute(query)})
    return found


async def project_custody_log(tx: Tx, new: Sequence[Event]) -> None:
    """The projector: append one chained record per new custody event to its site's chain, in (occurred_at, seq,
    id) order."""
    custody = sorted((e for e in new if e.subject.kind in CUSTODY_KINDS), key=_append_order)
    if not custody:
        return
    connection = tx.connection
    by_site: dict[str, list[Event]] = {}
    for event in custody:
        by_site.setdefault(event.site, []).append(event)
    start: tuple[int, str] | None = None
    records: list[dict[str, Any]] = []
    recorded_at = datetime.now(UTC)
    for site in sorted(by_site):
        head = await _site_head(connection, site)
        ids = [e.id for e in by_site[site]]
        if head is None:
            start = start or await chain_start(connection)
            if start[0] == 0:  # no chain of before: events stored before the log existed are this site's to record
                ids = await _older_unrecorded(connection, site, set(ids)) + ids
            head = (0, start[1])  # a site's chain starts from the head of the single chain of before
        records += await _chain(tx, site, ids, by_site[site], head, recorded_at)
    for record, position in zip(records, await _positions(connection, len(records)), strict=True):
        record["position"] = position
    for chunk in chunks(records):
        await connection.execute(sa.insert(custody_log), list(chunk))


async def _chain(
    tx: Tx, site: str, ids: Sequence[UUID], new: Sequence[Event], head: tuple[int, str], recorded_at: datetime
) -> list[dict[str, Any]]:
    """The records that extend one site's chain from `head` (its last site_position and hash) by these events."""
    # Hash the body as the database holds it, exactly as the verifier will read it: the JSON this transaction
    # inserted (the canonical form of a JSON round trip is the same), or, for anything else, as read back.
    by_id = {e.id: e for e in new}
    stored = await _stored(tx.connection, [i for i in ids if i not in tx.bodies or i not in by_id])
    position, prev_hash = head
    records = []
    for event_id in ids:
        row = stored.get(event_id)
        if row is None:
            event = by_id[event_id]
            subject_kind, subject_id = event.subject.kind, event.subject.id
            type_, occurred_at = event.type, event.occurred_at
            digest_of_body = body_sha256(tx.bodies[event_id])
        else:
            subject_kind, subject_id, type_, occurred_at = row.subject_kind, row.subject_id, row.type, row.occurred_at
            digest_of_body = body_sha256(row.body)
        position += 1
        fields = CustodyFields(
            position=position,
            event_id=event_id,
            subject_kind=subject_kind,
            subject_id=subject_id,
            type=type_,
            occurred_at=occurred_at,
            recorded_at=recorded_at,
            body_sha256=digest_of_body,
            site=site,
        )
        digest = record_hash(prev_hash, fields)
        records.append(
            {
                "site": site,
                "site_position": fields.position,
                "event_id": fields.event_id,
                "subject_kind": fields.subject_kind,
                "subject_id": fields.subject_id,
                "type": fields.type,
                "occurred_at": fields.occurred_at,
                "recorded_at": fields.recorded_at,
                "body_sha256": fields.body_sha256,
                "prev_hash": prev_hash,
                "hash": digest,
            }
        )
        prev_hash = digest
    return records


# -- reading -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CustodyRecord:
    """One record of the log, with what its event says (device and data: the badge, the place)."""

    position: int
    event_id: UUID
    subject_kind: str
    subject_id: str
    type: str
    occurred_at: datetime
    recorded_at: datetime
    body_sha256: str
    prev_hash: str
    hash: str
    device: str | None
    data: Mapping[str, Any]
    site: str | None = None
    """The site whose chain the record is in; None for a record of the single chain of before."""
    site_position: int | None = None


def _record(r: Any) -> CustodyRecord:
    """A `custody_log` row joined with its event's device and body."""
    return CustodyRecord(
        position=r.position,
        event_id=r.event_id,
        subject_kind=r.subject_kind,
        subject_id=r.subject_id,
        type=r.type,
        occurred_at=r.occurred_at,
        recorded_at=r.recorded_at,
        body_sha256=r.body_sha256,
        prev_hash=r.prev_hash,
        hash=r.hash,
        device=r.device,
        data=(r.body or {}).get("data") or {},
        site=r.site,
        site_position=r.site_position,
    )


async def record_at(connection: AsyncConnection, position: int) -> CustodyRecord | None:
    """The record at `position` in the log, with its event's device and data; None when there is none."""
    query = (
        sa.select(custody_log, events.c.device, events.c.body)
        .select_from(custody_log.outerjoin(events, events.c.id == custody_log.c.event_id))
        .where(custody_log.c.position == position)
    )
    row = (await connection.execute(query)).first()
    return None if row is None else _record(row)


async def subject_records(
    connection: AsyncConnection,
    subject_kind: str,
    subject_id: str,
    *,
    limit: int,
    offset: int,
    trips: Sequence[tuple[str, int]] | None = None,
    exact_total: bool = False,
) -> tuple[list[CustodyRecord], Total]:
    """A subject's records in log order (the order they were recorded), one page, and how many in all: a short first
    page is its own total, else they are counted up to `CAP` + 1 (`storage/totals.py`; a carrier over years has
    hundreds of thousands).

    `trips` (a carrier's): only the records of these (site, transaction) trips; `exact_total`: count every one
    (FHIR's `Bundle.total`)."""
    log = custody_log.c
    where: list[sa.ColumnElement[bool]] = [log.subject_kind == subject_kind, log.subject_id == subject_id]
    if trips is not None:  # a condition on the log's rows alone, so that the total counts the log without a join
        trip = events.alias("trip_event")
        transaction = sa.cast(trip.c.body[("data", "transaction")].as_string(), sa.BigInteger)
        on_trip = sa.tuple_(trip.c.site, transaction).in_([tuple(t) for t in trips])
        where.append(sa.exists().where(trip.c.id == log.event_id, on_trip))
    page = (
        sa.select(custody_log, events.c.device, events.c.body)
        .select_from(custody_log.outerjoin(events, events.c.id == log.event_id))
        .where(*where)
        .order_by(log.position)
        .limit(limit + 1)  # one past the page: a first page without it is the whole list
        .offset(offset)
    )
    fetched = list(await connection.execute(page))
    rows = fetched[:limit]
    whole_list = len(rows) if offset == 0 and len(fetched) <= limit else None
    total = await total_of(connection, custody_log, where, whole_list=whole_list, exact=exact_total)
    return [_record(r) for r in rows], total
