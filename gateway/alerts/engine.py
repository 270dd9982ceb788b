"""The alert engine: every `alerts_every_s` seconds, compare what is wrong now with the alerts table.

- a condition with no open alert raises one (unless its episode's alert was already closed), for its kind's
  audience (`alerts.audiences`);
- a condition with an open alert keeps it as it is: an acknowledged alert stays acknowledged while it holds;
- an open alert whose condition is gone clears (except discrepancies, which only acknowledgement clears); cleared
  before anyone acknowledged it, it stays open as *owed* (`alerts.owed_severities`) until someone does, and if its
  condition comes back first the same alert is active again (`reactivated`);
- an acknowledged alert of a kind that clears after acknowledgement clears when that time has passed;
- an open alert nobody acknowledged escalates when its time is up (`gateway.alerts.escalation`).

"Now" is the gateway's clock, so a simulated day raises its alerts on simulated time. Several gateways may run
the engine against one database: the unique `open_key` keeps one open alert per condition, and every change is
conditional on the row still being open.
"""

import asyncio
import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.alerts.alert_store import AlertRow, alert_row, alerts_by_id
from gateway.alerts.audience import audience_of, audience_roles, audience_text
from gateway.alerts.conditions import (
    CLEARS_ON_ACKNOWLEDGEMENT,
    ESCALATING_KINDS,
    REFRESHED_KINDS,
    STICKY_KINDS,
    active_conditions,
    clear_after_acknowledgement,
)
from gateway.alerts.escalation import due_escalation
from gateway.alerts.inputs import Condition, alert_key
from gateway.alerts.snapshot import gather
from gateway.rules import TrackingRules
from gateway.rules.alerting import SEVERITY_RANK
from gateway.rules.in_force import RulesInForce
from gateway.rules.store import latest_version, load_rules_in_force
from gateway.runtime.clock import Clock
from gateway.storage.database import Database
from gateway.storage.tables import alerts

log = logging.getLogger(__name__)

MESSAGE_MAX = 400


@dataclass(slots=True)
class Evaluation:
    """What one pass did."""

    at: datetime
    rules_version: int
    conditions: int
    raised: list[UUID] = field(default_factory=list)
    cleared: list[UUID] = field(default_factory=list)
    kept: int = 0
    reactivated: list[UUID] = field(default_factory=list)
    """Owed alerts (cleared, not acknowledged) whose condition came back: active again, the same alert."""
    escalated: list[UUID] = field(default_factory=list)

    def changes(self) -> list[tuple[str, UUID]]:
        """What listeners are told, in order: (raised | cleared | escalated, alert id); reactivated is raised again."""
        return [
            *(("raised", i) for i in [*self.raised, *self.reactivated]),
            *(("cleared", i) for i in self.cleared),
            *(("escalated", i) for i in self.escalated),
        ]


AlertListener = Callable[[str, AlertRow, datetime], None]
"""(what happened: raised | acknowledged | cleared | escalated, the alert as it is now, when)."""


class AlertEngine:
    """Evaluates the conditions against the projections' rows and keeps the alerts table in step."""

    def __init__(
        self, db: Database, rules: RulesInForce, clock: Clock, *, listeners: Iterable[AlertListener] = ()
    ) -> None:
        self.db = db
        self.rules = rules
        self.clock = clock
        self.passes = 0
        self.last: Evaluation | None = None
        self.listeners = tuple(listeners)
        """Told of every alert a pass raised or cleared (the live stream listens here); must not block."""

    async def evaluate(self) -> Evaluation:
        """One pass at the clock's now."""
        now = self.clock()
        await self.refresh_rules()
        rules = self.rules.current
        engine = self.db.engine
        async with engine.connect() as connection:
            snapshot = await gather(connection, rules, now)
        conditions = active_conditions(snapshot, rules, now)
        async with engine.begin() as connection:
            evaluation = await reconcile(connection, conditions, rules, now)
        self.passes += 1
        self.last = evaluation
        changes = evaluation.changes()
        if self.listeners and changes:
            async with engine.connect() as connection:
                changed = {row.id: row for row in await alerts_by_id(connection, [i for _, i in changes])}
            for what, alert_id in changes:
                for listener in self.listeners:
                    listener(what, changed[alert_id], now)
        if changes:
            log.info(
                "alerts: %d raised, %d reactivated, %d cleared, %d escalated, %d kept open",
                len(evaluation.raised),
                len(evaluation.reactivated),
                len(evaluation.cleared),
                len(evaluation.escalated),
                evaluation.kept,
            )
        return evaluation

    async def refresh_rules(self) -> None:
        """Pick up rules another gateway (or the command line) imported since we last looked."""
        if await latest_version(self.db.engine) != self.rules.current.version:
            self.rules.current = await load_rules_in_force(self.db.engine)

    async def run(self, every_s: float) -> None:
        """Evaluate every `every_s` seconds of wall time until cancelled; a failed pass is logged and retried."""
        while True:
            try:
                await self.evaluate()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("alert evaluation failed; trying again in %g s", every_s)
            await asyncio.sleep(every_s)


