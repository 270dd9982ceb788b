"""A device profile (device model): its resources, how its mailbox records become domain events, what it watches."""

from functools import cached_property
from typing import ClassVar, Literal, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator

from contract.ids import Identifier
from device_profiles.contract_events import event_shapes
from device_profiles.resource import INTEGER_RAW_TYPES, Resource, ResourceName
from device_profiles.watch import CommandWrite, Watch, watch_problems

COLLECT_PROBLEMS = "collect_problems"
"""Validation context key: skip the cross-reference checks so the loader can report each one with its field."""


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Block(_Strict):
    """One contiguous read that returns a whole mailbox head record."""

    table: Literal["holding", "input"]
    start: int = Field(ge=0, le=65535)
    count: int = Field(ge=1, le=125, description="Registers; 125 is the Modbus limit of one read.")


class OccurredAt(_Strict):
    seconds: ResourceName = Field(description="Unix seconds (UTC) of the device clock.")
    milliseconds: ResourceName | None = None


class Unreadable(_Strict):
    """When the device could not read the subject: the id becomes `NOREAD.{device}.{seq}` and `flag` is False."""

    when: dict[ResourceName, str] = Field(min_length=1, description="resource -> mapped name that means unreadable")
    flag: str = Field(description="Data field set False when unreadable, True otherwise.")


class ResourceList(_Strict):
    """A list-valued data field: `count` says how many of the `items` slots (in order) hold values."""

    items: list[ResourceName] = Field(min_length=1, max_length=100)
    count: ResourceName


class EventMapping(_Strict):
    """Which resources fill one event type: its subject id and its data fields."""

    subject_id: ResourceName
    data: dict[str, ResourceName | ResourceList] = Field(
        default_factory=dict, description="contract data field -> resource, or slots + count for a list"
    )
    unreadable: Unreadable | None = None


class Mailbox(_Strict):
    """A FIFO whose head record the edge reads in one block and acknowledges by writing its sequence number."""

    block: Block
    sequence: ResourceName = Field(description="Record sequence number; 0 means the mailbox is empty.")
    ack: ResourceName = Field(description="Writable register the edge writes the consumed sequence number to.")
    pending: ResourceName | None = Field(default=None, description="Records waiting, head included.")
    event_type: ResourceName = Field(description="Resource whose mapped name is the event type.")
    occurred_at: OccurredAt
    events: dict[str, EventMapping] = Field(min_length=1)

    @property
    def table(self) -> str:
        return self.block.table

    @property
    def address(self) -> int:
        return self.block.start

    @property
    def count(self) -> int:
        return self.block.count

    def contains(self, resource: Resource) -> bool:
        block = self.block
        return (
            resource.table == block.table
            and resource.address >= block.start
            and resource.last_address < block.start + block.count
        )


class ProfileBase(_Strict):
    """What every device model has (EdgeX: device profile); devices at an address are a site's `DeviceInstance`s.

    Each protocol subclasses it with a `protocol` literal; `endpoint` names the `DeviceInstance` field that
    says where a device of this model is (`modbus` or `mqtt`).
    """

    endpoint: ClassVar[Literal["modbus", "mqtt"]]

    name: Identifier = Field(description="Profile name, equal to the file name without .yaml.")
    manufacturer: str = Field(min_length=1)
    model: str = Field(min_length=1)
    description: str = ""
    labels: list[str] = Field(default_factory=list)

    def problems(self) -> list[tuple[str, str]]:
        """Cross-reference problems as (field, reason); none by default."""
        return []


class ModbusProfile(ProfileBase):
    """A Modbus TCP device model: registers as resources, a mailbox whose records become events, watch rules
    polled besides it, and the commands it takes (at least a mailbox or a watch)."""

    endpoint: ClassVar[Literal["modbus", "mqtt"]] = "modbus"

    protocol: Literal["modbus-tcp"] = "modbus-tcp"
    resources: list[Resource] = Field(min_length=1)
    mailbox: Mailbox | None = None
    watch: Watch | None = None
    commands: dict[str, list[CommandWrite]] = Field(
        default_factory=dict, description="contract command type (pause, resume) -> the writes that carry it out"
    )

    @cached_property
    def by_name(self) -> dict[str, Resource]:
        return {resource.name: resource for resource in self.resources}

    def resource(self, name: str) -> Resource:
        return self.by_name[name]

    @model_validator(mode="after")
    def _cross_checked(self, info: ValidationInfo) -> "ModbusProfile":
        if info.context and info.context.get(COLLECT_PROBLEMS):
            return self
        if problems := self.problems():
            raise ValueError("; ".join(f"{field}: {reason}" for field, reason in problems))
        return self

    def problems(self) -> list[tuple[str, str]]:
        """Cross-reference problems as (field, reason): overlaps; mailbox, watch or command names that do not fit."""
        out = _resource_problems(self.resources)
        if self.mailbox is None and self.watch is None:
            out.append(("mailbox", "a Modbus profile needs a mailbox, a watch, or both: nothing would be read"))
        if self.mailbox is not None:
            out += _MailboxCheck(self, self.mailbox).problems()
        return out + watch_problems(self.by_name, self.watch, self.commands)


