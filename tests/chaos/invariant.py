"""The invariant, checked after healing: what the edge accepted is what the gateway stored, once, in order.

The edge's outbox file says how many events it accepted (`next_seq - first_seq`; sequence numbers are never
reused) and which still wait for an ack. The gateway's database says what it stored. From the two: lost
(accepted, neither stored nor still in the outbox), undelivered (still in the outbox after healing), duplicates
(one id twice, one (edge, seq) twice, or one device record stored under two sequence numbers), gaps still open
(missing sequence numbers no `sequence_gap` alert names) and specimens whose projected status is not what their
stored events say (a state that went backwards).
"""

import json
import sqlite3
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg

# What a specimen's status is after each sorter event; the latest event (by occurred_at) decides.
_STATUS_AFTER = {"specimen.scanned": "scanned", "specimen.sorted": "sorted", "specimen.rejected": "rejected"}
# A tube carrier's trip moves the specimens loaded at its dispatch (the trip is its `transaction`).
_CARRIED_AFTER = {
    "carrier.dispatched": (1, "in_transit"),
    "carrier.rerouted": (2, "in_transit"),
    "carrier.arrived": (3, "arrived"),
    "carrier.released": (4, "arrived"),
}


@dataclass(frozen=True)
class OutboxState:
    accepted: int
    """next_seq - first_seq: every event the edge accepted (wrote durably and gave a sequence number)."""
    waiting: int
    """Events still in the outbox (not yet acknowledged by the gateway)."""
    first_seq: int = 1
    """Where the outbox's numbering starts (1 unless the outbox was lost and started a new epoch)."""
    waiting_seqs: frozenset[int] = frozenset()
    """The seqs still in the outbox: not delivered yet, but not lost either (they are on the edge's disk)."""

    @property
    def seqs(self) -> range:
        return range(self.first_seq, self.first_seq + self.accepted)


def read_outbox(path: Path) -> OutboxState:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        waiting = frozenset(int(row[0]) for row in db.execute("SELECT seq FROM outbox"))
    finally:
        db.close()
    first = int(meta.get("first_seq", 1))
    accepted = int(meta.get("next_seq", first)) - first
    return OutboxState(accepted=accepted, waiting=len(waiting), first_seq=first, waiting_seqs=waiting)


@dataclass(frozen=True)
class StoredEvent:
    id: str
    seq: int
    type: str
    subject_id: str
    occurred_at: str
    data: str


@dataclass
class Verdict:
    accepted: int
    stored: int
    duplicates: int
    lost: int
    gaps_open: int
    regressed: int
    waiting: int
    undelivered: int = 0
    unknown: int = 0
    inconsistent: int = 0
    """Robots path: deliveries whose end does not match their robot's stored events (`tests.chaos.robots`)."""
    deliveries: dict[str, int] = field(default_factory=dict)
    """Robots path: how the stored deliveries ended (`delivery.handed_over`: 3, ...)."""
    """Stored seqs the outbox never gave out: the edge forgot what it had accepted (its outbox went back)."""
    """Accepted, not stored, still in the outbox: not lost, but the run did not heal (counted as stuck)."""
    tampered: int = 0
    """Events the gateway took for tampered (an id seen again with another body): a false alarm under chaos."""
    recovered: bool = True
    """After healing the edge took new events from the device again and its outbox emptied; False: stuck."""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        clean = self.duplicates == 0 and self.lost == 0 and self.gaps_open == 0 and self.regressed == 0
        clean = clean and self.undelivered == 0 and self.unknown == 0 and self.inconsistent == 0
        return clean and self.tampered == 0 and self.recovered

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


@dataclass(frozen=True)
class GatewayView:
    events: list[StoredEvent]
    specimens: dict[str, str]
    """barcode -> projected status."""
    gap_alerts: int
    """Alerts naming a sequence gap of this edge (the gateway's gap detection, where it exists)."""
    tampered: int = 0


def judge(outbox: OutboxState, view: GatewayView) -> Verdict:
    events = view.events
    ids = Counter(e.id for e in events)
    seqs = Counter(e.seq for e in events)
    records = Counter((e.type, e.subject_id, e.occurred_at, e.data) for e in events if _is_device_record(e))
    duplicates = (
        sum(n - 1 for n in ids.values()) + sum(n - 1 for n in seqs.values()) + sum(n - 1 for n in records.values())
    )
    missing = sorted(set(outbox.seqs) - set(seqs))
    undelivered = [s for s in missing if s in outbox.waiting_seqs]
    lost = [s for s in missing if s not in outbox.waiting_seqs]
    beyond = sorted(s for s in seqs if s not in outbox.seqs)
    problems = []
    if lost:
        problems.append(f"{len(lost)} accepted seq(s) neither stored nor in the outbox, first {lost[:10]}")
    if undelivered:
        problems.append(f"{len(undelivered)} accepted seq(s) still in the outbox, not stored, first {undelivered[:10]}")
    if beyond:
        problems.append(f"{len(beyond)} stored seq(s) the outbox never gave out: {beyond[:10]}")
    if duplicates:
        twice = [s for s, n in seqs.items() if n > 1][:10] + [r[1] for r, n in records.items() if n > 1][:10]
        problems.append(f"{duplicates} duplicate(s): {twice}")
    regressed = _regressed(events, view.specimens)
    if regressed:
        problems.append(f"{len(regressed)} specimen(s) not in the state their events say: {regressed[:5]}")
    gaps_open = 0 if view.gap_alerts else len(missing)
    if view.tampered:
        problems.append(f"{view.tampered} event(s) taken for tampered")
    return Verdict(
        accepted=outbox.accepted,
        stored=len(seqs),
        duplicates=duplicates,
        lost=len(lost),
        undelivered=len(undelivered),
        unknown=len(beyond),
        gaps_open=gaps_open,
        regressed=len(regressed),
        waiting=outbox.waiting,
        tampered=view.tampered,
        problems=problems,
    )


