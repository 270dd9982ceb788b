"""MQTT vendor-JSON profiles: the packaged MV-40 validates; every broken one is reported by file, field and reason."""

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from device_profiles import (
    PROFILES_DIR,
    MqttJsonProfile,
    ProfileError,
    load_profiles,
    load_site,
    profile_json_schema,
    validate_files,
)
from device_profiles.kinds import validate_profile

PROFILE = "medvault-mv40"


def packaged() -> dict[str, Any]:
    return yaml.safe_load((PROFILES_DIR / f"{PROFILE}.yaml").read_text())


def write(path: Path, data: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return path


def test_the_packaged_cabinet_profile_loads_as_mqtt_json() -> None:
    profile = load_profiles()[PROFILE]
    assert isinstance(profile, MqttJsonProfile)
    assert (profile.protocol, profile.endpoint) == ("mqtt-json", "mqtt")
    assert profile.topic("events", "MV40-0231") == "medvault/v2/MV40-0231/evt"
    assert set(profile.commands) == {"unlock_cabinet", "request_inventory"}
    events = {m.event for m in profile.messages.values() if m.event}
    assert events == {
        "cabinet.door_opened",
        "cabinet.door_closed",
        "cabinet.item_removed",
        "cabinet.item_returned",
        "cabinet.item_restocked",
        "cabinet.inventory_reported",
        "cabinet.alarm_raised",
        "cabinet.alarm_cleared",
        "cabinet.unlock_replied",
    }


def test_a_site_with_a_cabinet_on_the_edge_broker_loads(tmp_path: Path) -> None:
    site = {
        "site": "general-hospital",
        "edge": "pharmacy-edge",
        "devices": [
            {"id": "cabinet-3a", "profile": PROFILE, "location": "ward-3a", "mqtt": {"topic_id": "MV40-0231"}},
        ],
    }
    loaded, _ = load_site(write(tmp_path / "sites" / "pharmacy.yaml", site))
    assert loaded.devices[0].mqtt is not None
    assert loaded.devices[0].mqtt.url is None  # the edge's own broker


def test_a_cabinet_given_a_modbus_endpoint_is_told_to_use_mqtt(tmp_path: Path) -> None:
    site = {
        "site": "general-hospital",
        "edge": "pharmacy-edge",
        "devices": [{"id": "cabinet-3a", "profile": PROFILE, "location": "ward-3a", "modbus": {"host": "10.0.0.9"}}],
    }
    problems = validate_files([write(tmp_path / "sites" / "pharmacy.yaml", site)])
    assert [(p.field, p.reason) for p in problems] == [
        ("devices[0].mqtt", f"profile {PROFILE!r} speaks mqtt-json: give the device a 'mqtt' endpoint")
    ]


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        target = data
        for part in parents:
            target = target[part]
        if value is _DELETE:
            del target[last]
        else:
            target[last] = value

    return change


_DELETE = object()


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        (
            _set("topics/events", "medvault/v2/{serial}/evt"),
            "topics.events",
            "unknown placeholder {serial} (allowed: {topic_id})",
        ),
        (
            _set("topics/events", "medvault/v2/{topic_id/evt"),
            "topics.events",
            "malformed template 'medvault/v2/{topic_id/evt'",
        ),
        (_set("topics/events", "medvault/+/{topic_id}/evt"), "topics.events", "no MQTT wildcards"),
        (_set("messages/door_opened/topic", "doors"), "messages.door_opened.topic", "no topic named 'doors'"),
        (
            _set("messages/door_opened/event", "cabinet.door_slammed"),
            "messages.door_opened.event",
            "unknown event type 'cabinet.door_slammed'",
        ),
        (
            _set("messages/door_opened/event", "device.online"),
            "messages.door_opened.event",
            "device.online/offline come from 'presence' and the heartbeat",
        ),
        (
            _set("messages/item_removed/data", {"bin": "txn.binId", "gtin": "txn.item.gtin"}),
            "messages.item_removed.data",
            "cabinet.item_removed requires 'lot': map it to a JSON path",
        ),
        (
            _set("messages/door_opened/data", {"badge": "user.badgeId", "nurse_name": "user.name"}),
            "messages.door_opened.data.nurse_name",
            "not a field of cabinet.door_opened (fields: badge)",
        ),
        (
            _set("messages/door_opened/data", {"badge": "user.[badgeId"}),
            "messages.door_opened.data.badge",
            "not a JMESPath expression 'user.[badgeId'",
        ),
        (
            _set("messages/alarm_raised/mappings", {"severity": {"A-101": "high"}}),
            "messages.alarm_raised.mappings.severity",
            "'severity' is not one of this message's data fields",
        ),
        (
            _set("messages/fridge/event", "cabinet.alarm_raised"),
            "messages.fridge",
            "give exactly one of 'event' (with 'data'), 'telemetry' or 'ignore: true'",
        ),
        (
            _set("messages/door_closed/when", {"evt": "DOOR_OPEN"}),
            "messages.door_closed.when",
            "same topic and 'when' as messages.door_opened: one could never match",
        ),
        (_set("presence/topic", "state"), "presence.topic", "no topic named 'state'"),
        (_set("presence/offline", ["ONLINE"]), "presence.offline", "'ONLINE' cannot mean both online and offline"),
        (
            _set("commands/self_destruct", {"topic": "commands", "body": {}}),
            "commands.self_destruct",
            "unknown command",
        ),
        (
            _set("commands/unlock_cabinet/body", {"cmd": "UNLOCK", "pin": "{pin}"}),
            "commands.unlock_cabinet.body.pin",
            "unknown placeholder {pin}",
        ),
        (
            _set("commands/request_inventory/reply_timeout_s", 10),
            "commands.request_inventory.reply_timeout_s",
            "only unlock_cabinet has a reply",
        ),
        (_set("occurred_at/format", "rfc2822"), "occurred_at.format", "Input should be 'iso8601', 'epoch_ms'"),
        (
            _set("content_key", True),
            "content_key",
            "the profile has a message_id: a repeat is known by it, not by content",
        ),
        (
            _set("messages/fridge/for_each", {"path": "sensors", "as": "sensor"}),
            "messages.fridge.for_each",
            "only an 'event' message can make one event per element",
        ),
        (
            _set("messages/item_removed/for_each", {"path": "txn.[lines", "as": "line"}),
            "messages.item_removed.for_each.path",
            "not a JMESPath expression 'txn.[lines'",
        ),
        (_set("messages/item_removed/for_each", {"path": "lines"}), "messages.item_removed.for_each.as", "missing"),
        (
            _set("messages/inventory/data/bins", "flatten_all(drawers)"),
            "messages.inventory.data.bins",
            "unknown function flatten_all() in 'flatten_all(drawers)'",
        ),
        (_set("heartbeat", 30), "heartbeat", "unknown field (extra fields are forbidden)"),
        (_set("messages", {}), "messages", "at least 1 item"),
        (_set("topics", _DELETE), "topics", "required field is missing"),
    ],
)
def test_a_broken_profile_is_reported_by_file_field_and_reason(
    tmp_path: Path, change: Callable[[dict[str, Any]], None], field: str, reason: str
) -> None:
    data = copy.deepcopy(packaged())
    change(data)
    path = write(tmp_path / "models" / f"{PROFILE}.yaml", data)
    problems = validate_files([path])
    assert problems, "the broken profile validated"
    assert any(p.field == field and reason in p.reason for p in problems), [str(p) for p in problems]
    assert all(p.file.endswith(f"{PROFILE}.yaml") for p in problems)


