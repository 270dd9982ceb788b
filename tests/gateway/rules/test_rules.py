"""Versioned rules: validation that names field and reason, thresholds per ward and device type, import/export."""

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from contract import Subject, new_event
from gateway.composition.stores import Stores
from gateway.rules import default_rules
from gateway.rules.model import DEFAULT_RULES
from gateway.rules.store import (
    RuleProblem,
    RulesInvalidError,
    import_rules,
    load_rules_in_force,
    parse_rules,
    rules_at,
    rules_document,
    rules_versions,
    rules_yaml,
    validate_document,
)
from gateway.settings import GatewaySettings
from gateway.storage.tables import rules as rules_table
from gateway.tracking.specimens.store import reproject_open
from tests.cli import cli_env, wardlink

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
TURNAROUND = "turnaround: {targets: [{priority: stat, minutes: 30}]}\n"


def problems(text: str) -> list[RuleProblem]:
    with pytest.raises(RulesInvalidError) as caught:
        parse_rules(text, "my-rules.yaml")
    assert str(caught.value).startswith("my-rules.yaml: ")
    return caught.value.problems


def test_the_shipped_defaults_are_version_0_and_validate() -> None:
    rules = parse_rules(DEFAULT_RULES.read_text(), str(DEFAULT_RULES))
    assert rules == default_rules()
    assert rules.version == 0
    assert (rules.alerts.carrier_transit_minutes, rules.alerts.cold_chain_minutes) == (15, 10)


@pytest.mark.parametrize(
    ("alerts", "field", "reason"),
    [
        ("{cold_chain_minutes: 0}", "alerts.cold_chain_minutes", "Input should be greater than 0"),
        ("{carrier_minutes: 5}", "alerts.carrier_minutes", "Extra inputs are not permitted"),
        ("{cold_chain_min_c: 9}", "alerts", "cold_chain_min_c (9) must be below cold_chain_max_c (8)"),
        ("{at_risk_priorities: [asap]}", "alerts.at_risk_priorities[0]", "Input should be 'stat', 'urgent' or"),
        ("{severities: {cabinet.door_ajar: loud}}", "alerts.severities.cabinet.door_ajar", "Input should be 'info'"),
        ("{disabled: [cabinet.smoke]}", "alerts.disabled[0]", "Input should be 'specimen.at_risk'"),
        (
            "{overrides: [{ward: icu, device_type: robot, door_ajar_minutes: 1}]}",
            "alerts.overrides[0]",
            "an override names exactly one of 'ward' or 'device_type'",
        ),
        ("{overrides: [{ward: icu}]}", "alerts.overrides[0]", "an override sets at least one threshold"),
        ("{overrides: [{device_type: lift, door_ajar_minutes: 1}]}", "alerts.overrides[0].device_type", "Input"),
        (
            "{overrides: [{ward: icu, door_ajar_minutes: 1}, {ward: icu, door_ajar_minutes: 2}]}",
            "alerts",
            "overrides[1]: a second override for ward 'icu'; keep one",
        ),
        (
            "{overrides: [{ward: icu, cold_chain_max_c: 1}]}",
            "alerts",
            "overrides for ward 'icu': cold_chain_min_c (2) must be below cold_chain_max_c (1)",
        ),
    ],
)
def test_an_invalid_alerts_section_names_the_field_and_the_reason(alerts: str, field: str, reason: str) -> None:
    [problem] = problems(TURNAROUND + f"alerts: {alerts}\n")
    assert problem.field == field
    assert reason in problem.reason


def test_the_amber_threshold_defaults_to_10_minutes_and_is_set_in_the_turnaround_section() -> None:
    assert default_rules().turnaround.amber_slack_minutes == 10
    set_to_5 = "turnaround: {targets: [{priority: stat, minutes: 30}], amber_slack_minutes: 5}\n"
    assert parse_rules(set_to_5, "x").turnaround.amber_slack_minutes == 5