async def reconcile(
    connection: AsyncConnection, conditions: Sequence[Condition], rules: TrackingRules, now: datetime
) -> Evaluation:
    """Bring the alerts table in step with `conditions`, in the caller's transaction."""
    c = alerts.c
    evaluation = Evaluation(at=now, rules_version=rules.version, conditions=len(conditions))
    wanted = {condition.key: condition for condition in conditions}
    # Keys a root cause now stands for: their alerts close without owing an acknowledgement (the root cause is owed).
    explained = {
        str(child["key"])
        for condition in conditions
        for child in condition.details.get("children") or ()
        if "key" in child
    }
    open_rows = list(await connection.execute(sa.select(alerts).where(c.open_key.is_not(None))))
    open_keys = {str(r.open_key) for r in open_rows}
    # Episodes are removals and rejections within the lookback, so their alerts were raised within it (plus slack
    # for clocks that disagree): older closed alerts need not be read.
    since = now - timedelta(hours=rules.alerts.lookback_hours + 1)
    candidates = [w for k, w in wanted.items() if w.episode and k not in open_keys]
    closed = await _closed_episodes(connection, candidates, since)

    for row in open_rows:
        condition = wanted.get(row.open_key)
        if row.state == "cleared":  # owed: cleared before anyone acknowledged it
            if not rules.alerts.enabled(row.kind):
                await _close(connection, row.id)
            elif condition is not None and await _reactivate(connection, row, condition, now):
                evaluation.reactivated.append(row.id)
            else:
                evaluation.kept += 1
            continue
        if condition is not None:
            delay = clear_after_acknowledgement(row.kind, rules.alerts, row.ward)
            acknowledged_long_enough = (
                row.kind in CLEARS_ON_ACKNOWLEDGEMENT
                and row.state == "acknowledged"
                and delay is not None
                and row.acknowledged_at is not None
                and now >= row.acknowledged_at + delay
            )
            if not acknowledged_long_enough:
                evaluation.kept += 1
                await _follow(connection, row, condition, rules)
                continue
        elif row.kind in STICKY_KINDS:
            evaluation.kept += 1
            continue
        owed = (
            row.acknowledged_at is None
            and row.open_key not in explained
            and rules.alerts.enabled(row.kind)
            and rules.alerts.owed(row.severity)
        )
        if await _clear(connection, row, now, owed=owed):
            evaluation.cleared.append(row.id)

    evaluation.escalated = await _escalate_unanswered(connection, rules, now)
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    for key, condition in sorted(wanted.items()):
        if key in open_keys or key in closed:
            continue
        alert_id = uuid.uuid4()
        details = dict(condition.details)
        if condition.episode:
            details["episode"] = condition.episode
        statement = (
            insert(alerts)
            .values(
                id=alert_id,
                open_key=key,
                kind=condition.kind,
                severity=condition.severity,
                state="raised",
                site=condition.site,
                subject_kind=condition.subject_kind,
                subject_id=condition.subject_id,
                ward=condition.ward,
                message=_fit(condition.message),
                details=details,
                raised_at=now,
                rules_version=rules.version,
                audience=audience_text(audience_of(condition.kind, rules.alerts, condition.details)),
            )
            .on_conflict_do_nothing(index_elements=["open_key"])
            .returning(c.id)
        )
        if (await connection.execute(statement)).first() is not None:
            evaluation.raised.append(alert_id)
    return evaluation


async def _follow(
    connection: AsyncConnection, row: sa.Row[*tuple[Any, ...]], condition: Condition, rules: TrackingRules
) -> None:
    """An open alert of an escalating kind whose condition got worse takes the higher severity and message; one of a
    refreshed kind (many occurrences grouped, or a root cause and what it holds) takes the condition's current message
    and details, the higher of the two severities, and the audience of anything new it holds."""
    if row.kind in REFRESHED_KINDS:
        details = {**(row.details or {}), **condition.details}
        severity = max(row.severity, condition.severity, key=lambda s: SEVERITY_RANK.get(s, 0))
        audience = audience_text(
            (*audience_roles(row.audience), *audience_of(condition.kind, rules.alerts, condition.details))
        )
        now_shown = (_fit(condition.message), details, severity, audience)
        if now_shown != (row.message, row.details, row.severity, row.audience):
            await connection.execute(
                sa.update(alerts)
                .where(alerts.c.id == row.id, alerts.c.open_key.is_not(None), _unanswered_as_seen(row))
                .values(message=_fit(condition.message), details=details, severity=severity, audience=audience)
            )
        return
    if row.kind not in ESCALATING_KINDS or SEVERITY_RANK[condition.severity] <= SEVERITY_RANK[row.severity]:
        return
    await connection.execute(
        sa.update(alerts)
        .where(alerts.c.id == row.id, alerts.c.open_key.is_not(None), _unanswered_as_seen(row))
        .values(
            severity=condition.severity,
            message=_fit(condition.message),
            details={**(row.details or {}), **condition.details},  # an acknowledgement's note stays
        )
    )


