"""Watch rules, commands and list fields in profiles: what validates, what is refused (file, field, reason),
how watched resources are grouped into reads, and which events a change of values makes."""

from pathlib import Path
from typing import Any

import pytest
import yaml

from device_profiles import PROFILES_DIR, ModbusProfile, load_profiles, validate_files
from device_profiles.watch import StatusRule, Watch
from device_profiles.watch_state import Change, WatchState, read_plan, watch_changes, watch_readings

SORTER = "acme-sorter-s100"
TUBES = "tubenet-pts9"


def packaged(name: str) -> dict[str, Any]:
    return yaml.safe_load((PROFILES_DIR / f"{name}.yaml").read_text())


def _set(path: str, value: Any) -> Any:
    def change(data: dict[str, Any]) -> dict[str, Any]:
        *parents, last = path.split("/")
        node: Any = data
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        if value is None:
            del node[int(last) if last.isdigit() else last]
        else:
            node[int(last) if last.isdigit() else last] = value
        return data

    return change


# -- the packaged profiles -----------------------------------------------------------------------------------------
def test_both_modbus_families_validate_with_mailbox_watch_and_commands() -> None:
    profiles = load_profiles()
    sorter, tubes = profiles[SORTER], profiles[TUBES]
    assert isinstance(sorter, ModbusProfile)
    assert isinstance(tubes, ModbusProfile)
    assert sorter.mailbox is not None
    assert sorter.watch is not None
    assert sorted(sorter.commands) == ["pause", "resume"]
    assert tubes.mailbox is not None
    assert tubes.watch is not None
    assert len([rule for rule in tubes.watch.status if rule.component]) == 12
    assert {f.component for f in tubes.watch.faults} == {f"zone-{z}" for z in "abcdef"}


@pytest.mark.parametrize(
    ("name", "reads"),
    [
        pytest.param(SORTER, [("input", 0, 25)], id="sorter: status, counters, racks, centrifuge in one read"),
        pytest.param(TUBES, [("discrete", 0, 6), ("input", 0, 22)], id="tube system: zone bits + status block"),
    ],
)
def test_watched_resources_are_read_in_as_few_requests_as_possible(
    name: str, reads: list[tuple[str, int, int]]
) -> None:
    profile = load_profiles()[name]
    assert isinstance(profile, ModbusProfile)
    assert [(span.table, span.start, span.count) for span in read_plan(profile)] == reads


def test_a_gap_splits_a_read() -> None:
    data = packaged(SORTER)
    data["watch"]["telemetry"]["resources"].remove("rack_capacity")  # input 6 is no longer read: a gap
    profile = ModbusProfile.model_validate(data)
    assert [(s.start, s.count) for s in read_plan(profile)] == [(0, 6), (7, 18)]
    data["watch"]["telemetry"]["resources"] += ["record_seq", "pending_count", "occurred_at_s"]  # 100-102, 108-109
    profile = ModbusProfile.model_validate(data)
    assert [(s.start, s.count) for s in read_plan(profile)] == [(0, 6), (7, 18), (100, 3), (108, 2)]


def test_a_watch_only_device_needs_no_mailbox(tmp_path: Path) -> None:
    data = packaged(SORTER)
    del data["mailbox"]
    data["resources"] = [r for r in data["resources"] if r["address"] < 100 or r["table"] == "coil"]
    data["name"] = "acme-sorter-s100"
    path = tmp_path / "models" / f"{SORTER}.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(data))
    assert validate_files([path]) == []


