"""Who acts on each alert kind: the `alerts.audiences` section of the rules.

    alerts:
      audiences:
        cabinet.cold_chain: [pharmacy]
        device.*: [engineer, lab]     # a family: every device.<something> kind not named on its own

A key is a kind (`cabinet.cold_chain`) or a family (`device.*`); the kind wins over its family, and a kind that
neither names goes to `FALLBACK_AUDIENCE`. What a rules file lists changes the defaults key by key: the rest keep
`DEFAULT_AUDIENCES`. Admin sees every alert whatever its audience.
"""

import re
from collections.abc import Mapping, Sequence
from typing import Literal, get_args

AudienceRole = Literal["lab", "pharmacy", "engineer", "admin"]
AUDIENCE_ROLES: tuple[str, ...] = get_args(AudienceRole)
"""In the order an audience is written (`lab,engineer`), so that one set of roles has one text."""

FALLBACK_AUDIENCE: tuple[AudienceRole, ...] = ("engineer",)

DEFAULT_AUDIENCES: dict[str, tuple[AudienceRole, ...]] = {
    "specimen.at_risk": ("lab",),
    "specimen.overdue": ("lab",),
    "specimen.error_lane": ("lab",),
    "carrier.lost": ("lab",),
    "cabinet.cold_chain": ("pharmacy",),
    "cabinet.discrepancy": ("pharmacy",),
    "cabinet.below_par": ("pharmacy",),
    "cabinet.door_ajar": ("pharmacy",),
    "delivery.overdue": ("pharmacy",),
    "robot.no_progress": ("pharmacy",),
    "robot.battery_critical": ("pharmacy",),
    "device.offline": ("engineer",),
    "device.*": ("lab", "engineer"),  # device faults (a sorter jam) hold the lab's specimens
    "tube_zone.*": ("lab", "engineer"),  # a blocked zone holds carriers and specimens
    "edge.*": ("engineer",),
    "event.tampered": ("engineer",),
}

_FAMILY = re.compile(r"^[a-z][a-z_]*\.\*$")


def ordered(roles: Sequence[str]) -> tuple[AudienceRole, ...]:
    """`roles` without duplicates, in `AUDIENCE_ROLES` order."""
    return tuple(role for role in AUDIENCE_ROLES if role in roles)  # type: ignore[misc]  # filtered to the Literal's values


def check_audiences(given: Mapping[str, Sequence[str]], kinds: Sequence[str]) -> dict[str, tuple[AudienceRole, ...]]:
    """The defaults with `given` laid over them, each key a known kind or a family; ValueError naming a bad entry."""
    merged = dict(DEFAULT_AUDIENCES)
    for key, roles in given.items():
        if key not in kinds and not _FAMILY.match(key):
            raise ValueError(f"audiences: {key!r} is neither an alert kind nor a family like 'device.*'")
        unknown = [role for role in roles if role not in AUDIENCE_ROLES]
        if unknown or not roles:
            raise ValueError(
                f"audiences.{key}: {', '.join(map(repr, unknown)) or 'no role'}; name one or more of "
                f"{', '.join(AUDIENCE_ROLES)}"
            )
        merged[key] = ordered(roles)
    return merged


def roles_for(kind: str, audiences: Mapping[str, Sequence[AudienceRole]]) -> tuple[AudienceRole, ...]:
    """Who acts on `kind`: its own entry, else its family's, else `FALLBACK_AUDIENCE`."""
    family = kind.partition(".")[0] + ".*"
    for key in (kind, family):
        if key in audiences:
            return ordered(audiences[key])
    return FALLBACK_AUDIENCE