def test_a_profile_keyed_by_content_must_say_when_each_message_happened(tmp_path: Path) -> None:
    data = packaged()
    del data["message_id"], data["occurred_at"]
    data["content_key"] = True
    problems = validate_files([write(tmp_path / "models" / f"{PROFILE}.yaml", data)])
    assert [(p.field, p.reason) for p in problems] == [
        ("content_key", "needs occurred_at: without the device's timestamp two real, alike events count once")
    ]


def test_the_packaged_pp7_profile_needs_no_code_of_its_own() -> None:
    """A second cabinet model: the same driver and contract events, from its YAML alone."""
    pp7, mv40 = load_profiles()["pillport-pp7"], load_profiles()[PROFILE]
    assert isinstance(pp7, MqttJsonProfile)
    assert isinstance(mv40, MqttJsonProfile)
    assert (pp7.message_id, pp7.content_key, mv40.content_key) == (None, True, False)
    assert {m.event for m in pp7.messages.values()} == {m.event for m in mv40.messages.values()}
    assert set(pp7.commands) == set(mv40.commands)


def test_load_profiles_refuses_a_broken_profile_naming_every_problem(tmp_path: Path) -> None:
    data = packaged()
    data["topics"]["events"] = "medvault/{serial}/evt"
    data["messages"]["door_opened"]["event"] = "cabinet.door_slammed"
    write(tmp_path / f"{PROFILE}.yaml", data)
    with pytest.raises(ProfileError) as caught:
        load_profiles(tmp_path)
    assert {p.field for p in caught.value.problems} == {"topics.events", "messages.door_opened.event"}


def test_validating_in_code_raises_with_the_field_and_reason() -> None:
    data = packaged()
    data["messages"]["door_opened"]["topic"] = "doors"
    with pytest.raises(ValueError, match=r"messages.door_opened.topic: no topic named 'doors'"):
        validate_profile(data)


def test_the_json_schema_describes_the_cabinet_profile() -> None:
    jsonschema.validate(packaged(), profile_json_schema())
