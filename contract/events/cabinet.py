"""Ward medication cabinets (subject: the cabinet id): access, item movements with GS1 identity, alarms."""

from datetime import date
from typing import ClassVar, Literal, get_args
from uuid import UUID

from pydantic import Field

from contract.base import MAX_INT32, Envelope, Strict, SubjectKind
from contract.ids import Gtin, Identifier

CabinetAlarm = Literal["door_ajar", "temperature_out_of_range", "access_denied"]


class Item(Strict):
    """One line of stock, identified as GS1 does it: GTIN, lot (batch) and expiry."""

    bin: Identifier
    gtin: Gtin
    lot: Identifier
    expiry: date
    quantity: int = Field(ge=0, le=MAX_INT32)


class DoorData(Strict):
    badge: Identifier | None = Field(default=None, description="Who opened or closed it (badge id, never a name).")


class ItemMovedData(Item):
    badge: Identifier | None = None
    order_id: Identifier | None = Field(
        default=None, description="The medication order a removal was made against; none for an override."
    )
    delivery: Identifier | None = Field(default=None, description="The pharmacy delivery a restock came with.")


class InventoryReportedData(Strict):
    bins: list[Item] = Field(max_length=2000)


class AlarmRaisedData(Strict):
    alarm: CabinetAlarm
    detail: str = Field(default="", max_length=200)
    badge: Identifier | None = None


class AlarmClearedData(Strict):
    alarm: CabinetAlarm


class UnlockRepliedData(Strict):
    command_id: UUID
    accepted: bool
    reason: str = Field(default="", max_length=200)


class CabinetDoorOpened(Envelope):
    subject_kind: ClassVar[SubjectKind] = "cabinet"
    type: Literal["cabinet.door_opened"] = "cabinet.door_opened"
    data: DoorData = DoorData()


class CabinetDoorClosed(Envelope):
    subject_kind: ClassVar[SubjectKind] = "cabinet"
    type: Literal["cabinet.door_closed"] = "cabinet.door_closed"
    data: DoorData = DoorData()


class CabinetItemRemoved(Envelope):
    subject_kind: ClassVar[SubjectKind] = "cabinet"
    type: Literal["cabinet.item_removed"] = "cabinet.item_removed"
    data: ItemMovedData


class CabinetItemReturned(Envelope):
    subject_kind: ClassVar[SubjectKind] = "cabinet"
    type: Literal["cabinet.item_returned"] = "cabinet.item_returned"
    data: ItemMovedData


class CabinetItemRestocked(Envelope):
    subject_kind: ClassVar[SubjectKind] = "cabinet"
    type: Literal["cabinet.item_restocked"] = "cabinet.item_restocked"
    data: ItemMovedData


class CabinetInventoryReported(Envelope):
    """A full snapshot of the cabinet's stock (on request or on the cabinet's own schedule)."""

    subject_kind: ClassVar[SubjectKind] = "cabinet"
    type: Literal["cabinet.inventory_reported"] = "cabinet.inventory_reported"
    data: InventoryReportedData


class CabinetAlarmRaised(Envelope):
    subject_kind: ClassVar[SubjectKind] = "cabinet"
    type: Literal["cabinet.alarm_raised"] = "cabinet.alarm_raised"
    data: AlarmRaisedData


class CabinetAlarmCleared(Envelope):
    subject_kind: ClassVar[SubjectKind] = "cabinet"
    type: Literal["cabinet.alarm_cleared"] = "cabinet.alarm_cleared"
    data: AlarmClearedData


class CabinetUnlockReplied(Envelope):
    """The cabinet answered a remote unlock command."""

    subject_kind: ClassVar[SubjectKind] = "cabinet"
    type: Literal["cabinet.unlock_replied"] = "cabinet.unlock_replied"
    data: UnlockRepliedData


CabinetEvent = (
    CabinetDoorOpened
    | CabinetDoorClosed
    | CabinetItemRemoved
    | CabinetItemReturned
    | CabinetItemRestocked
    | CabinetInventoryReported
    | CabinetAlarmRaised
    | CabinetAlarmCleared
    | CabinetUnlockReplied
)
"""Every cabinet event type; `contract.envelope.Event` picks one by `type`."""
CABINET_EVENTS: tuple[type[Envelope], ...] = get_args(CabinetEvent)