def _resource_problems(resources: list[Resource]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    for i, resource in enumerate(resources):
        if resource.name in seen:
            out.append(
                (f"resources[{i}].name", f"{resource.name!r} is already the name of resources[{seen[resource.name]}]")
            )
        seen.setdefault(resource.name, i)
        for other in resources[:i]:
            if (
                other.table == resource.table
                and resource.address <= other.last_address
                and other.address <= resource.last_address
            ):
                out.append((f"resources[{i}].address", f"overlaps resource {other.name!r} ({other.where})"))
    return out


class _MailboxCheck:
    def __init__(self, profile: ModbusProfile, box: Mailbox) -> None:
        self.box = box
        self.resources = {r.name: r for r in profile.resources}
        self.out: list[tuple[str, str]] = []

    def problems(self) -> list[tuple[str, str]]:
        box = self.box
        if box.block.start + box.block.count - 1 > 65535:
            self.out.append(("mailbox.block.count", "the block ends beyond the last Modbus address 65535"))
        self._in_block("mailbox.sequence", box.sequence, integer=True)
        if box.pending is not None:
            self._in_block("mailbox.pending", box.pending, integer=True)
        self._in_block("mailbox.occurred_at.seconds", box.occurred_at.seconds, integer=True)
        if box.occurred_at.milliseconds is not None:
            self._in_block("mailbox.occurred_at.milliseconds", box.occurred_at.milliseconds, integer=True)
        self._ack()
        self._event_type()
        for event_type, mapping in box.events.items():
            self._event(event_type, mapping)
        return self.out

    def _find(self, field: str, name: str) -> Resource | None:
        resource = self.resources.get(name)
        if resource is None:
            self.out.append((field, f"no resource named {name!r} (known: {', '.join(sorted(self.resources))})"))
        return resource

    def _in_block(self, field: str, name: str, *, integer: bool = False) -> Resource | None:
        resource = self._find(field, name)
        if resource is None:
            return None
        if not self.box.contains(resource):
            block = self.box.block
            self.out.append(
                (
                    field,
                    f"resource {name!r} ({resource.where}) is outside the mailbox block "
                    f"({block.table} {block.start}-{block.start + block.count - 1}): one read must return the record",
                )
            )
        if integer and resource.raw_type not in INTEGER_RAW_TYPES:
            self.out.append((field, f"resource {name!r} must be an integer, not {resource.raw_type}"))
        return resource

    def _ack(self) -> None:
        ack = self._find("mailbox.ack", self.box.ack)
        if ack is None:
            return
        if ack.table != "holding" or ack.read_write == "R":
            self.out.append(("mailbox.ack", f"resource {ack.name!r} ({ack.where}) must be a writable holding register"))
        if ack.raw_type not in INTEGER_RAW_TYPES:
            self.out.append(("mailbox.ack", f"resource {ack.name!r} must be an integer, not {ack.raw_type}"))
        sequence = self.resources.get(self.box.sequence)
        if sequence is not None and ack.size < sequence.size:
            self.out.append(("mailbox.ack", f"resource {ack.name!r} is narrower than the sequence {sequence.name!r}"))

    def _event_type(self) -> None:
        resource = self._in_block("mailbox.event_type", self.box.event_type)
        if resource is None:
            return
        if not resource.mappings:
            self.out.append(("mailbox.event_type", f"resource {resource.name!r} needs mappings to event type names"))
            return
        for name in resource.mappings.values():
            if name not in self.box.events:
                self.out.append(("mailbox.events", f"no entry for {name!r}, a value of {resource.name!r}"))
        for name in self.box.events:
            if name not in resource.mappings.values():
                self.out.append((f"mailbox.events[{name}]", f"{name!r} is not a value of {resource.name!r}"))

    def _event(self, event_type: str, mapping: EventMapping) -> None:
        where = f"mailbox.events[{event_type}]"
        shape = event_shapes().get(event_type)
        if shape is None:
            self.out.append((where, f"unknown event type (the contract has: {', '.join(sorted(event_shapes()))})"))
            return
        self._in_block(f"{where}.subject_id", mapping.subject_id)
        for field, spec in mapping.data.items():
            if field not in shape.fields:
                self.out.append(
                    (f"{where}.data.{field}", f"not a field of {event_type} (fields: {', '.join(shape.fields)})")
                )
            else:
                self._list_or_not(f"{where}.data.{field}", field, spec, shape.data_model.model_fields[field].annotation)
            if isinstance(spec, ResourceList):
                for j, item in enumerate(spec.items):
                    self._in_block(f"{where}.data.{field}.items[{j}]", item)
                self._in_block(f"{where}.data.{field}.count", spec.count, integer=True)
            else:
                self._in_block(f"{where}.data.{field}", spec)
        flag = mapping.unreadable.flag if mapping.unreadable else None
        for field in shape.required:
            if field not in mapping.data and field != flag:
                self.out.append((f"{where}.data", f"{event_type} requires {field!r}: map it to a resource"))
        if mapping.unreadable is not None:
            self._unreadable(f"{where}.unreadable", mapping.unreadable, mapping, shape.fields)

    def _list_or_not(self, where: str, field: str, spec: str | ResourceList, annotation: object) -> None:
        is_list = get_origin(annotation) is list
        if is_list and not isinstance(spec, ResourceList):
            self.out.append((where, f"{field!r} is a list: map it to slots and a count ({{items: [...], count: ...}})"))
        elif not is_list and isinstance(spec, ResourceList):
            self.out.append((where, f"{field!r} is a single value: map it to one resource, not a list"))

    def _unreadable(self, where: str, unreadable: Unreadable, mapping: EventMapping, fields: tuple[str, ...]) -> None:
        if unreadable.flag not in fields:
            self.out.append((f"{where}.flag", f"{unreadable.flag!r} is not a data field of this event type"))
        elif unreadable.flag in mapping.data:
            self.out.append((f"{where}.flag", f"{unreadable.flag!r} is set by the device here, so not also by data"))
        for name, value in unreadable.when.items():
            resource = self._in_block(f"{where}.when.{name}", name)
            if resource is not None and value not in (resource.mappings or {}).values():
                self.out.append((f"{where}.when.{name}", f"{value!r} is not a mapped value of {name!r}"))
