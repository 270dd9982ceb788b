"""What a message means: its header (who sent it, which message, which version) and, per specimen, an order, a
container state or a result, read with the field choices of the mapping.

Nothing here touches the database: `gateway.clinical.hl7.inbound` merges what a message says with the order kept
from earlier messages and turns it into events. Values are checked as they are read, so a wrong one is reported
with its segment, field and reason (an AE), and a message that is not supported at all with an AR.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

import hl7

from contract.ids import InvalidIdentifierError, check_identifier
from gateway.clinical.hl7.mapping import FieldPath, Hl7Mapping
from gateway.clinical.hl7.problems import (
    DATA_TYPE_ERROR,
    REQUIRED_FIELD_MISSING,
    TABLE_VALUE_NOT_FOUND,
    UNSUPPORTED_EVENT_CODE,
    UNSUPPORTED_MESSAGE_TYPE,
    UNSUPPORTED_PROCESSING_ID,
    UNSUPPORTED_VERSION_ID,
    Location,
    content_error,
    rejected,
)
from gateway.clinical.hl7.reading import Scope, Seg, order_groups, parse_time, segments_of, stated_zone

SUPPORTED: dict[str, frozenset[str]] = {
    "OML": frozenset({"O21"}),
    "ORM": frozenset({"O01"}),
    "SSU": frozenset({"U03"}),
    "ORU": frozenset({"R01"}),
    "OUL": frozenset({"R22"}),
}
"""Message types (MSH-9.1) and trigger events (MSH-9.2) this listener understands."""
_MSH = "MSH"
MAX_CONTROL_ID = 199
"""MSH-10's length from v2.7 on (20 before): longer is refused rather than cut, so two ids never become one."""
MAX_SENDER = 200
MAX_STATUS = 8
"""The width of `hl7_orders`' container and result status columns: a longer code is an AE, not a database error."""


def has_control(text: str) -> bool:
    """Whether a value holds a control character (NUL, which PostgreSQL cannot store in text, among them)."""
    return any(ord(c) < 32 or ord(c) == 127 for c in text)


def _msh(field: int, component: int = 1) -> FieldPath:
    return FieldPath(_MSH, field, component)


@dataclass(frozen=True, slots=True)
class Header:
    sender: str
    """MSH-3.1, with MSH-4.1 after a `^` when given: the scope of control ids."""
    device: str
    """The device id of this sender's events (`devices` in the mapping, else MSH-3.1)."""
    control_id: str
    message_type: str
    """e.g. `OML^O21`."""
    version: str
    sent_at: datetime | None
    zone: tzinfo


@dataclass(frozen=True, slots=True)
class Known:
    """What a message tells of one specimen, read from its fields; None where the message says nothing."""

    barcode: str
    order_id: str | None = None
    priority: str | None = None
    category: str | None = None
    ward: str | None = None
    collector: str | None = None
    collected_at: datetime | None = None
    category_at: Location | None = None
    ward_at: Location | None = None


@dataclass(frozen=True, slots=True)
class OrderSeen:
    """OML^O21 / ORM^O01: an order for a specimen; with a collection time, the specimen was collected."""

    known: Known
    control: str = "NW"
    """ORC-1 (HL7 table 0119): NW new, SC status changed, CA cancelled..."""


@dataclass(frozen=True, slots=True)
class ContainerSeen:
    """SSU^U03: a container's state (HL7 table 0370) at a piece of equipment."""

    known: Known
    status: str
    at: datetime | None = None
    location: str | None = None


@dataclass(frozen=True, slots=True)
class ResultSeen:
    """ORU^R01 / OUL^R22: the status of a result (HL7 table 0123), when, and who released it."""

    known: Known
    status: str
    at: datetime | None = None
    badge: str | None = None


Seen = OrderSeen | ContainerSeen | ResultSeen


@dataclass(frozen=True, slots=True)
class Reading:
    """What a message says of its specimens: what is tracked, and the test codes (OBR-4) of the specimens and
    results left out because `categories` does not name them (`unmapped_tests: skip`), one per specimen."""

    seen: list[Seen]
    unmapped: list[str]


def sender_of(msh: Seg, mapping: Hl7Mapping) -> str:
    """The sending application (the mapping's `sender`, MSH-3.1), with the facility (MSH-4.1) after a `^`."""
    application, facility = msh.read(mapping.sender), msh.read(_msh(4))
    return f"{application}^{facility}" if application and facility else application


