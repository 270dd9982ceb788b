"""The event envelope and the event types, in the past tense.

Every observation becomes one `Event`: a globally unique `id` and a per-edge `seq` given at the edge when
it is observed (retries reuse both), `occurred_at` from the device or edge clock, `received_at` stamped by
the gateway, and typed `data` chosen by `type` (a pydantic discriminated union).
"""

from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal
from uuid import UUID, uuid4

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from contract.ids import Identifier

SCHEMA_VERSION = 1
MAX_EVENT_BYTES = 64 * 1024
"""Largest envelope a gateway accepts; anything larger is dead-lettered."""

SubjectKind = Literal["specimen", "carrier", "delivery", "cabinet", "robot", "device"]


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Subject(_Strict):
    """What the event is about: a specimen barcode, a carrier id, a device id, ..."""

    kind: SubjectKind
    id: Identifier


class NoData(_Strict):
    """Event types that carry nothing beyond the envelope."""


class SpecimenScannedData(_Strict):
    input_rack: int | None = Field(default=None, ge=0)
    input_position: int | None = Field(default=None, ge=0)


class SpecimenSortedData(_Strict):
    lane: int = Field(ge=0)
    rack: int = Field(ge=0)
    position: int = Field(ge=0)


RejectReason = Literal["no_read", "unknown_order", "rack_full", "sorter_fault"]


class SpecimenRejectedData(_Strict):
    reason: RejectReason
    lane: int = Field(ge=0, description="The error lane the tube was sent to.")
    rack: int | None = Field(default=None, ge=0)
    position: int | None = Field(default=None, ge=0)
    barcode_read: bool = Field(
        default=True,
        description="False when the scanner could not read the tube; the subject id is then a placeholder.",
    )


class DeviceOfflineData(_Strict):
    reason: str = Field(max_length=200)


class _Envelope(_Strict):
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
    def _subject_matches_type(self) -> "_Envelope":
        if self.subject.kind != self.subject_kind:
            raise ValueError(
                f"{self.type} must be about a {self.subject_kind}, not a {self.subject.kind}"  # type: ignore[attr-defined]
            )
        return self


class SpecimenScanned(_Envelope):
    """A device read the specimen's barcode."""

    subject_kind: ClassVar[SubjectKind] = "specimen"
    type: Literal["specimen.scanned"] = "specimen.scanned"
    data: SpecimenScannedData = SpecimenScannedData()


class SpecimenSorted(_Envelope):
    """A sorter placed the specimen in an output lane, rack and position."""

    subject_kind: ClassVar[SubjectKind] = "specimen"
    type: Literal["specimen.sorted"] = "specimen.sorted"
    data: SpecimenSortedData


class SpecimenRejected(_Envelope):
    """A sorter sent the specimen to its error lane, with the reason."""

    subject_kind: ClassVar[SubjectKind] = "specimen"
    type: Literal["specimen.rejected"] = "specimen.rejected"
    data: SpecimenRejectedData


class DeviceOnline(_Envelope):
    """The edge reached the device (first contact or recovery)."""

    subject_kind: ClassVar[SubjectKind] = "device"
    type: Literal["device.online"] = "device.online"
    data: NoData = NoData()


class DeviceOffline(_Envelope):
    """The edge lost the device; `reason` says how."""

    subject_kind: ClassVar[SubjectKind] = "device"
    type: Literal["device.offline"] = "device.offline"
    data: DeviceOfflineData


Event = Annotated[
    SpecimenScanned | SpecimenSorted | SpecimenRejected | DeviceOnline | DeviceOffline,
    Field(discriminator="type"),
]
EventType = Literal["specimen.scanned", "specimen.sorted", "specimen.rejected", "device.online", "device.offline"]

event_adapter: TypeAdapter[Event] = TypeAdapter(Event)


def parse_event(payload: bytes | str) -> Event:
    """Validate one JSON envelope; raises `pydantic.ValidationError` with the reason."""
    return event_adapter.validate_json(payload)


def new_event(
    type: EventType,
    *,
    seq: int,
    site: str,
    edge: str,
    device: str,
    subject: Subject,
    occurred_at: datetime,
    data: dict[str, Any] | None = None,
    id: UUID | None = None,
) -> Event:
    """Build and validate an event as the edge observes it; a fresh globally unique id unless one is given."""
    return event_adapter.validate_python(
        {
            "type": type,
            "id": id or uuid4(),
            "seq": seq,
            "site": site,
            "edge": edge,
            "device": device,
            "subject": subject,
            "occurred_at": occurred_at,
            "data": data or {},
        }
    )
