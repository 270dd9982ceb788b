"""The alert engine: every `alerts_every_s` seconds, compare what is wrong now with the alerts table.

- a condition with no open alert raises one (unless its episode's alert was already closed);
- a condition with an open alert keeps it as it is: an acknowledged alert stays acknowledged while it holds;
- an open alert whose condition is gone clears (except discrepancies, which only acknowledgement clears);
- an acknowledged alert of a kind that clears after acknowledgement clears when that time has passed.

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

from gateway.alerts.alert_store import AlertRow, alerts_by_id
from gateway.alerts.conditions import (
    CLEARS_ON_ACKNOWLEDGEMENT,
    ESCALATING_KINDS,
    REFRESHED_KINDS,
    STICKY_KINDS,
    active_conditions,
    clear_after_acknowledgement,
)
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


AlertListener = Callable[[str, AlertRow, datetime], None]
"""(what happened: raised | acknowledged | cleared, the alert as it is now, when)."""


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
        if self.listeners and (evaluation.raised or evaluation.cleared):
            async with engine.connect() as connection:
                changed = await alerts_by_id(connection, [*evaluation.raised, *evaluation.cleared])
            for row in changed:
                for listener in self.listeners:
                    listener("cleared" if row.cleared_at is not None else "raised", row, now)
        if evaluation.raised or evaluation.cleared:
            log.info(
                "alerts: %d raised, %d cleared, %d kept open",
                len(evaluation.raised),
                len(evaluation.cleared),
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
    open_rows = list(
        await connection.execute(
            sa.select(
                c.id, c.open_key, c.kind, c.state, c.ward, c.acknowledged_at, c.severity, c.message, c.details
            ).where(c.open_key.is_not(None))
        )
    )
    open_keys = {str(r.open_key) for r in open_rows}
    # Episodes are removals and rejections within the lookback, so their alerts were raised within it (plus slack
    # for clocks that disagree): older closed alerts need not be read.
    since = now - timedelta(hours=rules.alerts.lookback_hours + 1)
    candidates = [w for k, w in wanted.items() if w.episode and k not in open_keys]
    closed = await _closed_episodes(connection, candidates, since)

    for row in open_rows:
        if row.open_key in wanted:
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
                await _escalate(connection, row, wanted[row.open_key])
                continue
        elif row.kind in STICKY_KINDS:
            evaluation.kept += 1
            continue
        if await _clear(connection, row.id, now):
            evaluation.cleared.append(row.id)

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
            )
            .on_conflict_do_nothing(index_elements=["open_key"])
            .returning(c.id)
        )
        if (await connection.execute(statement)).first() is not None:
            evaluation.raised.append(alert_id)
    return evaluation


async def _escalate(connection: AsyncConnection, row: sa.Row[*tuple[Any, ...]], condition: Condition) -> None:
    """An open alert of an escalating kind whose condition got worse takes the higher severity and message; one of a
    refreshed kind (many occurrences grouped) takes the condition's current message and details."""
    if row.kind in REFRESHED_KINDS:
        details = {**(row.details or {}), **condition.details}
        if row.message != _fit(condition.message) or details != row.details:
            await connection.execute(
                sa.update(alerts)
                .where(alerts.c.id == row.id, alerts.c.open_key.is_not(None))
                .values(message=_fit(condition.message), details=details)
            )
        return
    if row.kind not in ESCALATING_KINDS or SEVERITY_RANK[condition.severity] <= SEVERITY_RANK[row.severity]:
        return
    await connection.execute(
        sa.update(alerts)
        .where(alerts.c.id == row.id, alerts.c.open_key.is_not(None))
        .values(severity=condition.severity, message=_fit(condition.message), details=dict(condition.details))
    )


async def _clear(connection: AsyncConnection, alert_id: UUID, now: datetime) -> bool:
    c = alerts.c
    result = await connection.execute(
        sa.update(alerts)
        .where(c.id == alert_id, c.open_key.is_not(None))
        .values(state="cleared", cleared_at=now, open_key=None)
        .returning(c.id)
    )
    return result.first() is not None


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
