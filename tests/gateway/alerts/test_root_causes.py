"""Root causes: a device fault or a sorter / tube system offline is one alert that says what it holds, and the
per-carrier and per-specimen alerts it explains are its children, not alerts of their own."""

from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.alerts.conditions import active_conditions
from gateway.alerts.inputs import CarrierTrip, Condition, Device, DeviceFault, Snapshot
from gateway.rules import TrackingRules, default_rules
from gateway.rules.store import rules_document, validate_document
from gateway.tracking.specimens.fold import SpecimenRow

T0 = datetime(2026, 11, 23, 9, 12, tzinfo=UTC)
SITE = "general-hospital"
MIN = timedelta(minutes=1)
RULES = default_rules()
ZONES = {"lab": "zone-a", "ed": "zone-b", "icu": "zone-b", "ward-4b": "zone-e"}


def rules_with(**alerts: Any) -> TrackingRules:
    document = rules_document(default_rules())
    document["alerts"] = {**document.get("alerts", {}), **alerts}
    return validate_document(document, "test rules")


def kinds(found: list[Condition]) -> list[tuple[str, str]]:
    return [(c.kind, c.subject_id) for c in found]


def fault(code: str, device: str = "sorter-1", **changes: Any) -> DeviceFault:
    values: dict[str, Any] = {
        "site": SITE,
        "device": device,
        "device_type": "tube_system" if code == "zone_blocked" else "sorter",
        "code": code,
        "component": "zone-b" if code == "zone_blocked" else None,
        "severity": "warning",
        "description": "",
        "since": T0,
    }
    return DeviceFault(**(values | changes))


def specimen(barcode: str, priority: str = "routine", **changes: Any) -> SpecimenRow:
    values: dict[str, Any] = {
        "barcode": barcode,
        "status": "arrived",
        "site": SITE,
        "device": "tubes-1",
        "lane": None,
        "rack": None,
        "position": None,
        "reason": None,
        "first_seen_at": T0 - 20 * MIN,
        "last_event_at": T0 - 5 * MIN,
        "event_count": 3,
        "priority": priority,
        "category": "chemistry",
        "ward": "ward-4b",
        "location": "lab",
        "collected_at": T0 - 20 * MIN,
        "target_s": 1800,
        "due_at": T0 + 10 * MIN,
    }
    return SpecimenRow(**(values | changes))


def trip(n: int, *, to: str = "lab", frm: str = "icu", minutes_before: int = 1, **changes: Any) -> CarrierTrip:
    values: dict[str, Any] = {
        "site": SITE,
        "carrier": f"C-{n}",
        "transaction": 1000 + n,
        "device": "tubes-1",
        "from_station": frm,
        "to_station": to,
        "priority": "normal",
        "specimens": (f"T{n}a", f"T{n}b"),
        "dispatched_at": T0 - minutes_before * MIN,
        "arrived_at": None,
    }
    return CarrierTrip(**(values | changes))


# -- sorters -----------------------------------------------------------------------------------------------------
def test_a_sorter_jam_raises_one_critical_alert_naming_the_sorter_and_the_specimens_waiting_at_it() -> None:
    waiting = [
        specimen("S1", "stat", due_at=T0 - MIN),
        specimen("S2"),
        specimen("S3", status="scanned", device="sorter-1"),
    ]
    elsewhere = specimen("S4", status="sorted", device="sorter-1")
    snapshot = Snapshot(faults=[fault("jam")], specimens=[*waiting, elsewhere])

    [jam] = active_conditions(snapshot, RULES, T0 + 5 * MIN)

    assert (jam.kind, jam.severity, jam.subject_kind, jam.subject_id) == (
        "device.fault",
        "critical",
        "device",
        "sorter-1",
    )
    assert jam.message == "Sorter sorter-1 jammed since 09:12Z: 3 specimens waiting at it (1 STAT)"
    assert jam.details["fault"] == "jam"
    assert jam.details["specimens"] == ["S1", "S2", "S3"]
    assert (jam.details["stat_count"], jam.details["stat_specimens"]) == (1, ["S1"])
    assert jam.details["held_reason"] == "sorter-1 jammed"
    # S1's overdue alert is the jam's child, not an alert of its own
    assert [(c["kind"], c["subject_id"]) for c in jam.details["children"]] == [("specimen.overdue", "S1")]


def test_a_jam_is_critical_even_when_the_device_reports_it_as_a_warning_and_info_faults_raise_nothing() -> None:
    [jam] = active_conditions(Snapshot(faults=[fault("jam", severity="warning")]), RULES, T0)
    assert jam.severity == "critical"
    assert active_conditions(Snapshot(faults=[fault("maintenance", severity="info")]), RULES, T0) == []
    [door] = active_conditions(Snapshot(faults=[fault("door_open")]), RULES, T0)
    assert (door.severity, door.message) == (
        "warning",
        "Sorter sorter-1 door open since 09:12Z: 0 specimens waiting at it",
    )


