"""Edge birth and death (Sparkplug B style): retained on the edge's `state` topic; death is the Last Will."""

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from contract.ids import Identifier


class EdgeState(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    state: Literal["online", "offline"]
    site: Identifier
    edge: Identifier
    since: AwareDatetime
    """Birth: when the edge connected. Death: the connection the Last Will belongs to (set at connect time)."""
    version: str
