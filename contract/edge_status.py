"""The edge's outbox report: how full the outbox is and what the edge had to refuse or drop.

Retained on the edge's `status` topic, published on every connect (so it survives the broker being away), when
the fill level crosses a step (`LEVELS`) and every `status_every_s` while connected. The gateway keeps the latest
per edge (table `edge_outbox`) and alerts on it (`edge.outbox_filling`).
"""

import builtins

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contract.base import MAX_SEQ
from contract.ids import Identifier

LEVELS: tuple[int, ...] = (0, 50, 80, 95, 100)
"""Fill steps in percent of `max_bytes`; `level` is the highest step reached."""


def fill_level(used_bytes: int, max_bytes: int) -> int:
    """The highest step in `LEVELS` that `used_bytes` reaches."""
    percent = 100 * used_bytes / max_bytes if max_bytes > 0 else 100
    return max(step for step in LEVELS if percent >= step)


class EdgeStatus(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    site: Identifier
    edge: Identifier
    at: AwareDatetime
    """When the edge took these figures (wall clock, like `oldest_created_at`, also under a simulated day)."""
    epoch: str = Field(max_length=64)
    next_seq: int = Field(ge=1, le=MAX_SEQ)
    depth: int = Field(ge=0, le=MAX_SEQ, description="Domain events in the outbox, not yet acknowledged.")
    bytes: int = Field(ge=0, le=MAX_SEQ, description="Their size (payload bytes).")
    max_bytes: int = Field(
        ge=1, le=MAX_SEQ, description="The bound (`outbox_max_bytes`); at it new domain events are refused."
    )
    level: int = Field(ge=0, le=100, description="Highest fill step reached, one of 0, 50, 80, 95, 100.")
    oldest_created_at: AwareDatetime | None = Field(
        default=None, description="When the oldest unacknowledged event entered the outbox."
    )
    refused: int = Field(
        default=0, ge=0, le=MAX_SEQ, description="Domain events refused (dead-lettered) since start: full."
    )
    telemetry_dropped: int = Field(
        default=0, ge=0, le=MAX_SEQ, description="Readings dropped (oldest first) since start."
    )
    # -- edge health (supervised tasks, storage failures) --
    restarts: int = Field(
        default=0,
        ge=0,
        le=MAX_SEQ,
        description="Edge tasks (uplink, device drivers) restarted after an unexpected error.",
    )
    problem: str | None = Field(
        default=None,
        max_length=1000,
        description="The latest unexpected error of an edge task, else why events were last refused (full disk).",
    )
    acks_refused: int = Field(
        default=0,
        ge=0,
        le=MAX_SEQ,
        description="Acks the edge did not believe since start (another outbox epoch, or past the highest seq it "
        "sent): a forged or confused acknowledgement; nothing was removed for them.",
    )

    def to_json(self) -> builtins.bytes:  # `bytes` here is the field
        """The report as published; `acks_refused` only when there were some, so gateways older than it parse it."""
        return self.model_dump_json(exclude={"acks_refused"} if not self.acks_refused else None).encode()
