"""Why a message is answered AE or AR: the HL7 error code (table 0357), where (segment, sequence, field) and why."""

from dataclasses import dataclass
from typing import Literal

AckCode = Literal["AA", "AE", "AR"]

REQUIRED_FIELD_MISSING = "101"
DATA_TYPE_ERROR = "102"
TABLE_VALUE_NOT_FOUND = "103"
UNSUPPORTED_MESSAGE_TYPE = "200"
UNSUPPORTED_EVENT_CODE = "201"
UNSUPPORTED_PROCESSING_ID = "202"
UNSUPPORTED_VERSION_ID = "203"
APPLICATION_INTERNAL_ERROR = "207"
ERROR_TEXT: dict[str, str] = {
    "100": "Segment sequence error",
    REQUIRED_FIELD_MISSING: "Required field missing",
    DATA_TYPE_ERROR: "Data type error",
    TABLE_VALUE_NOT_FOUND: "Table value not found",
    UNSUPPORTED_MESSAGE_TYPE: "Unsupported message type",
    UNSUPPORTED_EVENT_CODE: "Unsupported event code",
    UNSUPPORTED_PROCESSING_ID: "Unsupported processing id",
    UNSUPPORTED_VERSION_ID: "Unsupported version id",
    APPLICATION_INTERNAL_ERROR: "Application internal error",
}
"""HL7 table 0357 (message error condition codes), the ones this listener answers with."""


@dataclass(frozen=True, slots=True)
class Location:
    """ERR-2 (ERL): the segment, its sequence among segments of that name (1-based), the field and component."""

    segment: str
    sequence: int
    field: int
    component: int = 1

    def __str__(self) -> str:
        suffix = f".{self.component}" if self.component != 1 else ""
        return f"{self.segment}-{self.field}{suffix}" + (f" (segment {self.sequence})" if self.sequence > 1 else "")


class Hl7MessageError(Exception):
    """A message answered AE (its content is wrong) or AR (not supported); the text never holds message content
    beyond ids."""

    def __init__(self, ack: AckCode, code: str, reason: str, where: Location | None = None) -> None:
        super().__init__(f"{where}: {reason}" if where is not None else reason)
        self.ack = ack
        self.code = code
        self.reason = reason
        self.where = where

    @property
    def user_message(self) -> str:
        """ERR-8: the segment and field, and the reason."""
        return str(self)


def content_error(code: str, reason: str, where: Location | None) -> Hl7MessageError:
    return Hl7MessageError("AE", code, reason, where)


def rejected(code: str, reason: str, where: Location | None = None) -> Hl7MessageError:
    return Hl7MessageError("AR", code, reason, where)
