"""Verify the custody log: walk every chain in order and recompute every hash and every body fingerprint.

The chains are one per site (`site_position` order, each starting from the recorded head of the single chain of
before), and that single chain itself (`position` order, records with no site), which must still end at the head
recorded when the site chains began (`custody_chain_start`). Each chain is reported on its own (`ChainReport`).

Problems are named for what an investigator needs to know:

- `edited`: a record's fields no longer match its hash, or a recorded event's body (or its columns) changed;
- `removed`: positions are missing, a record's event is gone, or a record chains to a hash no record has;
- `reordered`: a record chains to a record other than the one before it (records were moved or swapped);
- `unrecorded`: an event about a specimen, carrier, delivery or cabinet has no record at all.

A chain whose oldest records retention archived or deleted is walked from its anchor (`custody_anchors`: the place
and hash of the last record removed), and events received before the removal are not asked for a record.

A hash chain alone cannot show that its newest records were cut off together with their events: keep the heads
(each site's position and hash) that `verify` reports somewhere else, and compare them later.
"""

from dataclasses import dataclass, field
from typing import Any, Literal
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.custody.log import CUSTODY_KINDS, GENESIS_HASH, CustodyFields, body_sha256, chain_start, record_hash
from gateway.storage.custody_anchors import LEGACY_CHAIN, anchors, removed_before
from gateway.storage.tables import custody_log, events

ProblemKind = Literal["edited", "removed", "reordered", "unrecorded"]

MAX_PROBLEMS = 1000
"""A log tampered with everywhere would report without end; past this the report says it stopped counting."""
_PAGE = 1000


@dataclass(frozen=True, slots=True)
class AuditProblem:
    kind: ProblemKind
    detail: str
    position: int | None = None
    """In the record's chain: its site's (`site_position`), or the single chain of before's (`position`)."""
    event_id: UUID | None = None
    site: str | None = None
    """The chain's site; None for the single chain of before, or an unrecorded event's problem."""


@dataclass(slots=True)
class ChainReport:
    """One chain's walk: its site (None: the single chain of before), its records, its head, its problems."""

    site: str | None
    records: int = 0
    head_position: int | None = None
    head_hash: str | None = None
    problems: int = 0
    anchored_at: int | None = None
    """The place of the last record retention removed (the walk started after it); None: nothing removed."""

    def summary(self) -> str:
        name = "single chain of before" if self.site is None else f"site {self.site}"
        head = "empty" if self.head_position is None else f"head at {self.head_position} ({self.head_hash})"
        verdict = "intact" if not self.problems else f"NOT intact ({self.problems} problem(s))"
        archived = "" if self.anchored_at is None else f", archived up to {self.anchored_at}"
        return f"{name}: {verdict}, {self.records} record(s), {head}{archived}"


@dataclass(slots=True)
class AuditReport:
    """What `verify_custody_log` found: how many records it checked, the newest record, each chain, each problem."""

    records: int = 0
    head_position: int | None = None
    """The newest record's `position` (its key in the log); each chain's own head is in `chains`."""
    head_hash: str | None = None
    chains: list["ChainReport"] = field(default_factory=list)
    problems: list[AuditProblem] = field(default_factory=list)
    truncated: bool = False
    """True when more than `MAX_PROBLEMS` problems were found and the rest were not listed."""

    @property
    def intact(self) -> bool:
        return not self.problems

    def add(
        self,
        kind: ProblemKind,
        detail: str,
        position: int | None = None,
        event_id: UUID | None = None,
        site: str | None = None,
    ) -> None:
        if len(self.problems) >= MAX_PROBLEMS:
            self.truncated = True
            return
        self.problems.append(AuditProblem(kind, detail, position, event_id, site))

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for problem in self.problems:
            found[problem.kind] = found.get(problem.kind, 0) + 1
        return found

    def summary(self) -> str:
        sites = sum(1 for chain in self.chains if chain.site is not None)
        head = "empty" if self.head_position is None else f"newest at position {self.head_position} ({self.head_hash})"
        where = f"{self.records} record(s) in {sites} site chain(s), {head}"
        if self.intact:
            return f"custody log intact: {where}"
        counts = ", ".join(f"{n} {kind}" for kind, n in sorted(self.counts().items()))
        more = f" (stopped listing after {MAX_PROBLEMS})" if self.truncated else ""
        listed = f"{len(self.problems)} problem(s){more}: {counts}"
        return f"custody log NOT intact: {listed}; {where}"


