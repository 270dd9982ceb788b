"""Watch rules of a Modbus profile: registers polled besides the mailbox, and the commands the device takes.

A watch turns register values into device events on change (`device.status_changed`, `device.fault_raised` /
`device.fault_cleared`) and into telemetry readings; `commands` turn contract commands into register or coil
writes. All of it is data in the profile; `watch_problems` checks that every name refers to a resource that fits.
"""

from collections.abc import Mapping
from functools import cache
from typing import get_args

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from contract.command import Command
from contract.events.device import Severity
from contract.ids import Identifier
from device_profiles.codec import encode
from device_profiles.errors import CodecError
from device_profiles.resource import Resource, ResourceName

Value = StrictBool | int | float | str
"""A resource value as the profile writes it: a mapped name, a number or true/false."""


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StatusRule(_Strict):
    """A mapped resource whose name is the status of the device (no component) or of one of its parts."""

    resource: ResourceName
    component: Identifier | None = Field(default=None, description="A station, a zone; None for the device itself.")


class FaultRule(_Strict):
    """The fault `code` is present while the resource shows one of the `when` values, and cleared otherwise."""

    resource: ResourceName
    when: list[Value] = Field(default=[True], min_length=1, description="Values that mean the fault is present.")
    code: Identifier
    severity: Severity = "warning"
    description: str = Field(default="", max_length=200)
    component: Identifier | None = None

    @property
    def key(self) -> str:
        return f"{self.code}@{self.component or ''}"


class TelemetryRule(_Strict):
    """Numeric resources sent as readings: after a change at the next poll, and at least every `every_s`."""

    resources: list[ResourceName] = Field(min_length=1, max_length=100)
    every_s: float = Field(default=10.0, gt=0, le=3600)


class Watch(_Strict):
    """What the edge polls every `poll_interval_s` besides the mailbox."""

    status: list[StatusRule] = Field(default_factory=list)
    faults: list[FaultRule] = Field(default_factory=list)
    telemetry: TelemetryRule | None = None

    @property
    def resource_names(self) -> list[str]:
        """Every watched resource once, in the order the rules name them."""
        rules: list[StatusRule | FaultRule] = [*self.status, *self.faults]
        names = [rule.resource for rule in rules]
        names += self.telemetry.resources if self.telemetry else []
        return list(dict.fromkeys(names))


class CommandWrite(_Strict):
    """One write a command makes: `value` (a mapped name, number or bool) to a writable resource."""

    resource: ResourceName
    value: Value


@cache
def command_types() -> tuple[str, ...]:
    """The contract's command types (`pause`, `resume`, ...), read from its discriminated union."""
    union = get_args(Command)[0]
    return tuple(cls.model_fields["type"].default for cls in get_args(union))


def _fits(resource: Resource, value: Value) -> str | None:
    """Why `value` cannot be a value of `resource`, or None when it can."""
    if resource.mappings is not None:
        if value not in resource.mappings.values():
            return f"{value!r} is not a mapped value of {resource.name!r} ({', '.join(resource.mappings.values())})"
        return None
    try:
        encode(resource, value)
    except CodecError as exc:
        return str(exc)
    return None


def watch_problems(
    resources: Mapping[str, Resource], watch: Watch | None, commands: Mapping[str, list[CommandWrite]]
) -> list[tuple[str, str]]:
    """Cross-reference problems of a profile's `watch` and `commands` against its `resources` (by name), as
    (field, reason)."""
    out: list[tuple[str, str]] = []

    def find(field: str, name: str) -> Resource | None:
        resource = resources.get(name)
        if resource is None:
            out.append((field, f"no resource named {name!r} (known: {', '.join(sorted(resources))})"))
        return resource

    if watch is not None:
        components: dict[str | None, int] = {}
        for i, rule in enumerate(watch.status):
            field = f"watch.status[{i}]"
            resource = find(f"{field}.resource", rule.resource)
            if resource is not None and not resource.mappings:
                out.append((f"{field}.resource", f"resource {rule.resource!r} needs mappings to status names"))
            if rule.component in components:
                whose = rule.component or "the device itself"
                out.append(
                    (f"{field}.component", f"{whose} already has a status: watch.status[{components[rule.component]}]")
                )
            components.setdefault(rule.component, i)
        keys: dict[str, int] = {}
        for i, fault in enumerate(watch.faults):
            field = f"watch.faults[{i}]"
            resource = find(f"{field}.resource", fault.resource)
            if resource is not None:
                for j, value in enumerate(fault.when):
                    if reason := _fits(resource, value):
                        out.append((f"{field}.when[{j}]", reason))
            if fault.key in keys:
                out.append(
                    (f"{field}.code", f"{fault.code!r} for this component is already watch.faults[{keys[fault.key]}]")
                )
            keys.setdefault(fault.key, i)
        if watch.telemetry is not None:
            for i, name in enumerate(watch.telemetry.resources):
                resource = find(f"watch.telemetry.resources[{i}]", name)
                if resource is not None and (resource.mappings or resource.value_type == "str"):
                    out.append(
                        (f"watch.telemetry.resources[{i}]", f"resource {name!r} is not a number: telemetry is numeric")
                    )
    for command, writes in commands.items():
        field = f"commands[{command}]"
        if command not in command_types():
            out.append((field, f"not a contract command (known: {', '.join(command_types())})"))
        for i, write in enumerate(writes):
            resource = find(f"{field}[{i}].resource", write.resource)
            if resource is None:
                continue
            if resource.table not in ("coil", "holding") or resource.read_write == "R":
                out.append(
                    (
                        f"{field}[{i}].resource",
                        f"resource {resource.name!r} ({resource.where}) must be a writable coil or holding register",
                    )
                )
            elif reason := _fits(resource, write.value):
                out.append((f"{field}[{i}].value", reason))
    return out
