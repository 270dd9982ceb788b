"""Polling a profile's watch: the fewest block reads, their values, and the events a change of values makes.

Pure functions, no I/O: the edge driver reads the `ReadSpan`s, and `watch_changes` compares the values with
the last state the edge recorded, so a value seen again after a reconnect makes no second event.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from contract.telemetry import Reading
from device_profiles.codec import decode
from device_profiles.errors import CodecError
from device_profiles.profile import ModbusProfile
from device_profiles.resource import BIT_TABLES, Resource, Table
from device_profiles.watch import Watch

MAX_READ = {"holding": 125, "input": 125, "coil": 2000, "discrete": 2000}
"""The most registers (or bits) one Modbus read returns."""


@dataclass(frozen=True)
class ReadSpan:
    """One read request: `count` registers or bits of `table` from `start`, holding `resources`."""

    table: Table
    start: int
    count: int
    resources: tuple[Resource, ...]

    @property
    def bits(self) -> bool:
        return self.table in BIT_TABLES

    def decode(self, words: Sequence[int | bool]) -> tuple[dict[str, Any], dict[str, str]]:
        """Resource name -> value from the read's registers, and resource name -> why it could not be decoded.

        Raises `CodecError` when the read is short (bits: pymodbus pads them to a byte; the extra is ignored).
        """
        if len(words) < self.count or (not self.bits and len(words) != self.count):
            raise CodecError(f"{self.table} {self.start}: expected {self.count} values, got {len(words)}")
        values, problems = {}, {}
        for resource in self.resources:
            offset = resource.address - self.start
            try:
                values[resource.name] = decode(resource, [int(w) for w in words[offset : offset + resource.size]])
            except CodecError as exc:
                problems[resource.name] = str(exc)
        return values, problems


def read_plan(profile: ModbusProfile) -> list[ReadSpan]:
    """The watched resources grouped into as few reads as possible: contiguous runs per table, within the limit."""
    if profile.watch is None:
        return []
    resources = sorted((profile.resource(n) for n in profile.watch.resource_names), key=lambda r: (r.table, r.address))
    spans: list[ReadSpan] = []
    for resource in resources:
        last = spans[-1] if spans else None
        if (
            last is not None
            and last.table == resource.table
            and resource.address <= last.start + last.count  # adjacent or overlapping: no gap the device may refuse
            and max(last.start + last.count, resource.last_address + 1) - last.start <= MAX_READ[resource.table]
        ):
            end = max(last.start + last.count, resource.last_address + 1)
            spans[-1] = ReadSpan(last.table, last.start, end - last.start, (*last.resources, resource))
        else:
            spans.append(ReadSpan(resource.table, resource.address, resource.size, (resource,)))
    return spans


@dataclass(frozen=True)
class Change:
    """A device event a watch produced: its type and data (subject: the device itself)."""

    type: str
    data: dict[str, Any]


@dataclass(frozen=True)
class WatchState:
    """What the edge last recorded: status per component ("" = the device) and the faults it holds raised."""

    status: Mapping[str, str] = field(default_factory=dict)
    faults: frozenset[str] = frozenset()

    def to_json(self) -> dict[str, Any]:
        return {"status": dict(self.status), "faults": sorted(self.faults)}

    @classmethod
    def from_json(cls, data: Any) -> "WatchState":
        if not isinstance(data, dict):
            return cls()
        status, faults = data.get("status"), data.get("faults")
        return cls(
            {str(k): str(v) for k, v in status.items()} if isinstance(status, dict) else {},
            frozenset(map(str, faults)) if isinstance(faults, list) else frozenset(),
        )


def watch_changes(watch: Watch, values: Mapping[str, Any], state: WatchState) -> tuple[list[Change], WatchState]:
    """The events that bring `state` up to `values`, and the new state; none when nothing changed.

    A status never recorded is reported with `previous: null`; a fault never raised is not "cleared". Rules
    whose resource is missing from `values` (it could not be read) are skipped: their state stays as it was.
    """
    changes: list[Change] = []
    status = dict(state.status)
    for rule in watch.status:
        if rule.resource not in values:
            continue
        now, key = str(values[rule.resource]), rule.component or ""
        if status.get(key) != now:
            data = {"status": now, "previous": status.get(key), "component": rule.component}
            changes.append(Change("device.status_changed", data))
            status[key] = now
    faults = set(state.faults)
    for fault in watch.faults:
        if fault.resource not in values:
            continue
        present = values[fault.resource] in fault.when
        if present and fault.key not in faults:
            data = {
                "code": fault.code,
                "severity": fault.severity,
                "description": fault.description,
                "component": fault.component,
            }
            changes.append(Change("device.fault_raised", data))
            faults.add(fault.key)
        elif not present and fault.key in faults:
            changes.append(Change("device.fault_cleared", {"code": fault.code, "component": fault.component}))
            faults.discard(fault.key)
    return changes, WatchState(status, frozenset(faults))


def watch_readings(profile: ModbusProfile, values: Mapping[str, Any]) -> list[Reading]:
    """The telemetry readings among `values` (bools as 0/1), with the resources' units."""
    if profile.watch is None or profile.watch.telemetry is None:
        return []
    readings = []
    for name in profile.watch.telemetry.resources:
        if name not in values:
            continue
        resource = profile.resource(name)
        readings.append(Reading(metric=name, value=float(values[name]), unit=resource.units or ""))
    return readings
