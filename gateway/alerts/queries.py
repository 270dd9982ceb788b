"""Reading alerts and acknowledging one, by the rules in force (some kinds clear once acknowledged)."""

from datetime import datetime
from uuid import UUID

from gateway.alerts.alert_store import (
    AlertFilter,
    AlertNotForRoleError,
    AlertNotFoundError,
    AlertRow,
    acknowledge,
    alert_page,
    get_alert,
    list_alerts,
)
from gateway.rules.in_force import RulesInForce
from gateway.storage.database import Database
from gateway.storage.keyset_page import Page, PageRequest
from gateway.tracking.wards import visible


class AlertQueries:
    """The alerts table: pages of alerts, one alert, an acknowledgement."""

    def __init__(self, db: Database, rules: RulesInForce) -> None:
        self._db = db
        self._rules = rules

    async def page(self, where: AlertFilter, *, limit: int, offset: int) -> tuple[list[AlertRow], int]:
        """One page of alerts, most severe first and then newest first, and how many match in all."""
        async with self._db.engine.connect() as connection:
            return await list_alerts(connection, where, limit=limit, offset=offset)

    async def listing(self, where: AlertFilter, request: PageRequest) -> Page[AlertRow]:
        """One page of alerts by keyset, most severe first and then newest first, and the list's total."""
        async with self._db.engine.connect() as connection:
            return await alert_page(connection, where, request)

    async def get(self, alert_id: UUID) -> AlertRow | None:
        async with self._db.engine.connect() as connection:
            return await get_alert(connection, alert_id)

    async def acknowledge(
        self,
        alert_id: UUID,
        *,
        by: str,
        note: str | None,
        now: datetime,
        wards: tuple[str, ...] | None = None,
        badge: str | None = None,
        role: str | None = None,
    ) -> AlertRow:
        """Record who is on it (`alert_store.acknowledge`); an alert off `wards` (when given) is as if unknown.

        `by` is the authenticated caller; `badge`, a badge they name beside themselves, goes to the alert's details.
        `role` (when given, and not admin) must be in the alert's audience: others may read it, not answer it.

        Raises `AlertNotFoundError`, `AlertNotForRoleError`, or `AlertAlreadyClearedError` when there is nothing
        left to acknowledge.
        """
        if wards is not None or role is not None:
            seen = await self.get(alert_id)
            if seen is None or (wards is not None and not visible(seen.ward, wards)):
                raise AlertNotFoundError(f"no alert {alert_id}")
            if role is not None and role != "admin" and role not in seen.audience:
                raise AlertNotForRoleError(seen, role)
        return await acknowledge(
            self._db.engine, alert_id, by=by, note=note, badge=badge, now=now, rules=self._rules.current
        )
