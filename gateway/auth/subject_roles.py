"""Which roles may read which kind of subject: one table for the REST routes and the live stream alike.

The lab reads specimens and carriers, the pharmacy deliveries, cabinets and robots, engineers everything devices
report; alerts reach every role that has an alerts page (as `GET /api/v1/alerts` does). Admin reads everything.
A kind the table does not know (something new) is for engineers only until someone decides otherwise.
"""

from gateway.auth.principal import Principal

SUBJECT_ROLES: dict[str, frozenset[str]] = {
    "specimen": frozenset({"lab", "engineer", "admin"}),
    "carrier": frozenset({"lab", "engineer", "admin"}),
    "delivery": frozenset({"pharmacy", "engineer", "admin"}),
    "cabinet": frozenset({"pharmacy", "engineer", "admin"}),
    "robot": frozenset({"pharmacy", "engineer", "admin"}),
    "device": frozenset({"engineer", "admin"}),
    "edge": frozenset({"engineer", "admin"}),
}
"""Who may read whose events, custody and live changes (`/specimens`, `/carriers`: lab; `/deliveries`, `/cabinets`,
`/robots`: pharmacy; `/devices`, `/edges`, `/events`: engineer)."""

ALERT_ROLES = frozenset({"lab", "pharmacy", "engineer", "admin"})
"""Who may read alerts and their live changes (`/api/v1/alerts`)."""

_UNLISTED = frozenset({"engineer", "admin"})


def roles_for(subject_kind: str) -> frozenset[str]:
    return SUBJECT_ROLES.get(subject_kind, _UNLISTED)


def may_read(principal: Principal, subject_kind: str, *, alert: bool = False) -> bool:
    """Whether the caller's role may read this kind of subject (or, with `alert`, an alert about it)."""
    return principal.role in (ALERT_ROLES if alert else roles_for(subject_kind))


SEES_EVERY_KIND = _UNLISTED
"""Roles that read every kind (engineer, admin): their stream needs no role filter."""
