"""The SSU^U03 (IHE LAW container status) messages wardlink sends the LIS: barcodes, devices and places only.

Built from segment templates whose every value python-hl7 escapes (`Message.escape`), then parsed by python-hl7
(`hl7.parse`), so what is stored in the outbox is a message python-hl7 reads back. No PID, no patient: the LIS
knows whose specimen a barcode is.

| event              | SAC-8 (HL7 table 0370)  | what else                                                             |
|--------------------|-------------------------|-----------------------------------------------------------------------|
| `specimen.scanned` | `I` identified          | SAC-3 barcode; EQU-1 the device that read it (the lab's sorter)       |
| `specimen.sorted`  | `R` process completed   | SAC-3 barcode; SAC-10 rack, SAC-11 position in it, SAC-15 output lane |

EQU-2 is when it happened (the device's clock), MSH-7 when the message was written, MSH-18 `UNICODE UTF-8`.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import hl7

HL7_VERSION = "2.5.1"
CHARACTER_SET = "UNICODE UTF-8"
"""MSH-18 (HL7 table 0211): what the link writes, so a receiver need not guess."""
SSU_U03 = ("SSU", "U03", "SSU_U03")
IDENTIFIED = ("I", "Identified", "HL70370")
SORTED = ("R", "Process completed", "HL70370")
TOLD_TYPES = ("specimen.scanned", "specimen.sorted")
"""The stored event types the outbox tells the LIS: scanned is when the lab's equipment first identified the tube
(whether it came by tube carrier or by hand), sorted is where it was put."""

Value = str | Sequence[str] | None
_ESCAPER = hl7.Message()
"""Escapes with HL7's default separators (`|^~\\&`), which every message here declares in MSH-2."""


@dataclass(frozen=True)
class Parties:
    """Who sends and who receives (MSH-3 to MSH-6)."""

    application: str = "WARDLINK"
    facility: str = ""
    receiving_application: str = "LIS"
    receiving_facility: str = ""


@dataclass(frozen=True)
class Told:
    """What a stored event tells the LIS: its subject and data, the device that saw it, and when."""

    event_type: str
    barcode: str
    device: str
    occurred_at: datetime
    data: Mapping[str, Any]


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


def _container(told: Told) -> str:
    if told.event_type == "specimen.scanned":
        return segment("SAC", None, None, told.barcode, None, None, None, None, IDENTIFIED)
    if told.event_type == "specimen.sorted":
        data = told.data
        lane = str(data["lane"])
        place = [str(data["rack"]), str(data["position"]), None, None, None, (lane, f"Output lane {lane}")]
        return segment("SAC", None, None, told.barcode, None, None, None, None, SORTED, None, *place)
    raise ValueError(f"the HL7 outbox tells the LIS {' and '.join(TOLD_TYPES)}, not {told.event_type}")


def container_status(told: Told, parties: Parties, control_id: str, written_at: datetime) -> hl7.Message:
    """The SSU^U03 that tells the LIS about one specimen container."""
    header = segment(
        "",
        parties.application,
        parties.facility,
        parties.receiving_application,
        parties.receiving_facility,
        hl7_time(written_at),
        None,
        SSU_U03,
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
    # MSH-1 (the field separator) and MSH-2 (the encoding characters) are the only fields never escaped.
    msh = "MSH|^~\\&" + header
    equipment = segment("EQU", told.device, hl7_time(told.occurred_at))
    return hl7.parse("\r".join([msh, equipment, _container(told)]))