def read_header(message: hl7.Message, mapping: Hl7Mapping) -> Header:
    """The header, or an AR when the message type, version or processing id is not one this listener takes."""
    msh = segments_of(message)[0]
    control_id = msh.read(_msh(10))
    if not control_id:
        raise rejected(REQUIRED_FIELD_MISSING, "no message control id: the ACK could not be matched", msh.at(_msh(10)))
    if len(control_id) > MAX_CONTROL_ID:
        reason = f"the message control id is {len(control_id)} characters long, the limit is {MAX_CONTROL_ID}"
        raise rejected(DATA_TYPE_ERROR, reason, msh.at(_msh(10)))
    if has_control(control_id):
        raise rejected(DATA_TYPE_ERROR, "the message control id contains a control character", msh.at(_msh(10)))
    kind, trigger = msh.read(_msh(9, 1)), msh.read(_msh(9, 2))
    if kind not in SUPPORTED:
        raise rejected(UNSUPPORTED_MESSAGE_TYPE, f"message type {kind!r} is not supported", msh.at(_msh(9)))
    if trigger not in SUPPORTED[kind]:
        raise rejected(UNSUPPORTED_EVENT_CODE, f"{kind}^{trigger} is not supported", msh.at(_msh(9, 2)))
    version = msh.read(_msh(12))
    if version not in mapping.versions:
        raise rejected(
            UNSUPPORTED_VERSION_ID,
            f"version {version!r} is not supported; use one of {', '.join(mapping.versions)}",
            msh.at(_msh(12)),
        )
    processing = msh.read(_msh(11))
    if processing not in mapping.processing_ids:
        raise rejected(UNSUPPORTED_PROCESSING_ID, f"processing id {processing!r} is not accepted", msh.at(_msh(11)))
    application = msh.read(mapping.sender)
    if not application:
        raise rejected(REQUIRED_FIELD_MISSING, "no sending application", msh.at(mapping.sender))
    if len(sender_of(msh, mapping)) > MAX_SENDER:
        reason = f"sending application and facility are longer than {MAX_SENDER} characters"
        raise rejected(DATA_TYPE_ERROR, reason, msh.at(mapping.sender))
    for path in (mapping.sender, _msh(4)):
        if has_control(msh.read(path)):
            raise rejected(DATA_TYPE_ERROR, "the sender contains a control character", msh.at(path))
    device = mapping.devices.get(application, application)
    try:
        check_identifier(device, what="device id")
    except InvalidIdentifierError as exc:
        reason = f"{exc}; map it under `devices` in the mapping"
        raise rejected(DATA_TYPE_ERROR, reason, msh.at(mapping.sender)) from None
    sent = msh.read(_msh(7))
    sent_at = parse_time(sent, msh.at(_msh(7)), mapping.zone) if sent else None
    zone = stated_zone(sent) or mapping.zone  # HL7: a time without an offset is in the sender's zone (MSH-7's)
    return Header(
        sender=sender_of(msh, mapping),
        device=device,
        control_id=control_id,
        message_type=f"{kind}^{trigger}",
        version=version,
        sent_at=sent_at,
        zone=zone,
    )


def _code(scope: Scope, choices: Sequence[FieldPath], table: dict[str, str], what: str) -> tuple[str, Location] | None:
    found = scope.first(choices)
    if found is None:
        return None
    code, at = found
    if code not in table:
        raise content_error(
            TABLE_VALUE_NOT_FOUND, f"{what} code {code!r} is not in the mapping (known: {', '.join(table)})", at
        )
    return table[code], at


def _status(scope: Scope, choices: Sequence[FieldPath], what: str) -> tuple[str, Location] | None:
    """A status code as `hl7_orders` keeps it: at most `MAX_STATUS` characters, none of them a control character."""
    found = scope.first(choices)
    if found is None:
        return None
    code, at = found
    if len(code) > MAX_STATUS:
        reason = f"the {what} is {len(code)} characters long, the limit is {MAX_STATUS}"
        raise content_error(DATA_TYPE_ERROR, reason, at)
    if has_control(code):
        raise content_error(DATA_TYPE_ERROR, f"the {what} contains a control character", at)
    return found


def _value(found: tuple[str, Location] | None) -> str | None:
    return found[0] if found is not None else None


def _barcode(scope: Scope, choices: Sequence[FieldPath]) -> str:
    found = scope.identifier(choices, "barcode")
    if found is None:
        tried = ", ".join(str(path) for path in choices)
        raise content_error(REQUIRED_FIELD_MISSING, f"no specimen barcode: {tried} are all empty", scope.where(choices))
    return found[0]


