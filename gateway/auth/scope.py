"""Scoping of the live stream: by role (`gateway.auth.subject_roles`, as the REST routes) and by ward.

A lab user gets specimen and carrier changes, a pharmacy user delivery, cabinet and robot changes, both get alert
changes; engineers and admins every kind.

A scoped subscriber gets a change only when its ward is known and one of theirs: an alert's ward, a specimen's
ordering ward, a delivery's ward, a cabinet's ward by the rules. Changes with no ward (devices, edges, carriers, a
specimen not yet collected) go only to unscoped subscribers. The lookups run in the subscriber's own coroutine, so
ingest never waits for them; wards once known are cached (they do not change).
"""

from collections import OrderedDict
from collections.abc import Awaitable, Callable

import sqlalchemy as sa

from gateway.auth.principal import Principal
from gateway.auth.subject_roles import SEES_EVERY_KIND, may_read
from gateway.projection.changes import Change
from gateway.rules.in_force import RulesInForce
from gateway.storage.database import Database
from gateway.storage.tables import alerts, deliveries, specimens

CACHE_SIZE = 10_000


class WardResolver:
    """The ward of each change a subscriber is offered; `None` when it has none (yet)."""

    def __init__(self, db: Database, rules: RulesInForce) -> None:
        self._db = db
        self._rules = rules
        self._known: OrderedDict[tuple[str, str], str] = OrderedDict()

    async def ward(self, change: Change) -> str | None:
        if change.type.startswith("alert."):
            key = ("alert", str(change.event_id))
            query = sa.select(alerts.c.ward).where(alerts.c.id == change.event_id)
        elif change.subject_kind == "specimen":
            key = ("specimen", change.subject_id)
            query = sa.select(specimens.c.ward).where(specimens.c.barcode == change.subject_id)
        elif change.subject_kind == "delivery":
            key = ("delivery", change.subject_id)
            query = sa.select(deliveries.c.ward).where(deliveries.c.delivery == change.subject_id)
        elif change.subject_kind == "cabinet":
            configured = self._rules.current.cabinets.get(change.subject_id)
            return configured.ward if configured else None
        else:
            return None
        if key in self._known:
            self._known.move_to_end(key)
            return self._known[key]
        async with self._db.engine.connect() as connection:
            ward = (await connection.execute(query)).scalar_one_or_none()
        if ward is not None:  # a specimen scanned before its collection is reported has no ward yet: ask again later
            self._known[key] = ward
            if len(self._known) > CACHE_SIZE:
                self._known.popitem(last=False)
        return ward


Admits = Callable[[Change], Awaitable[bool]]


def stream_admits(principal: Principal, db: Database, rules: RulesInForce) -> Admits | None:
    """An async predicate saying whether a change may be sent to `principal`; None when all may.

    First the role: the kinds of subject (and alerts) its REST routes let it read; then, for a ward-scoped caller,
    the ward.
    """
    if not principal.scoped and principal.role in SEES_EVERY_KIND:
        return None
    resolver = WardResolver(db, rules) if principal.scoped else None

    async def admits(change: Change) -> bool:
        if not may_read(principal, change.subject_kind, alert=change.type.startswith("alert.")):
            return False
        return resolver is None or principal.can_see_ward(await resolver.ward(change))

    return admits


async def subject_ward(db: Database, rules: RulesInForce, kind: str, subject_id: str) -> str | None:
    """The ward a specimen, delivery or cabinet belongs to; None when it has none or is unknown."""
    if kind == "cabinet":
        configured = rules.current.cabinets.get(subject_id)
        return configured.ward if configured else None
    if kind == "specimen":
        query = sa.select(specimens.c.ward).where(specimens.c.barcode == subject_id)
    elif kind == "delivery":
        query = sa.select(deliveries.c.ward).where(deliveries.c.delivery == subject_id)
    else:
        return None
    async with db.engine.connect() as connection:
        return (await connection.execute(query)).scalar_one_or_none()


WARDED_KINDS = frozenset({"specimen", "delivery", "cabinet"})
"""Subjects that belong to a ward; carriers, devices and edges serve every ward."""
