"""An alert's audience as stored: the roles that act on it, written `lab,engineer` in one column.

One set of roles has one text (`AUDIENCE_ROLES` order), so "alerts for the lab" is `audience IN (...)` over the few
texts that include `lab` — an index lookup on PostgreSQL and SQLite alike, where a `LIKE '%lab%'` would scan.
"""

from collections.abc import Iterable
from itertools import combinations

from gateway.rules.alerting import AlertRules
from gateway.rules.audiences import AUDIENCE_ROLES, AudienceRole, ordered


def audience_of(kind: str, rules: AlertRules) -> tuple[AudienceRole, ...]:
    """Who acts on a new alert of `kind` by `rules` (admin sees every alert besides)."""
    return rules.audience(kind)


def audience_text(roles: Iterable[str]) -> str:
    """`("engineer", "lab")` -> `"lab,engineer"`."""
    return ",".join(ordered(tuple(roles)))


def audience_roles(text: str | None) -> tuple[AudienceRole, ...]:
    """`"lab,engineer"` -> `("lab", "engineer")`; an empty column reads as no role."""
    return ordered(tuple((text or "").split(",")))


def texts_including(role: str) -> tuple[str, ...]:
    """Every audience text that names `role`: what a role's filter matches."""
    if role not in AUDIENCE_ROLES:
        raise ValueError(f"unknown role {role!r}: use one of {', '.join(AUDIENCE_ROLES)}")
    others = [r for r in AUDIENCE_ROLES if r != role]
    return tuple(
        audience_text((role, *chosen)) for size in range(len(others) + 1) for chosen in combinations(others, size)
    )
