"""Profiles and site files: the packaged ones validate, and every broken one is reported by file, field and reason."""

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from device_profiles import (
    PROFILES_DIR,
    SITES_DIR,
    ModbusProfile,
    ProfileError,
    ProfileProblem,
    load_profiles,
    load_site,
    profile_json_schema,
    validate_files,
)

PROFILE = "acme-sorter-s100"


def packaged_profile() -> dict[str, Any]:
    return yaml.safe_load((PROFILES_DIR / f"{PROFILE}.yaml").read_text())


def packaged_site() -> dict[str, Any]:
    return yaml.safe_load((SITES_DIR / "demo.yaml").read_text())


def write(path: Path, data: dict[str, Any] | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path


def problems_of(path: Path) -> list[ProfileProblem]:
    return validate_files([path])


# -- the packaged files ------------------------------------------------------------------------------------------
def test_packaged_profiles_and_sites_validate_cleanly() -> None:
    files = sorted([*PROFILES_DIR.glob("*.yaml"), *SITES_DIR.glob("*.yaml")])
    assert files
    assert validate_files(files) == []


def test_demo_site_loads_with_its_profile() -> None:
    site, profiles = load_site(SITES_DIR / "demo.yaml")
    assert (site.site, site.edge) == ("general-hospital", "core-lab-edge")
    sorter = site.devices[0]
    assert (sorter.id, sorter.profile, sorter.location) == ("sorter-1", PROFILE, "core-lab")
    assert (sorter.modbus.host, sorter.modbus.port, sorter.modbus.unit) == ("127.0.0.1", 5020, 1)
    assert (sorter.poll_interval_s, sorter.timeout_s) == (0.2, 2.0)
    assert PROFILE in profiles


def test_the_mailbox_block_is_one_read_with_an_ack_register() -> None:
    profile = load_profiles()[PROFILE]
    box = profile.mailbox
    assert (box.table, box.address, box.count) == ("input", 100, 29)
    ack = profile.resource(box.ack)
    assert (ack.table, ack.address, ack.raw_type) == ("holding", 200, "uint32")


def test_json_schema_describes_the_packaged_profile() -> None:
    schema = profile_json_schema()
    assert schema["$id"].endswith("device-profile.schema.json")
    jsonschema.validate(packaged_profile(), schema)
    json.dumps(schema)  # exportable as is


# -- broken profiles ---------------------------------------------------------------------------------------------
def _add_resource(data: dict[str, Any], **resource: Any) -> dict[str, Any]:
    data["resources"].append(resource)
    return data


def _set(path: str, value: Any) -> Any:
    def change(data: dict[str, Any]) -> dict[str, Any]:
        *parents, last = path.split("/")
        node: Any = data
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(last) if last.isdigit() else last] = value
        return data

    return change


def _index(name: str) -> int:
    return [r["name"] for r in packaged_profile()["resources"]].index(name)


APPENDED = len(packaged_profile()["resources"])
"""Index of a resource a test appends to the packaged profile."""
LANE_COPY = {"name": "lane_copy", "table": "input", "address": 104, "raw_type": "uint16", "value_type": "int"}


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        pytest.param(_set("resources/3/adress", 5), "resources[3].adress", "unknown field", id="unknown field"),
        pytest.param(
            _set("mailbox/blok", {}), "mailbox.blok", "extra fields are forbidden", id="unknown mailbox field"
        ),
        pytest.param(
            lambda d: _add_resource(d, **LANE_COPY),
            f"resources[{APPENDED}].address",
            "overlaps resource 'lane' (input 104)",
            id="overlap",
        ),
        pytest.param(
            lambda d: _add_resource(d, **(LANE_COPY | {"address": 128})),
            f"resources[{APPENDED}].address",
            "overlaps resource 'barcode' (input 113-128)",
            id="overlap with a string",
        ),
        pytest.param(
            lambda d: _add_resource(d, **(LANE_COPY | {"name": "lane"})),
            f"resources[{APPENDED}].name",
            f"'lane' is already the name of resources[{_index('lane')}]",
            id="duplicate name",
        ),
        pytest.param(
            _set(f"resources/{_index('barcode')}/length", None),
            f"resources[{_index('barcode')}]",
            "needs `length`",
            id="string without length",
        ),
        pytest.param(
            _set("resources/0/address", 70000), "resources[0].address", "less than or equal to 65535", id="addr"
        ),
        pytest.param(
            _set("resources/0/table", "register"), "resources[0].table", "'holding', 'input', 'coil'", id="table"
        ),
        pytest.param(_set("resources/1/read_write", "RW"), "resources[1]", "read-only", id="writable input register"),
        pytest.param(_set("resources/3/value_type", "int"), "resources[3]", "give fractions", id="scaled int"),
        pytest.param(
            _set("mailbox/ack", "record_acknowledge"),
            "mailbox.ack",
            "no resource named 'record_acknowledge'",
            id="mailbox names a missing resource",
        ),
        pytest.param(
            _set("mailbox/ack", "record_seq"), "mailbox.ack", "must be a writable holding register", id="read-only ack"
        ),
        pytest.param(
            _set("mailbox/sequence", "status"), "mailbox.sequence", "outside the mailbox block", id="seq outside block"
        ),
        pytest.param(
            _set("mailbox/block/count", 20), "mailbox.events[specimen.scanned].subject_id", "outside", id="short"
        ),
        pytest.param(
            _set("mailbox/events/specimen.sorted/data/bin", "lane"),
            "mailbox.events[specimen.sorted].data.bin",
            "not a field of specimen.sorted",
            id="data field not in the contract",
        ),
        pytest.param(
            _set("mailbox/events/specimen.sorted/data", {"lane": "lane", "rack": "rack"}),
            "mailbox.events[specimen.sorted].data",
            "specimen.sorted requires 'position'",
            id="required data field unmapped",
        ),
        pytest.param(
            _set("mailbox/events/specimen.rejected/unreadable/when", {"reject_reason": "smudged"}),
            "mailbox.events[specimen.rejected].unreadable.when.reject_reason",
            "'smudged' is not a mapped value",
            id="unreadable value not mapped",
        ),
        pytest.param(
            _set(
                f"resources/{_index('record_kind')}/mappings",
                {0: "specimen.scanned", 1: "specimen.sorted", 2: "specimen.rejected", 3: "tube.lost"},
            ),
            "mailbox.events",
            "no entry for 'tube.lost'",
            id="event type without mapping",
        ),
        pytest.param(_set("name", "acme-sorter-s200"), "name", "does not match the file name", id="name mismatch"),
        pytest.param(_set("name", "acme sorter"), "name", "contains ' '", id="name not an identifier"),
    ],
)
def test_a_broken_profile_names_file_field_and_reason(tmp_path: Path, change: Any, field: str, reason: str) -> None:
    path = write(tmp_path / "models" / f"{PROFILE}.yaml", change(packaged_profile()))
    problems = problems_of(path)
    assert problems, "expected a problem"
    assert all(p.file.endswith(f"models/{PROFILE}.yaml") for p in problems)
    assert any(p.field == field and reason in p.reason for p in problems), [str(p) for p in problems]


