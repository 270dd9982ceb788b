"""Verify the custody log: walk the chain in position order and recompute every hash and every body fingerprint.

Problems are named for what an investigator needs to know:

- `edited`: a record's fields no longer match its hash, or a recorded event's body (or its columns) changed;
- `removed`: positions are missing, a record's event is gone, or a record chains to a hash no record has;
- `reordered`: a record chains to a record other than the one before it (records were moved or swapped);
- `unrecorded`: an event about a specimen, carrier, delivery or cabinet has no record at all.

A hash chain alone cannot show that its newest records were cut off together with their events: keep the head
(position and hash) that `verify` reports somewhere else, and compare it later.
"""

from dataclasses import dataclass, field
from typing import Any, Literal
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.custody.log import CUSTODY_KINDS, GENESIS_HASH, CustodyFields, body_sha256, record_hash
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
    event_id: UUID | None = None


@dataclass(slots=True)
class AuditReport:
    """What `verify_custody_log` found: how many records it checked, the head of the chain, and each problem."""

    records: int = 0
    head_position: int | None = None
    head_hash: str | None = None
    problems: list[AuditProblem] = field(default_factory=list)
    truncated: bool = False
    """True when more than `MAX_PROBLEMS` problems were found and the rest were not listed."""

    @property
    def intact(self) -> bool:
        return not self.problems

    def add(self, kind: ProblemKind, detail: str, position: int | None = None, event_id: UUID | None = None) -> None:
        if len(self.problems) >= MAX_PROBLEMS:
            self.truncated = True
            return
        self.problems.append(AuditProblem(kind, detail, position, event_id))

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for problem in self.problems:
            found[problem.kind] = found.get(problem.kind, 0) + 1
        return found

    def summary(self) -> str:
        head = "empty" if self.head_position is None else f"head at position {self.head_position} ({self.head_hash})"
        if self.intact:
            return f"custody log intact: {self.records} record(s), {head}"
        counts = ", ".join(f"{n} {kind}" for kind, n in sorted(self.counts().items()))
        more = f" (stopped listing after {MAX_PROBLEMS})" if self.truncated else ""
        listed = f"{len(self.problems)} problem(s){more}: {counts}"
        return f"custody log NOT intact: {listed}; {self.records} record(s), {head}"


async def _unrecorded(connection: AsyncConnection, report: AuditReport) -> None:
    c = events.c
    recorded = sa.select(custody_log.c.event_id).where(custody_log.c.event_id == c.id).exists()
    query = (
        sa.select(c.id, c.type, c.subject_kind, c.subject_id)
        .where(c.subject_kind.in_(CUSTODY_KINDS), ~recorded)
        .order_by(c.received_at, c.id)
        .limit(MAX_PROBLEMS + 1)
    )
    for row in await connection.execute(query):
        report.add(
            "unrecorded",
            f"event {row.id} ({row.type} about {row.subject_kind} {row.subject_id}) has no custody record",
            event_id=row.id,
        )


async def _page(connection: AsyncConnection, after: int) -> list[Any]:
    log, ev = custody_log.c, events.c
    query = (
        sa.select(
            custody_log,
            ev.id.label("stored_id"),
            ev.subject_kind.label("stored_subject_kind"),
            ev.subject_id.label("stored_subject_id"),
            ev.type.label("stored_type"),
            ev.occurred_at.label("stored_occurred_at"),
            ev.body.label("stored_body"),
        )
        .select_from(custody_log.outerjoin(events, ev.id == log.event_id))
        .where(log.position > after)
        .order_by(log.position)
        .limit(_PAGE)
    )
    return list(await connection.execute(query))


class _Chain:
    """The walk's state: where the previous record was and what it hashed to."""

    def __init__(self, connection: AsyncConnection, report: AuditReport) -> None:
        self.connection = connection
        self.report = report
        self.expected = 1
        self.prev_hash = GENESIS_HASH
        self._positions: dict[str, int | None] = {GENESIS_HASH: 0}

    async def position_of(self, digest: str) -> int | None:
        """Where the record with this hash is now (0 for the genesis hash); None when no record has it."""
        if digest not in self._positions:
            query = sa.select(custody_log.c.position).where(custody_log.c.hash == digest).limit(1)
            self._positions[digest] = (await self.connection.execute(query)).scalar_one_or_none()
        return self._positions[digest]

    async def check(self, row: Any) -> None:
        report, position = self.report, row.position
        moved_from: int | None = None  # the position the record's own hash was computed for, when it moved
        if position != self.expected:
            missing = (
                f"position {self.expected}"
                if position == self.expected + 1
                else f"positions {self.expected} to {position - 1}"
            )
            report.add("removed", f"{missing} missing from the chain (records deleted)", position=self.expected)
        elif row.prev_hash != self.prev_hash:
            predecessor = await self.position_of(row.prev_hash)
            if predecessor is not None:
                moved_from = predecessor + 1
                report.add(
                    "reordered",
                    f"record {position} chains to the record now at position {predecessor}, "
                    f"not to position {position - 1}: records were moved",
                    position=position,
                    event_id=row.event_id,
                )
            else:
                report.add(
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
            report.add(
                "edited",
                f"record {position}'s fields no longer match its hash: the record was edited",
                position=position,
                event_id=row.event_id,
            )
        self._check_event(row)
        self.expected = position + 1
        self.prev_hash = row.hash

    def _check_event(self, row: Any) -> None:
        report, position = self.report, row.position
        if row.stored_id is None:
            report.add(
                "removed",
                f"record {position}'s event {row.event_id} is missing from the events table",
                position=position,
                event_id=row.event_id,
            )
            return
        if body_sha256(row.stored_body) != row.body_sha256:
            report.add(
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
            report.add(
                "edited",
                f"event {row.event_id}'s stored {', '.join(differing)} differ from record {position}",
                position=position,
                event_id=row.event_id,
            )


async def verify_custody_log(connection: AsyncConnection) -> AuditReport:
    """Check the whole log and every recorded event; read-only, safe while the gateway appends."""
    report = AuditReport()
    # Unrecorded events first: an event and its record commit together, so anything appended during the walk
    # below is a whole record with its event, never a false "unrecorded".
    await _unrecorded(connection, report)
    chain = _Chain(connection, report)
    after = 0
    while rows := await _page(connection, after):
        for row in rows:
            await chain.check(row)
            report.records += 1
            report.head_position, report.head_hash = row.position, row.hash
        after = rows[-1].position
    return report
