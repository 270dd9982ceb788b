"""What the LIS's acknowledgement says, kept to codes: MSA-1, the HL7 error code (table 0357) and where (ERR-2).

Never its free text: ERR-8, MSA-3 and ERR-3's own text often quote the message's patient (a name, an MRN), and
wardlink keeps no patient data; the code and the segment and field it names say enough to find the cause.

Whether to send again follows HL7's original mode: AR means the receiver could not take the message for reasons
that are not the message's (system down, internal error: ERR-3 207, or no error code at all), so it is sent again
after a backoff; AR for anything else (an unsupported message type or version) and AE (the content is wrong) are
final, since the same message would only be refused again. Enhanced mode's CR and CE read the same.
"""

import re
from dataclasses import dataclass

import hl7

ACCEPTED = frozenset({"AA", "CA"})
REJECTED = frozenset({"AR", "CR"})
REFUSED = frozenset({"AE", "CE"}) | REJECTED
APPLICATION_INTERNAL_ERROR = "207"
LOCAL_CODE = "local"
"""The error code is not one of HL7 table 0357's: not kept (a local code is free to hold anything)."""
TABLE_0357: dict[str, str] = {
    "0": "Message accepted",
    "100": "Segment sequence error",
    "101": "Required field missing",
    "102": "Data type error",
    "103": "Table value not found",
    "104": "Value too long",
    "200": "Unsupported message type",
    "201": "Unsupported event code",
    "202": "Unsupported processing id",
    "203": "Unsupported version id",
    "204": "Unknown key identifier",
    "205": "Duplicate key identifier",
    "206": "Application record locked",
    "207": "Application internal error",
}
"""HL7 table 0357, message error condition codes (104 since v2.6)."""
_SEGMENT = re.compile(r"[A-Z][A-Z0-9]{2}")
_NUMBER = re.compile(r"[0-9]{1,4}")


@dataclass(frozen=True)
class Answer:
    """An acknowledgement: MSA-1, the error code (table 0357, or `LOCAL_CODE`) and the place it names (`SAC-3`)."""

    code: str
    error: str | None = None
    location: str | None = None

    @property
    def accepted(self) -> bool:
        return self.code in ACCEPTED

    @property
    def send_again(self) -> bool:
        """AR (or CR) for an internal error or for no stated reason: the receiver asks for the message again."""
        return self.code in REJECTED and self.error in (None, APPLICATION_INTERNAL_ERROR)

    @property
    def reason(self) -> str | None:
        """The error code, its meaning and place, e.g. `103 Table value not found at SAC-8`; None if none given."""
        if self.error == LOCAL_CODE:
            said = "a code outside HL7 table 0357"
        elif self.error is not None:
            said = f"{self.error} {TABLE_0357[self.error]}"
        else:
            said = "no error code"
        if self.error is None and self.location is None:
            return None
        return f"{said} at {self.location}" if self.location else said

    def __str__(self) -> str:
        return f"{self.code} ({self.reason})" if self.reason else self.code


def _value(message: hl7.Message, key: str) -> str:
    try:
        return str(message[key]).strip()
    except (KeyError, IndexError):
        return ""


def _error(ack: hl7.Message) -> str | None:
    """ERR-3.1 (v2.5 on), else ERR-1.4.1 (before v2.5), else MSA-6.1 (v2.1 to 2.4)."""
    for key in ("ERR.3.1.1", "ERR.1.1.4.1", "MSA.6.1.1"):
        if code := _value(ack, key):
            return code if code in TABLE_0357 else LOCAL_CODE
    return None


def _location(ack: hl7.Message) -> str | None:
    """ERR-2 (segment^sequence^field^repetition^component^subcomponent), else ERR-1's first three, as `OBR-4.1`
    (with `(segment 2)` after it when not the first of its name); None unless it is that and only that."""
    for prefix, parts in (("ERR.2.1", 6), ("ERR.1.1", 3)):
        segment, sequence, field, *rest = (_value(ack, f"{prefix}.{n}") for n in range(1, parts + 1))
        if not segment:
            continue
        numbers = [sequence, field, *rest]
        if not _SEGMENT.fullmatch(segment) or not all(_NUMBER.fullmatch(n) for n in numbers if n) or not field:
            return None
        component = rest[1] if len(rest) > 1 else ""
        subcomponent = rest[2] if len(rest) > 2 else ""
        where = f"{segment}-{int(field)}" + "".join(f".{int(n)}" for n in (component, subcomponent) if n)
        return where + (f" (segment {int(sequence)})" if sequence and int(sequence) > 1 else "")
    return None


def read_answer(ack: hl7.Message) -> tuple[str, Answer]:
    """(MSA-2 control id, the answer) of an ACK; KeyError or IndexError without MSA."""
    code = str(ack["MSA.1"]).strip()
    named = str(ack["MSA.2"])
    if code in ACCEPTED:
        return named, Answer(code)
    return named, Answer(code[:2], _error(ack), _location(ack))