def test_yaml_syntax_errors_name_the_line(tmp_path: Path) -> None:
    text = (PROFILES_DIR / f"{PROFILE}.yaml").read_text().replace("    address: 3\n", "    address: [3\n", 1)
    path = write(tmp_path / "models" / f"{PROFILE}.yaml", text)
    [problem] = problems_of(path)
    assert problem.field.startswith("line ")
    assert problem.reason.startswith("YAML syntax")


def test_a_key_given_twice_is_an_error_not_a_silent_overwrite(tmp_path: Path) -> None:
    text = (
        (PROFILES_DIR / f"{PROFILE}.yaml")
        .read_text()
        .replace("    address: 3\n", "    address: 3\n    address: 4\n", 1)
    )
    path = write(tmp_path / "models" / f"{PROFILE}.yaml", text)
    [problem] = problems_of(path)
    assert problem.field.startswith("line ")
    assert "'address' appears twice" in problem.reason


def test_every_problem_is_collected_and_printed_one_per_line(tmp_path: Path) -> None:
    data = _add_resource(packaged_profile(), **LANE_COPY)
    data["mailbox"]["ack"] = "record_acknowledge"
    write(tmp_path / f"{PROFILE}.yaml", data)
    with pytest.raises(ProfileError) as caught:
        load_profiles(tmp_path)
    assert len(caught.value.problems) == 2
    lines = str(caught.value).splitlines()
    assert lines == [str(p) for p in caught.value.problems]
    overlap = f": resources[{APPENDED}].address: overlaps resource 'lane' (input 104)"
    assert any(line.endswith(overlap) for line in lines)
    assert any(": mailbox.ack: no resource named 'record_acknowledge'" in line for line in lines)


def test_constructing_a_profile_in_code_checks_cross_references_too() -> None:
    data = _add_resource(packaged_profile(), **LANE_COPY)
    with pytest.raises(ValueError, match=rf"resources\[{APPENDED}\]\.address: overlaps resource 'lane'"):
        ModbusProfile.model_validate(data)


# -- site files --------------------------------------------------------------------------------------------------
def _site_with(tmp_path: Path, change: Any) -> Path:
    write(tmp_path / "models" / f"{PROFILE}.yaml", packaged_profile())
    return write(tmp_path / "sites" / "ward.yaml", change(packaged_site()))


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        pytest.param(
            _set("devices/0/profile", "acme-sorter-s900"), "devices[0].profile", "unknown profile", id="profile"
        ),
        pytest.param(_set("devices/0/modbus/prot", 502), "devices[0].modbus.prot", "unknown field", id="unknown field"),
        pytest.param(
            _set("devices/0/modbus/port", 0), "devices[0].modbus.port", "greater than or equal to 1", id="port"
        ),
        pytest.param(_set("devices/0/id", "sorter/1"), "devices[0].id", "contains '/'", id="id with a topic separator"),
        pytest.param(_set("edge", ""), "edge", "must not be empty", id="empty edge"),
        pytest.param(
            lambda d: _set("devices", [d["devices"][0], d["devices"][0]])(d),
            "devices[1].id",
            "'sorter-1' is already the id of devices[0]",
            id="duplicate device",
        ),
    ],
)
def test_a_broken_site_names_file_field_and_reason(tmp_path: Path, change: Any, field: str, reason: str) -> None:
    path = _site_with(tmp_path, change)
    problems = problems_of(path)
    assert any(p.file.endswith("sites/ward.yaml") and p.field == field and reason in p.reason for p in problems), [
        str(p) for p in problems
    ]


def test_load_site_refuses_a_device_with_an_unknown_profile(tmp_path: Path) -> None:
    path = _site_with(tmp_path, _set("devices/0/profile", "acme-sorter-s900"))
    with pytest.raises(ProfileError) as caught:
        load_site(path, tmp_path / "models")
    [problem] = caught.value.problems
    assert problem.field == "devices[0].profile"
    assert problem.reason == "unknown profile 'acme-sorter-s900' (known: acme-sorter-s100)"


def test_validate_files_tells_sites_from_profiles_by_content(tmp_path: Path) -> None:
    profile = write(tmp_path / "a" / f"{PROFILE}.yaml", packaged_profile())
    site = write(tmp_path / "b" / "anything.yaml", packaged_site())
    assert validate_files([profile, site]) == []
