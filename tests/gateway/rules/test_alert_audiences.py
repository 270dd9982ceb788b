"""Who acts on each alert kind, by the rules: the defaults, families, overrides and the role filter's texts."""

import pytest

from gateway.alerts.audience import audience_of, audience_roles, audience_text, texts_including
from gateway.rules import default_rules
from gateway.rules.alerting import ALERT_KINDS, AlertRules
from gateway.rules.audiences import DEFAULT_AUDIENCES
from gateway.rules.store import RuleProblem, RulesInvalidError, parse_rules

TURNAROUND = "turnaround: {targets: [{priority: stat, minutes: 30}]}\n"


@pytest.mark.parametrize(
    ("kind", "audience"),
    [
        ("specimen.at_risk", ("lab",)),
        ("specimen.overdue", ("lab",)),
        ("specimen.error_lane", ("lab",)),
        ("carrier.lost", ("lab",)),
        ("cabinet.cold_chain", ("pharmacy",)),
        ("cabinet.discrepancy", ("pharmacy",)),
        ("cabinet.below_par", ("pharmacy",)),
        ("cabinet.door_ajar", ("pharmacy",)),
        ("delivery.overdue", ("pharmacy",)),
        ("robot.no_progress", ("pharmacy",)),
        ("robot.battery_critical", ("pharmacy",)),
        ("device.offline", ("engineer",)),
        ("edge.offline", ("engineer",)),
        ("edge.outbox_filling", ("engineer",)),
        ("edge.sequence_gap", ("engineer",)),
        ("event.tampered", ("engineer",)),
        ("device.fault", ("lab", "engineer")),  # a kind yet to come, by its family
        ("tube_zone.blocked", ("lab", "engineer")),
        ("lift.stuck", ("engineer",)),  # named nowhere: engineering
    ],
)
def test_each_kind_goes_to_the_role_that_acts_on_it(kind: str, audience: tuple[str, ...]) -> None:
    assert audience_of(kind, AlertRules()) == audience
    assert audience_of(kind, default_rules().alerts) == audience  # the shipped YAML says the same


def test_every_kind_there_is_has_an_audience_of_its_own_or_its_family() -> None:
    families = {key.removesuffix(".*") for key in DEFAULT_AUDIENCES if key.endswith(".*")}
    unlisted = [k for k in ALERT_KINDS if k not in DEFAULT_AUDIENCES and k.partition(".")[0] not in families]
    assert unlisted == []


def test_entries_in_the_rules_change_the_defaults_key_by_key() -> None:
    rules = AlertRules.model_validate(
        {"audiences": {"cabinet.cold_chain": ["engineer", "pharmacy", "pharmacy"], "device.*": ["engineer"]}}
    )
    assert audience_of("cabinet.cold_chain", rules) == ("pharmacy", "engineer")  # in role order, once each
    assert audience_of("device.fault", rules) == ("engineer",)
    assert audience_of("specimen.at_risk", rules) == ("lab",)  # not named: the default stands
    assert audience_of("device.offline", rules) == ("engineer",)  # the kind wins over its family


@pytest.mark.parametrize(
    ("audiences", "reason"),
    [
        ("{cabinet.cold_chian: [pharmacy]}", "'cabinet.cold_chian' is neither an alert kind nor a family"),
        ("{cabinet.cold_chain: [nurse]}", "audiences.cabinet.cold_chain: 'nurse'; name one or more of lab, pharmacy"),
        ("{cabinet.cold_chain: []}", "audiences.cabinet.cold_chain: no role"),
        ("{'*': [lab]}", "neither an alert kind nor a family"),
    ],
)
def test_an_invalid_audience_names_the_entry_and_the_reason(audiences: str, reason: str) -> None:
    with pytest.raises(RulesInvalidError) as caught:
        parse_rules(TURNAROUND + f"alerts: {{audiences: {audiences}}}\n", "my-rules.yaml")
    [problem] = caught.value.problems
    assert isinstance(problem, RuleProblem)
    assert problem.field == "alerts.audiences"
    assert reason in problem.reason


@pytest.mark.parametrize(
    ("roles", "text"),
    [
        (("lab",), "lab"),
        (("engineer", "lab"), "lab,engineer"),
        (("admin", "pharmacy", "engineer", "lab"), "lab,pharmacy,engineer,admin"),
        (("engineer", "engineer"), "engineer"),
    ],
)
def test_an_audience_is_written_in_one_order_and_read_back(roles: tuple[str, ...], text: str) -> None:
    assert audience_text(roles) == text
    assert audience_roles(text) == tuple(r for r in ("lab", "pharmacy", "engineer", "admin") if r in roles)


def test_a_roles_filter_matches_every_audience_that_names_it_and_no_other() -> None:
    lab = set(texts_including("lab"))
    assert len(lab) == 8  # every set of the four roles that has the lab in it
    assert {"lab", "lab,engineer", "lab,pharmacy,engineer,admin"} <= lab
    assert not {"engineer", "pharmacy,engineer", "admin"} & lab
    with pytest.raises(ValueError, match="unknown role 'nurse'"):
        texts_including("nurse")
