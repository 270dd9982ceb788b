"""The rules' versions in the database, and the one in force in this process, which importing a version replaces."""

from datetime import datetime

from gateway.rules.in_force import RulesInForce
from gateway.rules.model import TrackingRules
from gateway.rules.store import Reproject, RulesVersion, import_rules, rules_at, rules_versions
from gateway.storage.database import Database


class RulesVersions:
    """Read one version or all of them; import the next one and put it in force."""

    def __init__(self, db: Database, in_force: RulesInForce, reproject: Reproject) -> None:
        self._db = db
        self._in_force = in_force
        self._reproject = reproject

    @property
    def current(self) -> TrackingRules:
        """The rules in force."""
        return self._in_force.current

    async def at(self, version: int) -> tuple[TrackingRules, RulesVersion] | None:
        """One version and who made it; None when there is no such version."""
        return await rules_at(self._db.engine, version)

    async def all(self) -> list[RulesVersion]:
        """Every version, newest first, the shipped defaults (version 0) last."""
        return await rules_versions(self._db.engine)

    async def adopt(self, rules: TrackingRules, *, by: str, comment: str, now: datetime) -> TrackingRules:
        """Store validated rules as the next version, re-fold what they change, and put them in force here."""
        stored = await import_rules(self._db.engine, rules, by=by, comment=comment, now=now, reproject=self._reproject)
        self._in_force.current = stored
        return stored
