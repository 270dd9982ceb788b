"""Acknowledgement from the gateway to one edge: these events are committed and may leave the outbox."""

from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contract.ids import Identifier


class Ack(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    site: Identifier
    edge: Identifier
    ids: list[UUID] = Field(max_length=10_000, description="Event ids committed (or already stored).")
    committed_at: AwareDatetime
