"""Commands to a device behind an edge, on `{root}/v1/{site}/{edge}/commands/{device}` (QoS 1).

Commands say what to do (`dispatch_delivery`); what then happens comes back as events.
"""

from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field, TypeAdapter

from contract.base import Strict, UtcDatetime
from contract.ids import Identifier


class _Command(Strict):
    id: UUID
    requested_by: Identifier = Field(description="User, badge or service id; never a name.")
    requested_at: UtcDatetime


class DispatchDelivery(_Command):
    """Send a robot with a load to a destination node; the edge turns it into a VDA 5050 order."""

    type: Literal["dispatch_delivery"] = "dispatch_delivery"
    delivery: Identifier
    destination: Identifier
    drawer: Identifier = "drawer-1"
    release_pin: str | None = Field(default=None, pattern=r"^[0-9]{4,8}$")


class UnlockCabinet(_Command):
    type: Literal["unlock_cabinet"] = "unlock_cabinet"
    badge: Identifier


class RequestInventory(_Command):
    type: Literal["request_inventory"] = "request_inventory"


class PauseDevice(_Command):
    type: Literal["pause"] = "pause"


class ResumeDevice(_Command):
    type: Literal["resume"] = "resume"


Command = Annotated[
    DispatchDelivery | UnlockCabinet | RequestInventory | PauseDevice | ResumeDevice,
    Field(discriminator="type"),
]
command_adapter: TypeAdapter[Command] = TypeAdapter(Command)