async def _unrecorded(connection: AsyncConnection, report: AuditReport) -> None:
    c = events.c
    recorded = sa.select(custody_log.c.event_id).where(custody_log.c.event_id == c.id).exists()
    # An event received before retention removed records up to a time may have had its record removed with them.
    removed = await removed_before(connection)
    kept = [] if removed is None else [c.received_at >= removed]
    query = (
        sa.select(c.id, c.type, c.subject_kind, c.subject_id)
        .where(c.subject_kind.in_(CUSTODY_KINDS), ~recorded, *kept)
        .order_by(c.received_at, c.id)
        .limit(MAX_PROBLEMS + 1)
    )
    for row in await connection.execute(query):
        report.add(
            "unrecorded",
            f"event {row.id} ({row.type} about {row.subject_kind} {row.subject_id}) has no custody record",
            event_id=row.id,
        )


def _in_chain(site: str | None) -> sa.ColumnElement[bool]:
    return custody_log.c.site.is_(None) if site is None else custody_log.c.site == site


def _order_of(site: str | None) -> sa.ColumnElement[Any]:
    """The column a chain is walked by: its site's `site_position`, or `position` for the single chain of before."""
    return custody_log.c.position if site is None else custody_log.c.site_position


async def _page(connection: AsyncConnection, site: str | None, after: int) -> list[Any]:
    log, ev = custody_log.c, events.c
    order = _order_of(site)
    query = (
        sa.select(
            custody_log,
            order.label("chain_position"),
            ev.id.label("stored_id"),
            ev.subject_kind.label("stored_subject_kind"),
            ev.subject_id.label("stored_subject_id"),
            ev.type.label("stored_type"),
            ev.occurred_at.label("stored_occurred_at"),
            ev.body.label("stored_body"),
        )
        .select_from(custody_log.outerjoin(events, ev.id == log.event_id))
        .where(_in_chain(site), order > after)
        .order_by(order)
        .limit(_PAGE)
    )
    return list(await connection.execute(query))


class _Chain:
    """The walk's state in one chain: where the previous record was and what it hashed to."""

    def __init__(
        self,
        connection: AsyncConnection,
        report: AuditReport,
        site: str | None,
        genesis: str,
        anchor: tuple[int, str] | None = None,
    ) -> None:
        """A chain walked from `genesis` (the hash its first record chains to), or from its `anchor` (the place and
        hash of its last record retention removed)."""
        self.connection = connection
        self.report = report
        self.site = site
        self.summary = ChainReport(site, anchored_at=None if anchor is None else anchor[0])
        after, self.prev_hash = anchor or (0, genesis)
        self.expected = after + 1
        self._positions: dict[str, int | None] = {self.prev_hash: after}

    def add(self, kind: ProblemKind, detail: str, position: int | None, event_id: UUID | None = None) -> None:
        where = "" if self.site is None else f"site {self.site}: "
        self.summary.problems += 1
        self.report.add(kind, where + detail, position=position, event_id=event_id, site=self.site)

    async def position_of(self, digest: str) -> int | None:
        """Where the record with this hash is now in this chain (0 for its start); None when no record has it."""
        if digest not in self._positions:
            query = sa.select(_order_of(self.site)).where(_in_chain(self.site), custody_log.c.hash == digest).limit(1)
            self._positions[digest] = (await self.connection.execute(query)).scalar_one_or_none()
        return self._positions[digest]

    async def check(self, row: Any) -> None:
        position = row.chain_position
        moved_from: int | None = None  # the position the record's own hash was computed for, when it moved
        if position < self.expected:  # a place in the chain held twice: a record was copied or inserted
            self.add(
                "edited",
                f"record {position} holds a place in the chain that another record holds: a record was inserted",
                position=position,
                event_id=row.event_id,
            )
            return
        if position != self.expected:
            missing = (
                f"position {self.expected}"
                if position == self.expected + 1
                else f"positions {self.expected} to {position - 1}"
            )
            self.add("removed", f"{missing} missing from the chain (records deleted)", position=self.expected)
        elif row.prev_hash != self.prev_hash:
            predecessor = await self.position_of(row.prev_hash)
            if predecessor is not None:
                moved_from = predecessor + 1
                self.add(
                    "reordered",
                    f"record {position} chains to the record now at position {predecessor}, "
                    f"not to position {position - 1}: records were moved",
                    position=position,
                    event_id=row.event_id,
                )
            else:
                self.add(
                    "removed",
                    f"record {position} chains to a record that is no longer in the log "
                    f"(prev_hash {row.prev_hash[:12]}...): its predecessor was removed or replaced",
                    position=position,
                    event_id=row.event_id,
                )
        moved_intact = moved_from is not None and (
            record_hash(row.prev_hash, CustodyFields.of(row, position=moved_from)) == row.hash
        )
        if record_hash(row.prev_hash, CustodyFields.of(row)) != row.hash and not moved_intact:
            self.add(
                "edited",
                f"record {position}'s fields no longer match its hash: the record was edited",
                position=position,
                event_id=row.event_id,
            )
        self._check_event(row)
        self.expected = position + 1
        self.prev_hash = row.hash
        self.summary.records += 1
        self.summary.head_position, self.summary.head_hash = position, row.hash

    def _check_event(self, row: Any) -> None:
        position = row.chain_position
        if row.stored_id is None:
            self.add(
                "removed",
                f"record {position}'s event {row.event_id} is missing from the events table",
                position=position,
                event_id=row.event_id,
            )
            return
        if body_sha256(row.stored_body) != row.body_sha256:
            self.add(
                "edited",
                f"event {row.event_id} (record {position}) was changed after it was recorded: its body no longer "
                "matches the record's body_sha256",
                position=position,
                event_id=row.event_id,
            )
        differing = [
            name
            for name in ("subject_kind", "subject_id", "type", "occurred_at")
            if getattr(row, f"stored_{name}") != getattr(row, name)
        ]
        if differing:
            self.add(
                "edited",
                f"event {row.event_id}'s stored {', '.join(differing)} differ from record {position}",
                position=position,
                event_id=row.event_id,
            )


