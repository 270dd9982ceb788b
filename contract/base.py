"""Building blocks of every message: strict frozen models, UTC timestamps, subjects, the envelope's fields."""

from datetime import UTC, datetime
from typing import Annotated, ClassVar, Final, Literal
from uuid import UUID

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from contract.ids import Identifier

SCHEMA_VERSION: Final = 1

SubjectKind = Literal["specimen", "carrier", "delivery", "cabinet", "robot", "device"]


EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)
"""Timestamps outside these are a device clock that was never set or a corrupted field, not a real instant;
they would also overflow the arithmetic done on them (due times, turnaround), so they are rejected."""

MAX_SEQ = 2**63 - 1
"""The largest sequence number the store's 64-bit column holds."""
MAX_INT32 = 2**31 - 1
"""The largest count, lane, rack or position the store's 32-bit columns hold."""


def _to_utc(value: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        raise ValueError("timestamp is outside the calendar once converted to UTC") from None
    if not EARLIEST <= utc < LATEST:
        raise ValueError(f"timestamp {utc.isoformat()} is not between 1970 and 3000: is the device clock set?")
    return utc


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]


class Strict(BaseModel):
    """Frozen, and unknown fields are rejected: nothing can ride along that the contract does not name."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Subject(Strict):
    """What the event is about: a specimen barcode, a carrier id, a device id, ..."""

    kind: SubjectKind
    id: Identifier


class NoData(Strict):
    """Event types that carry nothing beyond the envelope."""


class Envelope(Strict):
    """Fields every event has; each event type subclasses it with its `type` literal and `data` model."""

    subject_kind: ClassVar[SubjectKind]

    schema_version: Literal[1] = SCHEMA_VERSION
    id: UUID
    seq: int = Field(ge=1, le=MAX_SEQ, description="Per-edge sequence number; keeps increasing across edge restarts.")
    occurred_at: UtcDatetime
    received_at: UtcDatetime | None = None
    site: Identifier
    edge: Identifier
    device: Identifier
    subject: Subject

    @model_validator(mode="after")
    def _subject_matches_type(self) -> "Envelope":
        if self.subject.kind != self.subject_kind:
            raise ValueError(
                f"{self.type} must be about a {self.subject_kind}, not a {self.subject.kind}"  # type: ignore[attr-defined]  # each event type has it
            )
        return self