# -- broken profiles: file, field and reason ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "change", "field", "reason"),
    [
        pytest.param(
            SORTER,
            _set("watch/status/0/resource", "state"),
            "watch.status[0].resource",
            "no resource named 'state'",
            id="status names a missing resource",
        ),
        pytest.param(
            SORTER,
            _set("watch/status/0/resource", "tubes_sorted_total"),
            "watch.status[0].resource",
            "needs mappings to status names",
            id="status without mappings",
        ),
        pytest.param(
            TUBES,
            _set("watch/status/2/component", "ed"),
            "watch.status[2].component",
            "ed already has a status",
            id="two statuses for one station",
        ),
        pytest.param(
            SORTER,
            _set("watch/faults/0/when", ["jammed"]),
            "watch.faults[0].when[0]",
            "'jammed' is not a mapped value of 'status'",
            id="fault value not mapped",
        ),
        pytest.param(
            TUBES,
            _set("watch/faults/0/when", [3]),
            "watch.faults[0].when[0]",
            "expected true or false",
            id="number for a bit",
        ),
        pytest.param(
            TUBES,
            _set("watch/faults/1/component", "zone-a"),
            "watch.faults[1].code",
            "already watch.faults[0]",
            id="same fault twice for a component",
        ),
        pytest.param(
            SORTER,
            _set("watch/faults/0/severity", "fatal"),
            "watch.faults[0].severity",
            "'info', 'warning'",
            id="severity not in the contract",
        ),
        pytest.param(
            SORTER,
            _set("watch/telemetry/resources/0", "status"),
            "watch.telemetry.resources[0]",
            "not a number",
            id="telemetry of a mapped status",
        ),
        pytest.param(
            SORTER,
            _set("commands/self_destruct", [{"resource": "induction_paused", "value": True}]),
            "commands[self_destruct]",
            "not a contract command",
            id="unknown command",
        ),
        pytest.param(
            SORTER,
            _set("commands/pause/0/resource", "status"),
            "commands[pause][0].resource",
            "must be a writable coil or holding register",
            id="command writes an input register",
        ),
        pytest.param(
            SORTER,
            _set("commands/pause/0/value", 2),
            "commands[pause][0].value",
            "expected true or false",
            id="command value does not fit",
        ),
        pytest.param(
            SORTER,
            lambda d: _set("watch", None)(_set("mailbox", None)(d)),
            "mailbox",
            "needs a mailbox, a watch",
            id="nothing to read",
        ),
        pytest.param(
            TUBES,
            _set("mailbox/events/carrier.dispatched/data/specimens", "specimen_1"),
            "mailbox.events[carrier.dispatched].data.specimens",
            "'specimens' is a list",
            id="list field mapped to one resource",
        ),
        pytest.param(
            TUBES,
            _set("mailbox/events/carrier.arrived/data/station", {"items": ["station"], "count": "pending_count"}),
            "mailbox.events[carrier.arrived].data.station",
            "'station' is a single value",
            id="single field as list",
        ),
        pytest.param(
            TUBES,
            _set("mailbox/events/carrier.dispatched/data/specimens/count", "specimen_1"),
            "mailbox.events[carrier.dispatched].data.specimens.count",
            "must be an integer",
            id="count not integer",
        ),
        pytest.param(
            TUBES,
            _set("mailbox/events/carrier.dispatched/data/specimens/items/7", "status_word"),
            "mailbox.events[carrier.dispatched].data.specimens.items[7]",
            "no resource named 'status_word'",
            id="slot names a missing resource",
        ),
    ],
)
def test_a_broken_watch_or_command_names_file_field_and_reason(
    tmp_path: Path, name: str, change: Any, field: str, reason: str
) -> None:
    path = tmp_path / "models" / f"{name}.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(change(packaged(name)), sort_keys=False))
    problems = validate_files([path])
    assert any(p.field == field and reason in p.reason for p in problems), [str(p) for p in problems]
    assert all(p.file.endswith(f"models/{name}.yaml") for p in problems)


# -- from values to events ----------------------------------------------------------------------------------------
def _sorter() -> ModbusProfile:
    profile = load_profiles()[SORTER]
    assert isinstance(profile, ModbusProfile)
    return profile


RAISED_JAM = Change(
    "device.fault_raised",
    {"code": "jam", "severity": "critical", "description": "Tube jam; induction stopped", "component": None},
)


@pytest.mark.parametrize(
    ("recorded", "status", "changes"),
    [
        pytest.param(
            WatchState(),
            "idle",
            [Change("device.status_changed", {"status": "idle", "previous": None, "component": None})],
            id="first sight: the status, no fault to clear",
        ),
        pytest.param(WatchState({"": "idle"}), "idle", [], id="unchanged: nothing (also after a reconnect)"),
        pytest.param(
            WatchState({"": "idle"}),
            "jam",
            [Change("device.status_changed", {"status": "jam", "previous": "idle", "component": None}), RAISED_JAM],
            id="jam: status and fault",
        ),
        pytest.param(WatchState({"": "jam"}, frozenset({"jam@"})), "jam", [], id="still jammed: nothing"),
        pytest.param(
            WatchState({"": "jam"}, frozenset({"jam@"})),
            "door_open",
            [
                Change("device.status_changed", {"status": "door_open", "previous": "jam", "component": None}),
                Change("device.fault_cleared", {"code": "jam", "component": None}),
                Change(
                    "device.fault_raised",
                    {"code": "door_open", "severity": "warning", "description": "Safety door open", "component": None},
                ),
            ],
            id="one fault gives way to another",
        ),
        pytest.param(
            WatchState(),
            "jam",
            [Change("device.status_changed", {"status": "jam", "previous": None, "component": None}), RAISED_JAM],
            id="jammed when the edge starts: raised",
        ),
    ],
)
def test_watch_changes(recorded: WatchState, status: str, changes: list[Change]) -> None:
    watch = _sorter().watch
    assert watch is not None
    found, state = watch_changes(watch, {"status": status}, recorded)
    assert found == changes
    assert watch_changes(watch, {"status": status}, state)[0] == []  # the new state is the baseline
    assert WatchState.from_json(state.to_json()) == state  # survives the outbox cursor


def test_per_component_status_and_a_value_that_could_not_be_read() -> None:
    watch = Watch(status=[StatusRule(resource="a", component="ed"), StatusRule(resource="b", component="lab")])
    changes, state = watch_changes(watch, {"a": "ready"}, WatchState({"lab": "ready"}))
    assert changes == [Change("device.status_changed", {"status": "ready", "previous": None, "component": "ed"})]
    assert state.status == {"ed": "ready", "lab": "ready"}  # lab kept as it was: it was not read this time


@pytest.mark.parametrize("stored", [None, "not json", [1, 2], {"status": "x", "faults": 3}])
def test_a_cursor_from_elsewhere_is_no_state(stored: Any) -> None:
    assert WatchState.from_json(stored) == WatchState()


def test_readings_carry_the_units_and_bools_are_numbers() -> None:
    readings = watch_readings(_sorter(), {"centrifuge_temperature": 21.5, "tubes_sorted_total": 7, "status": "idle"})
    assert [(r.metric, r.value, r.unit) for r in readings] == [
        ("centrifuge_temperature", 21.5, "°C"),
        ("tubes_sorted_total", 7.0, "tubes"),
    ]