async def _walk(connection: AsyncConnection, chain: _Chain) -> None:
    after = chain.expected - 1
    while rows := await _page(connection, chain.site, after):
        for row in rows:
            await chain.check(row)
            chain.report.records += 1
            if chain.report.head_position is None or row.position > chain.report.head_position:
                chain.report.head_position, chain.report.head_hash = row.position, row.hash
        after = rows[-1].chain_position


def _check_closed(chain: _Chain, start: tuple[int, str]) -> None:
    """The single chain of before must end where the site chains start: at the head recorded then."""
    position, digest = start
    head = chain.expected - 1  # its last record's place (or its anchor's, when retention removed them all)
    if head < position:
        chain.add(
            "removed",
            f"the chain ends at position {head}, but the site chains start from its head at position {position}: "
            "its newest records were removed",
            position=head + 1,
        )
    elif head > position:
        chain.add(
            "edited",
            f"records were added after position {position}, where the chain was closed and the site chains start",
            position=position + 1,
        )
    elif position and chain.prev_hash != digest:
        chain.add("edited", f"record {position}, where the site chains start, is not the one they start from", position)


async def verify_custody_log(connection: AsyncConnection) -> AuditReport:
    """Check every chain of the log and every recorded event; read-only, safe while the gateway appends."""
    report = AuditReport()
    # Unrecorded events first: an event and its record commit together, so anything appended during the walks
    # below is a whole record with its event, never a false "unrecorded".
    await _unrecorded(connection, report)
    start = await chain_start(connection)
    anchored = await anchors(connection)
    before = _Chain(connection, report, None, GENESIS_HASH, anchored.get(LEGACY_CHAIN))
    await _walk(connection, before)
    _check_closed(before, start)
    if before.summary.records or before.summary.problems or before.summary.anchored_at is not None:
        report.chains.append(before.summary)
    sites = sa.select(custody_log.c.site).where(custody_log.c.site.is_not(None)).distinct()
    every = set((await connection.execute(sites)).scalars()) | {chain for chain in anchored if chain != LEGACY_CHAIN}
    for site in sorted(every):
        chain = _Chain(connection, report, site, start[1], anchored.get(site))
        await _walk(connection, chain)
        report.chains.append(chain.summary)
    return report