def test_a_sorter_offline_is_critical_and_names_what_waits_while_a_robot_offline_stays_a_warning() -> None:
    sorter = Device(SITE, "sorter-1", "sorter", "offline", T0, "modbus timeout")
    robot = Device(SITE, "robot-1", "robot", "offline", T0, "connection lost")
    snapshot = Snapshot(devices=[sorter, robot], specimens=[specimen("S1", "stat", due_at=T0 + 60 * MIN)])

    found = active_conditions(snapshot, RULES, T0 + 6 * MIN)

    assert [(c.kind, c.subject_id, c.severity) for c in found] == [
        ("device.offline", "robot-1", "warning"),
        ("device.offline", "sorter-1", "critical"),
    ]
    assert found[1].message == (
        "Device sorter-1 (sorter) offline since 09:12Z: modbus timeout; 1 specimen waiting at it (1 STAT)"
    )
    assert found[1].details["held_reason"] == "sorter-1 offline"


# -- tube zones --------------------------------------------------------------------------------------------------
def test_a_blocked_zone_is_one_alert_holding_its_carriers_and_specimens_with_no_carrier_lost_alerts() -> None:
    lost = [trip(n, minutes_before=10, priority="stat" if n < 3 else "normal") for n in range(30)]
    just_sent = trip(30, to="ed", frm="lab", minutes_before=1)  # on its way into zone B: held, not yet lost
    passing = trip(31, to="ward-4b", frm="lab", minutes_before=1)  # zone A to E, not lost yet: not counted
    snapshot = Snapshot(
        faults=[fault("zone_blocked", "tubes-1")],
        carrier_trips=[*lost, just_sent, passing],
        station_zones=ZONES,
    )

    [blocked] = active_conditions(snapshot, RULES, T0 + 10 * MIN)

    assert (blocked.kind, blocked.severity, blocked.subject_id) == ("device.fault", "critical", "tubes-1")
    assert (
        blocked.message == "Tube zone zone-b (tubes-1) blocked since 09:12Z: 31 carriers and 62 specimens held (6 STAT)"
    )
    details = blocked.details
    assert (details["device"], details["fault"], details["zone"], details["since"]) == (
        "tubes-1",
        "zone_blocked",
        "zone-b",
        T0.isoformat(),
    )
    assert sorted(details["carriers"]) == sorted([t.carrier for t in lost] + ["C-30"])
    assert len(details["specimens"]) == 62
    assert "T31a" not in details["specimens"]
    assert details["stat_count"] == 6
    assert details["held_reason"] == "zone zone-b blocked"
    children = details["children"]
    assert {c["kind"] for c in children} == {"carrier.lost"}
    assert sorted(c["subject_id"] for c in children) == sorted(t.subject for t in lost)


def test_a_carrier_lost_before_the_block_or_on_another_tube_system_is_still_its_own_alert() -> None:
    long_lost = trip(1, minutes_before=60)
    other_system = trip(2, minutes_before=20, device="tubes-2")
    snapshot = Snapshot(faults=[fault("zone_blocked", "tubes-1")], carrier_trips=[long_lost, other_system])

    found = active_conditions(snapshot, RULES, T0 + 10 * MIN)

    assert kinds(found) == [("carrier.lost", "C-1#1001"), ("carrier.lost", "C-2#1002"), ("device.fault", "tubes-1")]


def test_an_offline_tube_system_holds_every_carrier_in_transit_on_it() -> None:
    tubes = Device(SITE, "tubes-1", "tube_system", "offline", T0, "modbus timeout")
    snapshot = Snapshot(devices=[tubes], carrier_trips=[trip(1, minutes_before=10), trip(2)])

    [offline] = active_conditions(snapshot, RULES, T0 + 10 * MIN)

    assert (offline.kind, offline.severity) == ("device.offline", "critical")
    assert offline.details["carriers"] == ["C-1", "C-2"]
    assert [c["subject_id"] for c in offline.details["children"]] == ["C-1#1001"]


def test_with_the_root_cause_kind_disabled_its_children_raise_by_themselves() -> None:
    snapshot = Snapshot(faults=[fault("zone_blocked", "tubes-1")], carrier_trips=[trip(1, minutes_before=10)])
    rules = rules_with(disabled=["device.fault"])
    assert kinds(active_conditions(snapshot, rules, T0 + 10 * MIN)) == [("carrier.lost", "C-1#1001")]


def test_where_a_site_has_two_sorters_a_jam_holds_only_the_tubes_it_scanned() -> None:
    sorters = [Device(SITE, name, "sorter", "online", T0, None) for name in ("sorter-1", "sorter-2")]
    arrived = specimen("S1")  # at a station: for sorter-1 or sorter-2, nobody can say
    scanned = specimen("S2", status="scanned", device="sorter-2")
    snapshot = Snapshot(devices=sorters, faults=[fault("jam", device="sorter-2")], specimens=[arrived, scanned])

    [jam] = active_conditions(snapshot, RULES, T0 + MIN)

    assert (jam.subject_id, jam.details["specimens"]) == ("sorter-2", ["S2"])


def test_a_sorter_offline_is_the_one_cause_whatever_fault_it_last_reported() -> None:
    sorter = Device(SITE, "sorter-1", "sorter", "offline", T0, "modbus timeout")
    snapshot = Snapshot(devices=[sorter], faults=[fault("jam", since=T0 - 30 * MIN)], specimens=[specimen("S1")])

    found = active_conditions(snapshot, RULES, T0 + 6 * MIN)

    assert [(c.kind, c.subject_id, c.details["specimens"]) for c in found] == [("device.offline", "sorter-1", ["S1"])]
