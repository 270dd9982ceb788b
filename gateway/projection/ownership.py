"""Which site a specimen or a delivery belongs to, and the refusal of events that would carry one to another site.

A barcode or a delivery id is one row of `specimens` or `deliveries`, whatever site reports it. With the projection
partitioned by site, two passes of two sites could fold the same row at once (the later upsert wins), and an edge
of site B that reports a tube of site A (a label printed twice, a mis-configured edge, a tube sent across town)
would otherwise move it to B silently. So the first site whose event about a subject is projected owns it
(`subject_sites`, claimed in that pass's transaction); an event from another site about it (the subject's own
event, a carrier dispatched at B with it inside, a cabinet restocked at B from it) is refused: moved out of `events`
into `refused_events` with its body and the reason, taken off the backlog, never folded, never in the custody log.

On PostgreSQL a claim is an `INSERT ... ON CONFLICT DO NOTHING` on the subject's key: a second pass claiming the same
new subject waits for the first to commit, then reads its claim, so two sites never both own one subject. A claim
never changes, so this process keeps the ones it has seen (once its pass has committed).
"""

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa

from contract import Event
from gateway.projection.transaction import Tx
from gateway.storage.chunks import chunks
from gateway.storage.site_tables import refused_events, subject_sites
from gateway.storage.tables import events

SubjectKey = tuple[str, str]
"""(subject kind, subject id): a specimen's barcode or a delivery's id."""

OWNED_KINDS = ("specimen", "delivery")
"""Subjects keyed without their site: one row, so one site."""

KNOWN_OWNERS = 100_000
"""Claims this process remembers at most (the least recently used go first; they are read again when needed)."""


def subjects_of(event: Event) -> list[SubjectKey]:
    """The site-owned subjects an event is about: its own subject, the specimens a carrier took in, the delivery a
    cabinet was restocked from."""
    found: list[SubjectKey] = []
    if event.subject.kind in OWNED_KINDS:
        found.append((event.subject.kind, event.subject.id))
    data = event.data
    if event.subject.kind == "carrier":
        found.extend(("specimen", barcode) for barcode in getattr(data, "specimens", None) or ())
    if event.subject.kind == "cabinet" and (delivery := getattr(data, "delivery", None)) is not None:
        found.append(("delivery", str(delivery)))
    return found


@dataclass(frozen=True, slots=True)
class Refusal:
    """An event refused: which subject another site owns, and the reason as stored."""

    event: Event
    subject: SubjectKey
    owner: str

    @property
    def reason(self) -> str:
        kind, subject_id = self.subject
        return (
            f"{kind} {subject_id} belongs to site {self.owner}; edge {self.event.edge} of site {self.event.site} "
            f"reported it ({self.event.type}): refused, not moved across sites"
        )


def _order(event: Event) -> tuple[datetime, int, str]:
    return (event.occurred_at, event.seq, str(event.id))


class Owners:
    """The claims this process has seen; `refuse_foreign` reads and makes claims in a pass."""

    def __init__(self, capacity: int = KNOWN_OWNERS) -> None:
        self.capacity = capacity
        self._known: OrderedDict[SubjectKey, str] = OrderedDict()

    def known(self, key: SubjectKey) -> str | None:
        return self._known.get(key)

    def learn(self, claims: dict[SubjectKey, str]) -> None:
        """Remember claims read or made by a pass that committed."""
        for key, site in claims.items():
            self._known[key] = site
            self._known.move_to_end(key)
        while len(self._known) > self.capacity:
            self._known.popitem(last=False)

    async def refuse_foreign(self, tx: Tx, new: Sequence[Event]) -> tuple[list[Refusal], dict[SubjectKey, str]]:
        """In a pass's transaction: claim the new subjects for the site of their first event, and refuse (move to
        `refused_events`) every event about a subject another site owns. The refusals, and the claims read or made
        (to `learn` once the pass commits)."""
        wanted: dict[SubjectKey, str] = {}
        for event in sorted(new, key=_order):
            for key in subjects_of(event):
                wanted.setdefault(key, event.site)
        owners = {key: site for key in wanted if (site := self.known(key)) is not None}
        learned = await _claim(tx, {key: site for key, site in wanted.items() if key not in owners})
        owners.update(learned)
        refusals: list[Refusal] = []
        for event in new:
            foreign = next((key for key in subjects_of(event) if owners[key] != event.site), None)
            if foreign is not None:
                refusals.append(Refusal(event, foreign, owners[foreign]))
        if refusals:
            await _set_aside(tx, refusals)
        return refusals, learned


async def _claim(tx: Tx, wanted: dict[SubjectKey, str]) -> dict[SubjectKey, str]:
    """Claim each subject for its site unless a site owns it already; every one's owner."""
    if not wanted:
        return {}
    connection, now = tx.connection, datetime.now(UTC)
    keys = sorted(wanted)  # one order for every pass: two passes claiming the same subjects never wait in a cycle
    for chunk in chunks(keys):
        rows = [{"subject_kind": k, "subject_id": i, "site": wanted[(k, i)], "claimed_at": now} for k, i in chunk]
        statement = tx.insert(subject_sites).on_conflict_do_nothing(index_elements=["subject_kind", "subject_id"])
        await connection.execute(statement, rows)
    c = subject_sites.c
    owners: dict[SubjectKey, str] = {}
    for kind in sorted({k for k, _ in keys}):  # by kind and a list of ids: the primary key's index, not a row scan
        for chunk in chunks([i for k, i in keys if k == kind]):
            query = sa.select(c.subject_id, c.site).where(c.subject_kind == kind, c.subject_id.in_(chunk))
            owners.update({(kind, r.subject_id): r.site for r in await connection.execute(query)})
    return owners


async def _set_aside(tx: Tx, refusals: Sequence[Refusal]) -> None:
    """Move the refused events out of `events`, with their bodies and reasons, in the pass's transaction."""
    connection, now = tx.connection, datetime.now(UTC)
    ids = [r.event.id for r in refusals]
    bodies: dict[UUID, Any] = {i: tx.bodies[i] for i in ids if i in tx.bodies}
    for chunk in chunks([i for i in ids if i not in bodies]):
        query = sa.select(events.c.id, events.c.body).where(events.c.id.in_(chunk))
        bodies.update({r.id: r.body for r in await connection.execute(query)})
    rows = [
        {
            "event_id": r.event.id,
            "site": r.event.site,
            "edge": r.event.edge,
            "subject_kind": r.event.subject.kind,
            "subject_id": r.event.subject.id,
            "type": r.event.type,
            "occurred_at": r.event.occurred_at,
            "reason": r.reason[:400],
            "body": bodies[r.event.id],
            "refused_at": now,
        }
        for r in refusals
    ]
    for chunk in chunks(rows):
        await connection.execute(tx.insert(refused_events).on_conflict_do_nothing(index_elements=["event_id"]), chunk)
    for chunk in chunks(ids):
        await connection.execute(sa.delete(events).where(events.c.id.in_(chunk)))
