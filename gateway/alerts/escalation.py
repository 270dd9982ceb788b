"""Escalation as a pure function: an unacknowledged alert, the rules and the gateway's now -> the step that is due.

A step raises the severity one step (info -> warning -> critical) and adds the next role of each role in the
audience (`alerts.escalation.next_role`). The first step is due `minutes_for(kind, severity)` after the alert was
raised, each further one as long after the last; when a step would change neither severity nor audience the chain
has ended. An acknowledgement stops it.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from gateway.rules.alerting import AlertRules, Severity
from gateway.rules.audiences import AudienceRole, ordered
from gateway.rules.escalation import next_roles

_STEP_UP: dict[str, Severity] = {"info": "warning", "warning": "critical", "critical": "critical"}


class Escalatable(Protocol):
    """What escalation reads of an alert (an `AlertRow` has it all)."""

    @property
    def kind(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def audience(self) -> tuple[AudienceRole, ...]: ...
    @property
    def raised_at(self) -> datetime: ...
    @property
    def acknowledged_at(self) -> datetime | None: ...
    @property
    def escalated_at(self) -> datetime | None: ...
    @property
    def escalation_level(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Escalation:
    """What an alert becomes when it escalates."""

    severity: Severity
    audience: tuple[AudienceRole, ...]
    level: int


def due_escalation(alert: Escalatable, rules: AlertRules, now: datetime) -> Escalation | None:
    """The escalation step `alert` is due at `now`, or None (acknowledged, not yet time, or the chain's end)."""
    if alert.acknowledged_at is not None:
        return None
    minutes = rules.escalation.minutes_for(alert.kind, alert.severity)
    if minutes is None:
        return None
    if now < (alert.escalated_at or alert.raised_at) + timedelta(minutes=minutes):
        return None
    severity = _STEP_UP.get(alert.severity, "critical")
    audience = ordered(tuple(next_roles(alert.audience, rules.escalation.next_role)))
    if severity == alert.severity and audience == alert.audience:
        return None
    return Escalation(severity=severity, audience=audience, level=alert.escalation_level + 1)