async def _reactivate(
    connection: AsyncConnection, row: sa.Row[*tuple[Any, ...]], condition: Condition, now: datetime
) -> bool:
    """An owed alert whose condition holds again is active again: the same alert, never a second one. It keeps its
    audience and escalation (nobody has answered it yet) and the higher of its severity and the condition's."""
    severity = max(row.severity, condition.severity, key=lambda s: SEVERITY_RANK.get(s, 0))
    details = {
        **(row.details or {}),
        **condition.details,
        "reactivations": int((row.details or {}).get("reactivations", 0)) + 1,
        "last_cleared_at": row.cleared_at.isoformat().replace("+00:00", "Z") if row.cleared_at else None,
    }
    result = await connection.execute(
        sa.update(alerts)
        .where(alerts.c.id == row.id, alerts.c.open_key == row.open_key, alerts.c.state == "cleared")
        .values(state="raised", cleared_at=None, severity=severity, message=_fit(condition.message), details=details)
        .returning(alerts.c.id)
    )
    return result.first() is not None


async def _escalate_unanswered(connection: AsyncConnection, rules: TrackingRules, now: datetime) -> list[UUID]:
    """Escalate every open, unacknowledged alert whose time is up; each step only once, whichever gateway runs."""
    c = alerts.c
    unanswered = await connection.execute(sa.select(alerts).where(c.open_key.is_not(None), c.acknowledged_at.is_(None)))
    escalated = []
    for row in unanswered:
        alert = alert_row(row)
        step = due_escalation(alert, rules.alerts, now)
        if step is None:
            continue
        result = await connection.execute(
            sa.update(alerts)
            .where(
                c.id == alert.id,
                c.open_key.is_not(None),
                c.acknowledged_at.is_(None),
                c.escalation_level == alert.escalation_level,
            )
            .values(
                severity=step.severity,
                audience=audience_text(step.audience),
                escalation_level=step.level,
                escalated_at=now,
            )
            .returning(c.id)
        )
        if result.first() is not None:
            escalated.append(alert.id)
    return escalated


def _unanswered_as_seen(row: sa.Row[*tuple[Any, ...]]) -> sa.ColumnElement[bool]:
    """The alert's acknowledgement is still as the pass read it: one that lands while the pass runs (another
    transaction) makes the pass's change match nothing, and the next pass decides again from what is stored."""
    c = alerts.c
    return c.acknowledged_at.is_(None) if row.acknowledged_at is None else c.acknowledged_at == row.acknowledged_at


async def _clear(connection: AsyncConnection, row: sa.Row[*tuple[Any, ...]], now: datetime, *, owed: bool) -> bool:
    """The condition is gone; an `owed` alert keeps its open key (listed, re-activated if the condition returns)."""
    c = alerts.c
    values: dict[str, Any] = {"state": "cleared", "cleared_at": now}
    if not owed:
        values["open_key"] = None
    result = await connection.execute(
        sa.update(alerts)
        .where(c.id == row.id, c.open_key.is_not(None), c.state != "cleared", _unanswered_as_seen(row))
        .values(**values)
        .returning(c.id)
    )
    return result.first() is not None


async def _close(connection: AsyncConnection, alert_id: UUID) -> None:
    """An owed alert of a kind now disabled owes nothing any more."""
    await connection.execute(sa.update(alerts).where(alerts.c.id == alert_id).values(open_key=None))


async def _closed_episodes(connection: AsyncConnection, candidates: Sequence[Condition], since: datetime) -> set[str]:
    """Keys of the candidates' episodes that already had an alert, now closed: those never raise again."""
    if not candidates:
        return set()
    c = alerts.c
    kinds = sorted({w.kind for w in candidates})
    subjects = sorted({w.subject_id for w in candidates})
    query = sa.select(c.kind, c.site, c.subject_id, c.details).where(
        c.open_key.is_(None), c.kind.in_(kinds), c.subject_id.in_(subjects), c.raised_at >= since
    )
    keys = set()
    for row in await connection.execute(query):
        episode = (row.details or {}).get("episode")
        if episode:
            keys.add(alert_key(row.kind, row.site, row.subject_id, episode))
    return keys


def _fit(message: str) -> str:
    return message if len(message) <= MESSAGE_MAX else message[: MESSAGE_MAX - 1] + "…"
