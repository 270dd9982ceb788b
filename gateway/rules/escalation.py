"""When an unacknowledged alert escalates, and to whom: the `alerts.escalation` section of the rules.

    alerts:
      escalation:
        severities: [critical]            # these escalate after default_minutes without an acknowledgement...
        default_minutes: 15
        minutes: {cabinet.cold_chain: 10}  # ...and these kinds (or families, `device.*`) after their own minutes
        next_role: {lab: engineer, pharmacy: engineer, engineer: admin}

Each escalation raises the severity one step (info -> warning -> critical) and adds the next role of every role
in the audience; it repeats every interval until neither changes any more (the chain's end).
"""

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway.rules.audiences import AudienceRole

DEFAULT_NEXT_ROLE: dict[AudienceRole, AudienceRole] = {"lab": "engineer", "pharmacy": "engineer", "engineer": "admin"}


class EscalationRules(BaseModel):
    """Which unacknowledged alerts escalate, after how long, and to whom."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    severities: tuple[str, ...] = Field(default=("critical",))
    """Alerts of these severities escalate after `default_minutes` (an empty list: only the kinds in `minutes`)."""
    default_minutes: float = Field(default=15, gt=0, le=7 * 24 * 60)
    minutes: dict[str, float] = Field(default_factory=lambda: {"cabinet.cold_chain": 10.0})
    """Per kind or family (`device.*`): alerts of it escalate after this long, whatever their severity."""
    next_role: dict[AudienceRole, AudienceRole] = Field(default_factory=lambda: dict(DEFAULT_NEXT_ROLE))
    """Who is added when nobody in the audience answers; a role without an entry ends its chain."""

    @field_validator("severities")
    @classmethod
    def _known_severities(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [s for s in value if s not in ("info", "warning", "critical")]
        if unknown:
            raise ValueError(f"unknown severity {unknown[0]!r}: use info, warning or critical")
        return value

    @field_validator("minutes")
    @classmethod
    def _positive_minutes(cls, value: dict[str, float]) -> dict[str, float]:
        for key, minutes in value.items():
            if not 0 < minutes <= 7 * 24 * 60:
                raise ValueError(f"minutes.{key}: {minutes:g} must be above 0 and at most a week (10080)")
        return value

    def minutes_for(self, kind: str, severity: str) -> float | None:
        """How long an unacknowledged alert of `kind` at `severity` waits before it escalates; None: it never does."""
        family = kind.partition(".")[0] + ".*"
        for key in (kind, family):
            if key in self.minutes:
                return self.minutes[key]
        return self.default_minutes if severity in self.severities else None


def next_roles(audience: tuple[AudienceRole, ...], chain: Mapping[AudienceRole, AudienceRole]) -> set[AudienceRole]:
    """`audience` with the next role of each of its roles added."""
    return set(audience) | {chain[role] for role in audience if role in chain}