def _known(scope: Scope, mapping: Hl7Mapping) -> Known:
    """The order's fields a message of any type may carry (an SSU^U03's SPM may bring the collection time)."""
    category = _code(scope, mapping.category, mapping.categories, "test")
    collected = scope.time(mapping.collected_at)
    return Known(
        barcode=_barcode(scope, mapping.barcode),
        order_id=_value(scope.identifier(mapping.order_id, "order id")),
        priority=_value(_code(scope, mapping.priority, dict(mapping.priorities), "priority")),
        category=_value(category),
        ward=_value(scope.identifier(mapping.ward, "ward")),
        collector=_value(scope.identifier(mapping.collector, "collector badge")),
        collected_at=collected[0] if collected is not None else None,
        category_at=category[1] if category is not None else scope.where(mapping.category),
        ward_at=scope.where(mapping.ward),
    )


def read_specimens(message: hl7.Message, header: Header, mapping: Hl7Mapping) -> Reading:
    """What the message says of each specimen it names; AE (`Hl7MessageError`) at the first wrong or missing value."""
    segments = segments_of(message)
    base = Scope(zone=header.zone).with_(*_firsts(segments, "MSH", "PV1", "EQU"))
    kind = header.message_type.split("^")[0]
    if kind == "SSU":
        return Reading([_container(scope, mapping) for scope in _container_scopes(segments, base)], [])
    groups = order_groups(segments, specimen_first=kind == "OUL")
    if not groups:
        reason = "no OBR segment: nothing is ordered or resulted"
        raise content_error(REQUIRED_FIELD_MISSING, reason, Location("OBR", 1, 1))
    reading = Reading([], [])
    for scope in (scope for group in groups for scope in group.scopes(base)):
        if (code := _unmapped_test(scope, mapping)) is not None:
            reading.unmapped.append(code)
        else:
            reading.seen.append(_order(scope, mapping) if kind in ("OML", "ORM") else _result(scope, mapping))
    return reading


def _unmapped_test(scope: Scope, mapping: Hl7Mapping) -> str | None:
    """The test code when `categories` does not name it and `unmapped_tests` is `skip`; under `reject` an AE."""
    found = scope.first(mapping.category)
    if found is None or found[0] in mapping.categories:
        return None
    if mapping.unmapped_tests == "reject":
        _code(scope, mapping.category, mapping.categories, "test")  # raises: table value not found
    return found[0]


def _firsts(segments: Sequence[Seg], *names: str) -> list[Seg]:
    return [next(s for s in segments if s.name == name) for name in names if any(s.name == name for s in segments)]


def _order(scope: Scope, mapping: Hl7Mapping) -> OrderSeen:
    orc = scope.segments.get("ORC")
    control = orc.read(FieldPath("ORC", 1)) if orc is not None else ""
    return OrderSeen(_known(scope, mapping), control=control or "NW")


def _result(scope: Scope, mapping: Hl7Mapping) -> ResultSeen:
    fields = mapping.result
    status = _status(scope, fields.status, "result status")
    if status is None:
        raise content_error(REQUIRED_FIELD_MISSING, "no result status", scope.where(fields.status))
    at = scope.time(fields.at)
    return ResultSeen(
        Known(barcode=_barcode(scope, mapping.barcode)),  # a result needs no order fields, whatever the test
        status=status[0],
        at=at[0] if at is not None else None,
        badge=_value(scope.identifier(fields.badge, "badge")),
    )


def _container_scopes(segments: Sequence[Seg], base: Scope) -> list[Scope]:
    """SSU^U03: one scope per SAC, with the SPM that follows it (IHE LAW's SPECIMEN_CONTAINER group)."""
    scopes: list[Scope] = []
    for index, seg in enumerate(segments):
        if seg.name != "SAC":
            continue
        following = segments[index + 1 :]
        end = next((i for i, s in enumerate(following) if s.name == "SAC"), len(following))
        spm = next((s for s in following[:end] if s.name == "SPM"), None)
        scopes.append(base.with_(seg, spm))
    if not scopes:
        raise content_error(REQUIRED_FIELD_MISSING, "no SAC segment: no container to report", Location("SAC", 1, 1))
    return scopes


def _container(scope: Scope, mapping: Hl7Mapping) -> ContainerSeen:
    fields = mapping.container
    barcode = _barcode(scope, fields.barcode)
    status = _status(scope, fields.status, "container status")
    if status is None:
        raise content_error(REQUIRED_FIELD_MISSING, "no container status", scope.where(fields.status))
    at = scope.time(fields.at)
    collected = scope.time(mapping.collected_at)
    return ContainerSeen(
        Known(barcode=barcode, collected_at=collected[0] if collected is not None else None),
        status=status[0],
        at=at[0] if at is not None else None,
        location=_value(scope.identifier(fields.location, "location")),
    )
