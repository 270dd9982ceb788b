"""Edge birth and death (Sparkplug B style): retained on the edge's `state` topic; death is the Last Will."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from contract.base import MAX_SEQ, UtcDatetime
from contract.ids import Identifier


class EdgeState(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    state: Literal["online", "offline"]
    site: Identifier
    edge: Identifier
    since: UtcDatetime
    """Birth: when the edge connected. Death: the connection the Last Will belongs to (set at connect time)."""
    version: str = Field(max_length=64, description="The edge agent's version.")
    epoch: str | None = Field(default=None, max_length=64)
    """The outbox's epoch: a new one whenever the outbox starts empty without its history (first start, lost disk),
    so the gateway knows the sequence starts again at `first_seq`. None from edges older than this field."""
    first_seq: int | None = Field(default=None, ge=1, le=MAX_SEQ)
    """The first sequence number of `epoch`."""
