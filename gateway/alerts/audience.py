"""An alert's audience as stored: the roles that act on it, written `lab,engineer` in one column.

One set of roles has one text (`AUDIENCE_ROLES` order), so "alerts for the lab" is `audience IN (...)` over the few
texts that include `lab` — an index lookup on PostgreSQL and SQLite alike, where a `LIKE '%lab%'` would scan.
"""

from collections.abc import Iterable, Mapping
from itertools import combinations
from typing import Any

from gateway.rules.alerting import AlertRules
from gateway.rules.audiences import AUDIENCE_ROLES, AudienceRole, ordered


def audience_of(kind: str, rules: AlertRules, details: Mapping[str, Any] | None = None) -> tuple[AudienceRole, ...]:
    """Who acts on a new alert of `kind` by `rules` (admin sees every alert besides).

    A root cause (`details["children"]`: the alerts it explains and stands for) also reaches whoever acts on its
    children: a sorter offline that holds STAT specimens is the lab's alert too, not only engineering's.
    """
    roles = list(rules.audience(kind))
    for child in (details or {}).get("children") or ():
        if isinstance(child, Mapping) and isinstance(child.get("kind"), str):
            roles.extend(rules.audience(child["kind"]))
    return ordered(tuple(dict.fromkeys(roles)))


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
