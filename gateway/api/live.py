"""The live hub: committed batches in, compact change notices out to every subscriber, never blocking ingest.

`LiveHub.publish` observes each projection pass (`ProjectionRunner(on_pass=...)`); each event projected
becomes a `Change` (event id, type, subject, site, occurred_at) offered to every subscriber whose filter matches.
A subscriber's queue is bounded: one that falls that far behind is dropped with a final `StreamEnd("lagging")`
instead of slowing the commit path down, and may reconnect and re-read the current state from the API.

    with hub.subscribe(ChangeFilter(subject_kind="specimen")) as subscription:
        while not isinstance(change := await subscription.next(), StreamEnd):
            ...  # a Change
"""

import asyncio
import logging
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Literal

from gateway.alerts.alert_store import AlertRow
from gateway.projection.changes import Change
from gateway.projection.runner import Projected

log = logging.getLogger(__name__)

DEFAULT_QUEUE_SIZE = 1000
DEFAULT_HEARTBEAT_S = 15.0


@dataclass(frozen=True, slots=True)
class StreamEnd:
    """The last notice a subscription gets: it fell behind (`lagging`), changes may have gone unheard (`missed`),
    or the gateway is stopping."""

    reason: Literal["lagging", "missed", "stopping"]
    detail: str

    def as_json(self) -> dict[str, str]:
        return {"reason": self.reason, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class ChangeFilter:
    """Which changes a subscriber wants; a field left None matches all. `type_prefix` matches the type's start."""

    subject_kind: str | None = None
    subject_id: str | None = None
    type_prefix: str | None = None

    def matches(self, change: Change) -> bool:
        return (
            (self.subject_kind is None or change.subject_kind == self.subject_kind)
            and (self.subject_id is None or change.subject_id == self.subject_id)
            and (self.type_prefix is None or change.type.startswith(self.type_prefix))
        )


class Subscription:
    """One subscriber's bounded queue of changes, ended by exactly one `StreamEnd`; a context manager."""

    def __init__(self, hub: "LiveHub", where: ChangeFilter, queue_size: int) -> None:
        self.where = where
        self._hub = hub
        self._queue: deque[Change] = deque()
        self.queue_size = queue_size
        self._wake = asyncio.Event()
        self.end: StreamEnd | None = None

    def offer(self, change: Change) -> bool:
        """Queue a change without waiting; False (and nothing queued) when the queue is full or ended."""
        if self.end is not None or len(self._queue) >= self.queue_size:
            return False
        self._queue.append(change)
        self._wake.set()
        return True

    def finish(self, end: StreamEnd) -> None:
        """End the subscription: what is queued is still delivered, then `end`."""
        if self.end is None:
            self.end = end
            self._wake.set()
        self._hub.discard(self)

    async def next(self) -> Change | StreamEnd:
        """The next change, or the final `StreamEnd` (again on every later call); safe to cancel while waiting."""
        while True:
            if self._queue:
                return self._queue.popleft()
            if self.end is not None:
                return self.end
            self._wake.clear()
            await self._wake.wait()

    def close(self) -> None:
        """Unsubscribe (the subscriber went away)."""
        self._hub.discard(self)

    def __enter__(self) -> "Subscription":
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class LiveHub:
    """Fans each projection pass's events out to the subscribers; `publish` is a pass observer, called once the
    pass has committed, so a client that reads the API on a change finds the projections already updated."""

    def __init__(self, *, queue_size: int = DEFAULT_QUEUE_SIZE, heartbeat_s: float = DEFAULT_HEARTBEAT_S) -> None:
        self.queue_size = queue_size
        """Changes a subscriber may fall behind by before it is dropped (applies to new subscriptions)."""
        self.heartbeat_s = heartbeat_s
        """How often a stream with nothing to say sends a comment, so proxies and clients know it is alive."""
        self._subscribers: set[Subscription] = set()
        self._closed: StreamEnd | None = None
        self.dropped = 0
        """Subscribers dropped for falling behind, since start."""

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def subscribe(self, where: ChangeFilter | None = None, *, queue_size: int | None = None) -> Subscription:
        """A new subscription; already ended when the hub is closed."""
        subscription = Subscription(self, where or ChangeFilter(), queue_size or self.queue_size)
        if self._closed is not None:
            subscription.finish(self._closed)
        else:
            self._subscribers.add(subscription)
        return subscription

    def discard(self, subscription: Subscription) -> None:
        self._subscribers.discard(subscription)

    def publish(self, result: Projected) -> None:
        """Offer the pass's events to every matching subscriber; never waits, never raises into the projector."""
        if not self._subscribers or not result.events:
            return
        try:
            self._fan_out([Change.of(event, event.id in result.historical) for event in result.events])
        except Exception:  # the pass is committed; a notice that cannot be built must not fail it
            log.exception("live hub: could not publish a pass of %d change(s)", len(result.events))

    def offer(self, changes: list[Change]) -> None:
        """Offer changes announced by a projection pass of any process (`gateway.projection.notices`)."""
        if self._subscribers:
            self._fan_out(changes)

    def alert_changed(self, what: str, alert: AlertRow, at: datetime) -> None:
        """An alert was raised, acknowledged, cleared or escalated: offered as `alert.<what>`, about its subject."""
        if self._subscribers:
            self._fan_out([Change(alert.id, f"alert.{what}", alert.subject_kind, alert.subject_id, alert.site, at)])

    def _fan_out(self, changes: list[Change]) -> None:
        for subscription in list(self._subscribers):
            for change in changes:
                if subscription.where.matches(change) and not subscription.offer(change):
                    self.dropped += 1
                    subscription.finish(
                        StreamEnd(
                            "lagging",
                            f"this stream fell {subscription.queue_size} changes behind and was closed so that "
                            "ingest never waits for it; reconnect, and re-read the current state from the API",
                        )
                    )
                    break

    def missed(self) -> None:
        """Changes may have gone by unheard (the gateway's link to the database's notices dropped and is back): end
        every current subscription, so that each client reconnects and re-reads the current state."""
        self._finish_all(
            StreamEnd(
                "missed",
                "this gateway lost its link to the database's change notices for a while; changes made meanwhile "
                "were not streamed: reconnect, and re-read the current state from the API",
            )
        )

    def close(self, detail: str = "the gateway is stopping; reconnect when it is back") -> None:
        """End every subscription (the gateway stops); later subscriptions end at once."""
        self._closed = StreamEnd("stopping", detail)
        self._finish_all(self._closed)

    def _finish_all(self, end: StreamEnd) -> None:
        for subscription in list(self._subscribers):
            subscription.finish(end)