def _is_device_record(event: StoredEvent) -> bool:
    """A sorter or tube-system mailbox record: it happened once on the device, so it must be stored once."""
    return (event.type in _STATUS_AFTER or event.type in _CARRIED_AFTER) and event.subject_id != ""


def _regressed(events: list[StoredEvent], specimens: dict[str, str]) -> list[str]:
    latest: dict[str, tuple[str, int, str]] = {}
    for barcode, key in [*_sorted_steps(events), *_carried_steps(events)]:
        if barcode not in latest or key > latest[barcode]:
            latest[barcode] = key
    return [
        f"{barcode}: {specimens.get(barcode)} != {state[2]}"
        for barcode, state in sorted(latest.items())
        if specimens.get(barcode) != state[2]
    ]


def _sorted_steps(events: list[StoredEvent]) -> list[tuple[str, tuple[str, int, str]]]:
    """(barcode, (occurred_at, rank, status)) per sorter record; ties on occurred_at (millisecond device clock) go
    to the later step of the journey."""
    return [
        (e.subject_id, (e.occurred_at, 0 if e.type == "specimen.scanned" else 1, _STATUS_AFTER[e.type]))
        for e in events
        if e.type in _STATUS_AFTER and e.subject_id
    ]


def _carried_steps(events: list[StoredEvent]) -> list[tuple[str, tuple[str, int, str]]]:
    """(barcode, (occurred_at, rank, status)) for every specimen of every stored carrier trip step."""
    trips = [(e, json.loads(e.data) or {}) for e in events if e.type in _CARRIED_AFTER]
    loaded = {
        data.get("transaction"): data.get("specimens") or [] for e, data in trips if e.type == "carrier.dispatched"
    }
    steps = []
    for event, data in trips:
        rank, status = _CARRIED_AFTER[event.type]
        for barcode in loaded.get(data.get("transaction"), []):
            steps.append((barcode, (event.occurred_at, rank, status)))
    return steps


# -- reading the gateway's store -----------------------------------------------------------------------------------
_EVENTS_SQL = "SELECT id, seq, type, subject_id, occurred_at, body FROM {p}events WHERE site = {a} AND edge = {b}"
_SPECIMENS_SQL = "SELECT barcode, status FROM {p}specimens"
_GAPS_SQL = "SELECT count(*) FROM {p}alerts WHERE kind LIKE '%sequence_gap%' AND site = {a}"
_TAMPERED_SQL = "SELECT count(*) FROM {p}tampered_events WHERE site = {a} AND edge = {b}"


def _event(row: Any) -> StoredEvent:
    body = row[5] if isinstance(row[5], dict) else json.loads(row[5])
    return StoredEvent(
        id=str(row[0]).replace("-", ""),
        seq=int(row[1]),
        type=row[2],
        subject_id=row[3],
        # Parsed, not compared as text: pydantic writes "…:01Z" for a whole second but "…:01.500000Z" otherwise.
        occurred_at=datetime.fromisoformat(str(body["occurred_at"])).isoformat(timespec="microseconds"),
        data=json.dumps(body.get("data"), sort_keys=True),
    )


def read_sqlite(path: Path, site: str, edge: str) -> GatewayView:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        rows = db.execute(_EVENTS_SQL.format(p="", a="?", b="?"), (site, edge)).fetchall()
        specimens = dict(db.execute(_SPECIMENS_SQL.format(p="")).fetchall())
        gaps = _optional(db, _GAPS_SQL.format(p="", a="?"), (site,))
        tampered = _optional(db, _TAMPERED_SQL.format(p="", a="?", b="?"), (site, edge))
    finally:
        db.close()
    return GatewayView([_event(r) for r in rows], specimens, gaps, tampered)


def _optional(db: sqlite3.Connection, sql: str, args: tuple[str, ...]) -> int:
    """A count from a table a gateway of this version may not have yet (0 then)."""
    try:
        return int(db.execute(sql, args).fetchone()[0])
    except sqlite3.OperationalError:
        return 0


async def read_postgres(dsn: str, schema: str, site: str, edge: str) -> GatewayView:
    conn = await asyncpg.connect(dsn)
    try:
        p = f'"{schema}".'
        rows = await conn.fetch(_EVENTS_SQL.format(p=p, a="$1", b="$2"), site, edge)
        specimens = {r[0]: r[1] for r in await conn.fetch(_SPECIMENS_SQL.format(p=p))}
        gaps = await conn.fetchval(_GAPS_SQL.format(p=p, a="$1"), site)
        tampered = 0
        if await conn.fetchval("SELECT to_regclass($1)", f"{schema}.tampered_events"):
            tampered = await conn.fetchval(_TAMPERED_SQL.format(p=p, a="$1", b="$2"), site, edge)
    finally:
        await conn.close()
    return GatewayView([_event(tuple(r)) for r in rows], specimens, int(gaps or 0), int(tampered or 0))
