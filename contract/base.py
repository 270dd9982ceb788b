"""Building blocks of every message: strict frozen models, UTC timestamps, subjects, the envelope's fields."""

from datetime import UTC, datetime
from typing import Annotated, ClassVar, Literal
from uuid import UUID

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from contract.ids import Identifier

SCHEMA_VERSION = 1

SubjectKind = Literal["specimen", "carrier", "delivery", "cabinet", "robot", "device"]


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


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
    seq: int = Field(ge=1, description="Per-edge sequence number; keeps increasing across edge restarts.")
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
                f"{self.type} must be about a {self.subject_kind}, not a {self.subject.kind}"  # type: ignore[attr-defined]
            )
        return self