@pytest.mark.parametrize(
    ("minutes", "reason"), [("-1", "greater than or equal to 0"), ("1441", "less than or equal to 1440")]
)
def test_an_amber_threshold_out_of_range_names_the_field(minutes: str, reason: str) -> None:
    [problem] = problems(
        f"turnaround: {{targets: [{{priority: stat, minutes: 30}}], amber_slack_minutes: {minutes}}}\n"
    )
    assert problem.field == "turnaround.amber_slack_minutes"
    assert reason in problem.reason


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "a rules document is a mapping with at least 'turnaround', not empty"),
        ("- a list\n", "a rules document is a mapping with at least 'turnaround', not list"),
        ("turnaround: [\n", "not YAML at line 2, column 1"),
    ],
)
def test_a_document_that_is_not_a_rules_mapping_says_so(text: str, reason: str) -> None:
    [problem] = problems(text)
    assert problem.field == "(document)"
    assert reason in problem.reason


def test_a_cabinets_ward_must_fit_where_alerts_name_it() -> None:
    """The ward is written on every alert about the cabinet (64 characters, like every id)."""
    [problem] = problems(TURNAROUND + f"cabinets: {{cabinet-1: {{ward: {'w' * 65}}}}}\n")
    assert problem.field == "cabinets.cabinet-1.ward"
    assert "at most 64 characters" in problem.reason


def test_every_problem_is_reported_at_once() -> None:
    found = problems("turnaround: {targets: []}\nalerts: {door_ajar_minutes: -1, lookback_hours: 0}\n")
    assert [p.field for p in found] == ["turnaround.targets", "alerts.door_ajar_minutes", "alerts.lookback_hours"]


def test_a_version_in_the_document_is_ignored_because_the_store_gives_versions() -> None:
    assert parse_rules(TURNAROUND + "version: 7\n", "x").version == 0


def test_thresholds_resolve_defaults_then_device_type_then_ward() -> None:
    rules = parse_rules(
        TURNAROUND
        + "alerts:\n  offline_grace_minutes: 2\n  overrides:\n"
        + "    - {device_type: cabinet, offline_grace_minutes: 10, door_ajar_minutes: 5}\n"
        + "    - {ward: icu, offline_grace_minutes: 1}\n",
        "x",
    )
    alerts = rules.alerts
    assert alerts.thresholds().offline_grace_minutes == 2
    assert alerts.thresholds(device_type="cabinet").offline_grace_minutes == 10
    assert alerts.thresholds(ward="ward-3a", device_type="cabinet").offline_grace_minutes == 10
    icu_cabinet = alerts.thresholds(ward="icu", device_type="cabinet")
    assert (icu_cabinet.offline_grace_minutes, icu_cabinet.door_ajar_minutes) == (1, 5)


# -- the store -------------------------------------------------------------------------------------------------
async def test_import_makes_a_new_version_in_force_and_export_round_trips(store: Stores) -> None:
    assert await load_rules_in_force(store.db.engine) == default_rules()
    mine = validate_document(rules_document(default_rules()) | {"alerts": {"cold_chain_minutes": 5}}, "mine")
    first = await import_rules(
        store.db.engine, mine, by="u1", comment="ICU fridges: 5 min", now=T0, reproject=reproject_open
    )
    assert first.version == 1
    assert await load_rules_in_force(store.db.engine) == first

    found = await rules_at(store.db.engine, 1)
    assert found is not None
    exported = rules_yaml(*found)
    assert exported.startswith("# wardlink tracking rules, version 1, by u1 at 2026-11-23 08:00Z: ICU fridges: 5 min")
    assert parse_rules(exported, "exported") == mine  # the same rules, version aside

    second = await import_rules(
        store.db.engine, default_rules(), by="u2", comment="back to defaults", now=T0, reproject=reproject_open
    )
    assert second.version == 2
    assert [(v.version, v.created_by) for v in await rules_versions(store.db.engine)] == [
        (2, "u2"),
        (1, "u1"),
        (0, "wardlink"),
    ]
    assert (await load_rules_in_force(store.db.engine)).alerts.cold_chain_minutes == 10


