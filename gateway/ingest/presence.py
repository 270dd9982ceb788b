"""Presence follows evidence: an edge whose events keep arriving is online, whatever its retained state says.

An edge's state topic is retained, so a death certificate can be stale or, on a broker without per-edge ACLs,
published by someone else. The gateway believes it until the edge's own events contradict it: when new events
from the edge were stored after the offline state was recorded, and the latest within `EVIDENCE_WINDOW` of now, the
edge is shown online with a note saying so (and the `edge.offline` alert is not raised). Once its events stop for
longer than the window, the offline state stands again. Both times are the gateway's clock: `edges.updated_at`
(when the state was recorded) and `edge_sequences.updated_at` (when events of the edge were last stored).

A genuine death can have a batch of the edge's last events committed just after its Last Will is recorded; that
reads as life for at most `EVIDENCE_WINDOW`, which only delays the alert by as much.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

EVIDENCE_WINDOW = timedelta(seconds=60)
"""How recent the edge's latest stored event must be to outweigh an offline state recorded before it."""


@dataclass(frozen=True, slots=True)
class Presence:
    state: str
    """`online` or `offline`, as the evidence has it."""
    note: str | None
    """Why the shown state differs from the edge's recorded one; None when they agree."""


def presence(
    state: str,
    recorded_at: datetime,
    last_event_at: datetime | None,
    now: datetime,
    window: timedelta = EVIDENCE_WINDOW,
) -> Presence:
    """The edge's state given its recorded `state` (recorded at `recorded_at`) and its latest stored event."""
    if state != "offline" or last_event_at is None or last_event_at <= recorded_at or now - last_event_at > window:
        return Presence(state, None)
    return Presence(
        "online",
        f"events from the edge stored at {last_event_at.isoformat()}, after its offline state recorded at "
        f"{recorded_at.isoformat()}: shown online while they keep arriving (a stale or foreign offline state)",
    )
