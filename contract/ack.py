"""Acknowledgement from the gateway to one edge: these events are committed and may leave the outbox.

Besides the ids, an ack may say how far the edge's sequence is committed without a hole (`committed_through`,
for the outbox `epoch` it names) and which sequence ranges the gateway has not seen although later ones arrived
(`missing`): the edge makes those due again at once. All three are optional so an ack from an older gateway parses.
The edge acts on an ack only when it is about its own epoch and reaches no further than the highest seq it sent
(`edge.acks`): other seq claims are refused and counted.
"""

from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from contract.base import MAX_SEQ
from contract.ids import Identifier

MAX_MISSING_RANGES = 100


class Ack(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    site: Identifier
    edge: Identifier
    ids: list[UUID] = Field(max_length=10_000, description="Event ids committed (or already stored).")
    committed_at: AwareDatetime
    epoch: str | None = Field(
        default=None, max_length=64, description="The outbox epoch `committed_through` and `missing` refer to."
    )
    committed_through: int | None = Field(
        default=None, ge=0, le=MAX_SEQ, description="Every seq of `epoch` up to and including this one is committed."
    )
    missing: list[tuple[int, int]] = Field(
        default_factory=list,
        max_length=MAX_MISSING_RANGES,
        description="Inclusive [from, to] seq ranges of `epoch` not committed although later seqs are: resend them.",
    )

    @model_validator(mode="after")
    def _ranges_are_ordered(self) -> "Ack":
        for low, high in self.missing:
            if low < 1 or high < low or high > MAX_SEQ:
                raise ValueError(f"missing range [{low}, {high}] is not 1 <= from <= to <= {MAX_SEQ}")
        return self
