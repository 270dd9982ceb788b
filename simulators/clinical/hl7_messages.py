"""The simulated lab system's HL7 v2.5.1 messages, built from canonical specimen events.

Segments are written from templates whose every value is escaped with python-hl7 (`Message.escape`), then parsed
by python-hl7 (`hl7.parse`), so a separator inside a value never breaks the message. The field conventions are the
ones the gateway's inbound listener reads by default (docs/integration.md):

| event                | message   | fields                                                                        |
|----------------------|-----------|-------------------------------------------------------------------------------|
| `specimen.collected` | OML^O21   | SPM-2 and OBR-3 barcode, TQ1-9 and OBR-27.6 priority (S/A/R), OBR-4.1 test code, |
|                      |           | PV1-3.1 ward, OBR-10.1 collector badge, ORC-2 order id, OBR-7 and SPM-17 time  |
| `specimen.received`  | SSU^U03   | SAC-3 barcode, SAC-8 "I" (identified), EQU-1.1 bench, EQU-2 time, ROL-4 badge   |
| `specimen.resulted`  | ORU^R01   | OBR-3 and SPM-2 barcode, OBR-25 "F", OBR-22 result time, OBR-32.1 badge         |

Real LIS messages carry a patient (PID), so these do too: always the same made-up, obviously fictional one. The
gateway drops it on arrival; nothing here is anybody's data.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import hl7

from contract import Event
from contract.events.specimen import SpecimenCollected, SpecimenReceived, SpecimenResulted

HL7_VERSION = "2.5.1"
CHARACTER_SET = "UNICODE UTF-8"
"""MSH-18 (HL7 table 0211): the link writes UTF-8."""
LOINC = "LN"

TEST_CODES: dict[str, tuple[str, str]] = {
    "biochemistry": ("24323-8", "Comprehensive metabolic panel"),
    "cbc": ("58410-2", "CBC panel"),
    "coagulation": ("34714-6", "INR"),
    "immunology": ("2465-3", "IgG"),
    "blood-gas": ("24336-0", "Gas panel"),
    "urinalysis": ("24356-8", "Urinalysis complete panel"),
    "microbiology": ("600-7", "Bacteria identified in Blood by Culture"),
    "serology": ("5196-1", "Hepatitis B virus surface Ag"),
}
"""The demo's test categories (`simulators.clinical.journey.CATEGORIES`) as LOINC codes in OBR-4."""
PRIORITY_CODES: dict[str, str] = {"stat": "S", "urgent": "A", "routine": "R"}
"""HL7 table 0485 (TQ1-9, OBR-27.6): S stat, A as soon as possible, R routine."""
SPECIMEN_TYPES: dict[str, tuple[str, str]] = {"urinalysis": ("UR", "Urine")}
"""HL7 table 0487 (SPM-4); blood unless listed."""
BLOOD = ("BLD", "Whole blood")
IDENTIFIED = "I"
"""HL7 table 0370 container status (SAC-8): identified, as the lab takes the container in."""
FINAL = "F"
"""HL7 table 0123 result status (OBR-25): final."""

FICTIONAL_PATIENT = ("DEMO-0000001", ("FICTIONAL", "DEMO PATIENT"), "19000101")
"""Patient id, family^given name and birth date of nobody: what a real LIS would send in PID, made up."""

Value = str | Sequence[str] | None
"""One field: a value, its components, or nothing."""

_ESCAPER = hl7.Message()
"""Escapes with HL7's default separators (`|^~\\&`), which every message here declares in MSH-2."""


@dataclass(frozen=True)
class Header:
    """Who sends and who receives (MSH-3 to MSH-6)."""

    application: str = "LIS"
    facility: str = "general-hospital"
    """The site, as wardlink names it (MSH-4 and MSH-6)."""
    receiving_application: str = "WARDLINK"
    receiving_facility: str = "general-hospital"


def hl7_time(moment: datetime) -> str:
    """An HL7 DTM in UTC to a ten-thousandth of a second, e.g. `20261206093012.1234+0000`."""
    utc = moment.astimezone(UTC)
    return f"{utc:%Y%m%d%H%M%S}.{utc.microsecond // 100:04d}+0000"


