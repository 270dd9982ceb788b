"""Mailbox head records <-> domain observations, as the profile's `mailbox` section describes them."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from contract.base import SubjectKind
from contract.ids import InvalidIdentifierError, check_identifier
from device_profiles.codec import decode, encode
from device_profiles.contract_events import event_shapes
from device_profiles.errors import CodecError, RecordError
from device_profiles.profile import EventMapping, Mailbox, ModbusProfile, ResourceList


@dataclass(frozen=True)
class MailboxRecord:
    """One observation the device queued: what happened, to which subject, when (device clock, UTC)."""

    seq: int
    event_type: str
    subject_kind: SubjectKind
    subject_id: str
    occurred_at: datetime
    data: dict[str, Any] = field(default_factory=dict)


def noread_id(device_id: str, seq: int) -> str:
    """Placeholder subject id of a tube the device could not read: unique per device and record."""
    return f"NOREAD.{device_id}.{seq}"


def mailbox_of(profile: ModbusProfile) -> Mailbox:
    """The profile's mailbox; a `CodecError` naming the profile when it has none (a watch-only device)."""
    if profile.mailbox is None:
        raise CodecError(f"profile {profile.name!r} has no mailbox")
    return profile.mailbox


class _Block:
    """The registers of one mailbox read, decoded lazily by resource name."""

    def __init__(self, profile: ModbusProfile, registers: list[int]) -> None:
        box = mailbox_of(profile)
        if len(registers) != box.count:
            raise CodecError(f"mailbox block: expected {box.count} registers from {box.address}, got {len(registers)}")
        self.profile = profile
        self.box = box
        self.registers = registers

    def value(self, name: str) -> Any:
        resource = self.profile.resource(name)
        start = resource.address - self.box.address
        return decode(resource, self.registers[start : start + resource.size])

    def field(self, spec: str | ResourceList) -> Any:
        """One data field: a resource's value, or the first `count` slots of a list."""
        if not isinstance(spec, ResourceList):
            return self.value(spec)
        count = int(self.value(spec.count))
        if not 0 <= count <= len(spec.items):
            raise CodecError(f"{spec.count}: {count} values, but the profile has {len(spec.items)} slots")
        return [self.value(name) for name in spec.items[:count]]


def decode_record(profile: ModbusProfile, registers: list[int], device_id: str) -> MailboxRecord | None:
    """The head record in one read of `profile.mailbox`; None when the mailbox is empty (sequence 0).

    Raises `RecordError` (a ValueError) saying which record and field when the record cannot become an event.
    """
    block = _Block(profile, registers)
    box = block.box
    seq = int(block.value(box.sequence))
    if seq == 0:
        return None
    try:
        return _decode(block, seq, device_id)
    except (CodecError, InvalidIdentifierError) as exc:
        raise RecordError(f"device {device_id} mailbox record {seq}: {exc}", seq=seq) from exc


def _decode(block: _Block, seq: int, device_id: str) -> MailboxRecord:
    box = block.box
    event_type = str(block.value(box.event_type))
    mapping = box.events[event_type]
    shape = event_shapes()[event_type]
    seconds = int(block.value(box.occurred_at.seconds))
    millis = int(block.value(box.occurred_at.milliseconds)) if box.occurred_at.milliseconds else 0
    if not 0 <= millis <= 999:
        raise CodecError(f"{box.occurred_at.milliseconds}: {millis} is not a millisecond (0..999)")
    unreadable = _unreadable(mapping, block.value)
    if unreadable:
        subject_id = noread_id(device_id, seq)
    else:
        subject_id = check_identifier(str(block.value(mapping.subject_id)), what=f"subject id ({mapping.subject_id})")
    data = {name: block.field(spec) for name, spec in mapping.data.items()}
    if mapping.unreadable is not None:
        data[mapping.unreadable.flag] = not unreadable
    try:
        shape.data_model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise CodecError(f"{event_type} data {data} does not fit the contract: {problems}") from None
    return MailboxRecord(
        seq=seq,
        event_type=event_type,
        subject_kind=shape.subject_kind,
        subject_id=subject_id,
        occurred_at=datetime.fromtimestamp(seconds, UTC).replace(microsecond=millis * 1000),
        data=data,
    )


def _unreadable(mapping: EventMapping, value: Any) -> bool:
    if mapping.unreadable is None:
        return False
    return all(value(name) == expected for name, expected in mapping.unreadable.when.items())


def encode_record(
    profile: ModbusProfile, record: MailboxRecord | None, *, extra: Mapping[str, Any] | None = None
) -> list[int]:
    """The mailbox block showing `record` (None: the empty mailbox); `extra` sets other in-block resources."""
    box = mailbox_of(profile)
    values: dict[str, Any] = dict(extra or {})
    if record is None:
        values[box.sequence] = 0
    else:
        mapping = box.events.get(record.event_type)
        if mapping is None:
            raise CodecError(f"{profile.name} has no mailbox mapping for {record.event_type!r}")
        stamp = record.occurred_at.astimezone(UTC)
        values[box.sequence] = record.seq
        values[box.event_type] = record.event_type
        values[box.occurred_at.seconds] = int(stamp.timestamp())
        if box.occurred_at.milliseconds:
            values[box.occurred_at.milliseconds] = stamp.microsecond // 1000
        for field_name, spec in mapping.data.items():
            value = record.data.get(field_name)
            if value is None:
                continue
            if isinstance(spec, ResourceList):
                values.update(_slots(spec, field_name, value))
            else:
                values[spec] = value
        values[mapping.subject_id] = "" if _unreadable(mapping, values.get) else record.subject_id
    words = [0] * box.count
    for name, value in values.items():
        resource = profile.resource(name)
        if not box.contains(resource):
            raise CodecError(f"resource {name!r} ({resource.where}) is not in the mailbox block")
        start = resource.address - box.address
        words[start : start + resource.size] = encode(resource, value)
    return words


def _slots(spec: ResourceList, field_name: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, list | tuple):
        raise CodecError(f"{field_name}: expected a list, got {value!r}")
    if len(value) > len(spec.items):
        raise CodecError(f"{field_name}: {len(value)} values, but the profile has {len(spec.items)} slots")
    return {spec.count: len(value), **dict(zip(spec.items, value, strict=False))}


def encode_ack(profile: ModbusProfile, seq: int) -> tuple[int, list[int]]:
    """Holding address and register values that acknowledge record `seq` (for `write_registers`)."""
    ack = profile.resource(mailbox_of(profile).ack)
    return ack.address, encode(ack, seq)


def decode_ack(profile: ModbusProfile, registers: list[int]) -> int:
    """The sequence number written to the ack register (the device side of `encode_ack`)."""
    return int(decode(profile.resource(mailbox_of(profile).ack), registers))