async def test_an_import_gives_open_specimens_the_new_target_in_the_same_transaction(store: Stores) -> None:
    collected = new_event(
        "specimen.collected",
        seq=1,
        site="general-hospital",
        edge="integration",
        device="lis",
        subject=Subject(kind="specimen", id="S-RULES-1"),
        occurred_at=T0,
        data={"priority": "stat", "category": "blood-gas", "ward": "icu"},
    ).model_copy(update={"received_at": T0})
    await store.events.commit_batch([collected])
    before = await store.specimens.get("S-RULES-1")
    assert before is not None
    assert before[0].target_s == 30 * 60

    document = rules_document(default_rules())
    document["turnaround"]["targets"].append({"priority": "stat", "category": "blood-gas", "minutes": 20})
    await import_rules(
        store.db.engine,
        validate_document(document, "blood gas 20"),
        by="u1",
        comment="",
        now=T0,
        reproject=reproject_open,
    )

    after = await store.specimens.get("S-RULES-1")
    assert after is not None
    assert (after[0].target_s, after[0].due_at) == (20 * 60, T0 + timedelta(minutes=20))


def test_exported_gtins_are_quoted_so_that_any_yaml_tool_keeps_their_leading_zeros() -> None:
    exported = rules_yaml(default_rules())
    assert '"00614141001019"' in exported
    assert parse_rules(exported, "exported") == default_rules()


async def test_a_stored_version_that_no_longer_validates_is_skipped_for_the_one_before(store: Stores) -> None:
    await import_rules(store.db.engine, default_rules(), by="u1", comment="", now=T0, reproject=reproject_open)
    async with store.db.engine.begin() as connection:
        await connection.execute(
            rules_table.insert().values(
                version=2, body={"turnaround": "gone"}, created_at=T0, created_by="u2", comment="broken"
            )
        )
    assert (await load_rules_in_force(store.db.engine)).version == 1


async def test_an_import_needs_someone_to_answer_for_it(store: Stores) -> None:
    with pytest.raises(ValueError, match="say who imports the rules"):
        await import_rules(store.db.engine, default_rules(), by="  ", comment="", now=T0, reproject=reproject_open)
    async with store.db.engine.connect() as connection:
        assert (await connection.execute(sa.select(sa.func.count()).select_from(rules_table))).scalar_one() == 0


# -- the command line ------------------------------------------------------------------------------------------
async def rules_cli(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    return await wardlink(env, "rules", *args)


async def test_rules_validate_exits_1_naming_file_field_and_reason(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(TURNAROUND + "alerts: {door_ajar_minutes: 0, overrides: [{ward: icu}]}\n")
    status, _, err = await rules_cli(dict(os.environ), "validate", str(bad))
    assert status == 1
    assert f"{bad}: alerts.door_ajar_minutes: Input should be greater than 0" in err
    assert f"{bad}: alerts.overrides[0]: an override sets at least one threshold" in err
    status, out, _ = await rules_cli(dict(os.environ), "validate", str(DEFAULT_RULES))
    assert (status, out.strip()) == (0, f"{DEFAULT_RULES}: valid (6 turnaround targets, 4 cabinets)")


async def test_rules_import_then_export_against_the_configured_database(
    store: Stores, gateway_settings: GatewaySettings, tmp_path: Path
) -> None:
    env = cli_env(gateway_settings)
    mine = tmp_path / "mine.yaml"
    document = yaml.safe_load(DEFAULT_RULES.read_text())
    document["alerts"]["door_ajar_minutes"] = 2
    mine.write_text(yaml.safe_dump(document))

    status, out, err = await rules_cli(env, "import", str(mine), "--by", "u77", "--comment", "faster door alarm")
    assert (status, err) == (0, "")
    assert "rules version 1 imported by u77" in out
    assert (await load_rules_in_force(store.db.engine)).alerts.door_ajar_minutes == 2

    status, out, _ = await rules_cli(env, "export")
    assert status == 0
    assert out.startswith("# wardlink tracking rules, version 1, by u77")
    assert parse_rules(out, "exported").alerts.door_ajar_minutes == 2
    status, out, _ = await rules_cli(env, "export", "--version", "0")
    assert (status, parse_rules(out, "defaults")) == (0, default_rules())
    status, _, err = await rules_cli(env, "export", "--version", "9")
    assert (status, err.strip()) == (1, "no rules version 9; `wardlink rules export` prints the one in force")