def _field(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return str(_ESCAPER.escape(value))
    return "^".join(str(_ESCAPER.escape(part)) for part in value)


def segment(name: str, *fields: Value) -> str:
    """One segment with every value escaped; fields are numbered from 1 as given."""
    return "|".join([name, *(_field(f) for f in fields)])


def _msh(header: Header, kind: tuple[str, str, str], control_id: str, sent_at: datetime) -> str:
    # MSH-1 (the field separator) and MSH-2 (the encoding characters) are the only fields never escaped.
    fields = segment(
        "",
        header.application,
        header.facility,
        header.receiving_application,
        header.receiving_facility,
        hl7_time(sent_at),
        None,
        kind,
        control_id,
        "P",
        HL7_VERSION,
        None,
        None,
        None,
        None,
        None,
        CHARACTER_SET,
    )
    return "MSH|^~\\&" + fields


def _pid() -> str:
    patient_id, name, born = FICTIONAL_PATIENT
    return segment("PID", "1", None, (patient_id, "", "", "LIS", "MR"), None, name, None, born, "U")


def _collected(event: SpecimenCollected) -> list[str]:
    data, barcode, at = event.data, event.subject.id, hl7_time(event.occurred_at)
    priority = PRIORITY_CODES[data.priority]
    specimen_type = SPECIMEN_TYPES.get(data.category, BLOOD)
    order_id = data.order_id
    return [
        _pid(),
        segment("PV1", "1", "I", data.ward),
        segment("ORC", "NW", order_id, barcode, None, "SC"),
        segment("TQ1", "1", None, None, None, None, None, at, None, priority),
        segment(
            "OBR", "1", order_id, barcode, _test(event), None, None, at, None, None, data.badge,
            *([None] * 16), ("", "", "", "", "", priority),
        ),
        segment("SPM", "1", barcode, None, (*specimen_type, "HL70487"), *([None] * 12), at),
    ]  # fmt: skip


def _received(event: SpecimenReceived) -> list[str]:
    data, at = event.data, hl7_time(event.occurred_at)
    segments = [
        segment("EQU", data.location or event.device, at),
        segment("SAC", None, None, event.subject.id, None, None, None, None, (IDENTIFIED, "Identified", "HL70370")),
    ]
    if data.badge:
        segments.append(segment("ROL", "1", "UC", ("TN", "Technician", "HL70443"), data.badge))
    return segments


def _test(order: SpecimenCollected | None) -> Value:
    if order is None:
        return None
    code, text = TEST_CODES.get(order.data.category, (order.data.category, order.data.category))
    return (code, text, LOINC)


def _resulted(event: SpecimenResulted, order: SpecimenCollected | None) -> list[str]:
    barcode, at = event.subject.id, hl7_time(event.occurred_at)
    order_id = order.data.order_id if order else None
    obr_fields: list[Value] = ["1", order_id, barcode, _test(order), *([None] * 17), at, None, None, FINAL]
    if event.data.badge:
        obr_fields += [*([None] * 6), event.data.badge]
    return [
        _pid(),
        segment("ORC", "RE", order_id, barcode),
        segment("OBR", *obr_fields),
        segment("SPM", "1", barcode, None, None),
    ]


MESSAGE_KINDS: dict[str, tuple[str, str, str]] = {
    "specimen.collected": ("OML", "O21", "OML_O21"),
    "specimen.received": ("SSU", "U03", "SSU_U03"),
    "specimen.resulted": ("ORU", "R01", "ORU_R01"),
}
"""Which HL7 message (MSH-9) tells each event the lab system knows."""


def message_for(
    event: Event, header: Header, control_id: str, sent_at: datetime, order: SpecimenCollected | None = None
) -> hl7.Message:
    """The HL7 message that tells `event` (`order`: the specimen's collection, whose test and order id a result
    names); ValueError for an event a lab system does not report."""
    if isinstance(event, SpecimenCollected):
        body = _collected(event)
    elif isinstance(event, SpecimenReceived):
        body = _received(event)
    elif isinstance(event, SpecimenResulted):
        body = _resulted(event, order)
    else:
        raise ValueError(f"a lab system reports {', '.join(MESSAGE_KINDS)} over HL7, not {event.type}")
    text = "\r".join([_msh(header, MESSAGE_KINDS[event.type], control_id, sent_at), *body])
    return hl7.parse(text)
