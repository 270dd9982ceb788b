"""Escalation over the rules, as a pure function: an unacknowledged alert, the rules and the gateway's now."""

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest

from gateway.alerts.escalation import Escalation, due_escalation
from gateway.rules.alerting import AlertRules
from gateway.rules.audiences import AudienceRole

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
RULES = AlertRules()
"""The defaults: critical alerts after 15 min, a cold chain after 10; lab and pharmacy -> engineer -> admin."""


@dataclass(frozen=True)
class Alert:
    kind: str = "carrier.lost"
    severity: str = "critical"
    audience: tuple[AudienceRole, ...] = ("lab",)
    raised_at: datetime = T0
    acknowledged_at: datetime | None = None
    escalated_at: datetime | None = None
    escalation_level: int = 0


@pytest.mark.parametrize(
    ("alert", "minutes", "due"),
    [
        (Alert(), 14.9, None),
        (Alert(), 15, Escalation("critical", ("lab", "engineer"), 1)),  # critical stays critical; the engineer added
        (Alert(acknowledged_at=T0 + MIN), 60, None),  # an acknowledgement stops it
        (
            Alert(kind="cabinet.cold_chain", audience=("pharmacy",)),
            10,
            Escalation("critical", ("pharmacy", "engineer"), 1),
        ),
        (Alert(kind="device.offline", severity="warning", audience=("engineer",)), 600, None),  # warnings wait it out
        (  # the second step counts from the first
            Alert(audience=("lab", "engineer"), escalated_at=T0 + 15 * MIN, escalation_level=1),
            29,
            None,
        ),
        (
            Alert(audience=("lab", "engineer"), escalated_at=T0 + 15 * MIN, escalation_level=1),
            30,
            Escalation("critical", ("lab", "engineer", "admin"), 2),
        ),
        (  # the chain's end: nobody left to add, already critical
            Alert(audience=("lab", "engineer", "admin"), escalated_at=T0 + 30 * MIN, escalation_level=2),
            600,
            None,
        ),
    ],
)
def test_an_unanswered_alert_escalates_when_its_time_is_up_until_the_chains_end(
    alert: Alert, minutes: float, due: Escalation | None
) -> None:
    assert due_escalation(alert, RULES, T0 + timedelta(minutes=minutes)) == due


def test_a_kind_with_its_own_minutes_escalates_whatever_its_severity_one_step_at_a_time() -> None:
    rules = AlertRules.model_validate(
        {"escalation": {"minutes": {"cabinet.below_par": 30}, "next_role": {"pharmacy": "engineer"}}}
    )
    below_par = Alert(kind="cabinet.below_par", severity="info", audience=("pharmacy",))
    first = due_escalation(below_par, rules, T0 + 30 * MIN)
    assert first == Escalation("warning", ("pharmacy", "engineer"), 1)
    after_first = replace(
        below_par, severity="warning", audience=first.audience, escalated_at=T0 + 30 * MIN, escalation_level=1
    )
    second = due_escalation(after_first, rules, T0 + 60 * MIN)
    assert second == Escalation("critical", ("pharmacy", "engineer"), 2)  # nobody new: the severity still rises
    after_second = replace(after_first, severity="critical", escalated_at=T0 + 60 * MIN, escalation_level=2)
    assert due_escalation(after_second, rules, T0 + 600 * MIN) is None


def test_a_family_sets_the_minutes_of_its_kinds_and_no_severities_means_only_those() -> None:
    rules = AlertRules.model_validate({"escalation": {"severities": [], "minutes": {"device.*": 5}}})
    assert due_escalation(Alert(), rules, T0 + 600 * MIN) is None  # critical, but critical no longer escalates
    jam = Alert(kind="device.offline", severity="warning", audience=("engineer",))
    assert due_escalation(jam, rules, T0 + 5 * MIN) == Escalation("critical", ("engineer", "admin"), 1)


@pytest.mark.parametrize(
    ("escalation", "reason"),
    [
        ({"minutes": {"cabinet.cold_chian": 10}}, "'cabinet.cold_chian' is neither an alert kind nor a family"),
        ({"minutes": {"cabinet.cold_chain": 0}}, "minutes.cabinet.cold_chain: 0 must be above 0"),
        ({"severities": ["fatal"]}, "unknown severity 'fatal'"),
        ({"next_role": {"lab": "nurse"}}, "Input should be"),
    ],
)
def test_invalid_escalation_rules_say_why(escalation: dict[str, object], reason: str) -> None:
    with pytest.raises(ValueError, match="escalation") as caught:
        AlertRules.model_validate({"escalation": escalation})
    assert reason in str(caught.value)
