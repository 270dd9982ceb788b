"""Ingest: take events, edge states and telemetry from the broker, store each event once, then acknowledge it.

One MQTT link (`mqttlink.MqttLink`), re-established with capped backoff, feeds a queue; a batcher commits up to
`ingest_batch_size` events (or what arrived within `ingest_batch_wait_ms`) in one transaction and only then
publishes one `Ack` per edge: the events are durable. The projector (`gateway.projection.worker`) folds them into
the projections right after, in passes of its own, so ingest never waits for a projection. Telemetry (QoS 0)
goes to its own writer (`gateway.ingest.telemetry`) and never waits behind events. Anything that fails
validation goes to the dead-letter topic with the reason.
"""

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal, NoReturn

import aiomqtt

from contract import Ack, DeadLetter, Event, Topics
from contract.ack import MAX_MISSING_RANGES
from contract.topics import deadletter_topic, subscription
from gateway.ingest.batcher import next_batch
from gateway.ingest.event_store import BatchResult, EventStore
from gateway.ingest.reasons import ReasonCounter
from gateway.ingest.sequences import SequenceState
from gateway.ingest.shared_subscription import SharedSubscriptionError, check_granted, refused_mqtt5, shared_filter
from gateway.ingest.telemetry import TelemetryWriter
from gateway.ingest.validation import RejectedError, accept_events, accept_state, accept_status, accept_telemetry
from gateway.projection.worker import ProjectionWorker
from gateway.runtime.clock import Clock, utc_now
from gateway.settings import GatewaySettings
from gateway.storage.database import Database
from gateway.storage.retry import while_database_down
from gateway.telemetry.store import TelemetryStore
from mqttlink import Backoff, MqttLink, Subscription

log = logging.getLogger(__name__)

_PROTOCOLS = {"3.1.1": aiomqtt.ProtocolVersion.V311, "5": aiomqtt.ProtocolVersion.V5}
_ACK_BATCHES_IN_FLIGHT = 64
"""Committed batches whose acks may wait for the broker's PUBACKs at once (see `Ingest._commit_batches`)."""


@dataclass
class IngestCounters:
    accepted: int = 0
    """Events stored for the first time."""
    duplicates: int = 0
    """Events whose id was already stored (acknowledged again, stored once)."""
    batches: int = 0
    acks_published: int = 0
    store_failures: int = 0
    rejected: ReasonCounter = field(default_factory=lambda: ReasonCounter(log, "rejected a payload"))
    # -- delivery guarantees (docs/reliability.md) --
    tampered: int = 0
    """Events whose id was stored with another body: rejected, dead-lettered (`tampered`), never acknowledged."""
    historical: int = 0
    """New events marked historical (they happened before their edge's current connection)."""
    resend_requests: int = 0
    """Acks that asked an edge to resend missing seqs."""
    statuses: int = 0
    """Outbox reports recorded."""
    out_of_range: int = 0
    """Events whose seq was far past their edge's (`gateway.ingest.seq_bound`): dead-lettered, never stored."""


class Ingest:
    """`await ingest.run()` until cancelled; `connected` is set while the subscription is in place."""

    def __init__(
        self,
        settings: GatewaySettings,
        db: Database,
        events: EventStore,
        telemetry: TelemetryStore,
        projection: ProjectionWorker,
        *,
        clock: Clock = utc_now,
    ) -> None:
        self._settings = settings
        self._db = db
        self._store = events
        self._clock = clock
        self._root = settings.topic_root
        self._queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=4 * settings.ingest_batch_size)
        self._link = MqttLink(
            settings.mqtt_url,
            identifier=settings.client_id,
            protocol=_PROTOCOLS[settings.mqtt_protocol],
            subscriptions=[
                self._shared("events", qos=1),
                Subscription(subscription("state", self._root), qos=1),  # every replica: unshared
                Subscription(subscription("status", self._root), qos=1),  # outbox reports, retained
                self._shared("telemetry", qos=0),
            ],
            backoff=Backoff(initial=0.2, cap=settings.mqtt_max_backoff_s),
            on_connect=self._subscribed,
            on_disconnect=self._lost,
        )
        self._broker = self._link.broker
        self.connected = self._link.connected
        self.failure: SharedSubscriptionError | None = None
        """Why ingest stopped for good (a broker that cannot share the stream between replicas); None while fine."""
        self._failed = asyncio.Event()
        self.counters = IngestCounters()
        self.telemetry = TelemetryWriter(settings, db, telemetry)
        self.projection = projection
        """This process's projector, run beside ingest when `settings.projector` (its stores then keep new events for
        it in memory: `EventStore(keep_for_projection=...)`)."""

    async def ready(self) -> None:
        """Return once subscribed; raise `SharedSubscriptionError` if the broker cannot serve this gateway at all."""
        waits = [asyncio.create_task(self.connected.wait()), asyncio.create_task(self._failed.wait())]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()
        if self.failure is not None:
            raise self.failure

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._stay_connected())
            tasks.create_task(self._commit_batches())
            tasks.create_task(self.telemetry.run())
            if self._settings.projector:
                tasks.create_task(self.projection.run())

    # -- the broker link ---------------------------------------------------------------------------------------
    async def _stay_connected(self) -> None:
        async with self._link as link:
            async for message in link.messages:
                await self._handle(message)

    def _shared(self, channel: Literal["events", "telemetry"], qos: int) -> Subscription:
        """Events and telemetry: shared between the replicas of `mqtt_shared_group` when one is set."""
        return Subscription(shared_filter(subscription(channel, self._root), self._settings.mqtt_shared_group), qos)

    async def _subscribed(self, link: MqttLink) -> None:
        if self._settings.mqtt_shared_group is not None:
            for shared in (s for s in link.subscriptions if s.topic_filter.startswith("$share/")):
                try:
                    check_granted(shared.topic_filter, link.granted[shared.topic_filter], str(self._broker))
                except SharedSubscriptionError as exc:
                    self._give_up(exc)
        log.info("gateway subscribed to %s on %s", self._root, self._broker)

    async def _lost(self, error: Exception) -> None:
        if self._settings.mqtt_shared_group and isinstance(error, aiomqtt.MqttError):
            fatal = refused_mqtt5(error, str(self._broker))
            if fatal is not None:
                self._give_up(fatal)

    def _give_up(self, failure: SharedSubscriptionError) -> NoReturn:
        log.error("%s", failure)
        self.failure = failure
        self._failed.set()
        raise failure

    async def _handle(self, message: aiomqtt.Message) -> None:
        topic = str(message.topic)
        payload = bytes(message.payload) if isinstance(message.payload, bytes | bytearray) else b""
        # Subscribed to `<root>/v1/+/+/<channel>` only, so the last level says which channel (no filter matching).
        channel = topic.rpartition("/")[2]
        is_telemetry = channel == "telemetry"
        rejections = self.telemetry.counters.rejected if is_telemetry else self.counters.rejected
        try:
            if is_telemetry:
                self.telemetry.offer(accept_telemetry(topic, payload, self._root))
            elif channel == "state":
                await self._take_state(topic, payload)
            elif channel == "status":
                await self._take_status(topic, payload)
            else:
                accepted, rejected = accept_events(topic, payload, self._root, datetime.now(UTC))
                for event in accepted:
                    await self._queue.put(event)
                for element in rejected:  # an array's bad envelopes, each on its own; the good ones go on
                    await self._dead_letter(topic, element.payload, element.rejected, rejections)
        except RejectedError as rejected:
            await self._dead_letter(topic, payload, rejected, rejections)
        except Exception as exc:
            # A bug must not stop the gateway; the payload is kept on the dead-letter topic for a look later.
            log.exception("unexpected error while handling a message on %s", topic)
            await self._dead_letter(topic, payload, RejectedError("internal", type(exc).__name__), rejections)

    async def _take_state(self, topic: str, payload: bytes) -> None:
        if not payload:
            return  # an empty retained message only clears the retained state
        state = accept_state(topic, payload, self._root)
        try:
            await self._store.record_edge_state(state)
        except Exception as exc:
            # The state is retained on the broker: it comes again on the next (re)subscription.
            self.counters.store_failures += 1
            log.warning("could not record %s/%s %s: %s", state.site, state.edge, state.state, exc)

    async def _take_status(self, topic: str, payload: bytes) -> None:
        if not payload:
            return
        status = accept_status(topic, payload, self._root)
        try:
            await self._store.record_edge_status(status)
        except Exception as exc:
            self.counters.store_failures += 1  # retained: it comes again, and the edge reports every status_every_s
            log.warning("could not record the outbox report of %s/%s: %s", status.site, status.edge, exc)
            return
        self.counters.statuses += 1

    async def _dead_letter(self, topic: str, payload: bytes, rejected: RejectedError, counter: ReasonCounter) -> None:
        counter.add(rejected.kind, f"{rejected.reason} (topic {topic})")
        letter = DeadLetter.of(
            reason=f"{rejected.kind}: {rejected.reason}", topic=topic, payload=payload, received_at=datetime.now(UTC)
        )
        await self.publish_dead_letter(letter)

    async def publish_dead_letter(self, letter: DeadLetter) -> None:
        """Publish a dead letter on the dead-letter topic (QoS 1); other parts' rejects too (the HL7 listener's)."""
        try:
            await self._link.publish(deadletter_topic(self._root), letter.model_dump_json().encode(), qos=1)
        except aiomqtt.MqttError as exc:
            # The link dropped meanwhile: the rejection is counted and logged by its taker, and the link comes back.
            log.debug("could not publish the dead letter for %s: %s", letter.topic, exc)

    # -- commit, then acknowledge ------------------------------------------------------------------------------
    async def _commit_batches(self) -> None:
        """Commit batch after batch; each batch's acks go out while the next one commits.

        Waiting for the broker's PUBACKs of one batch's acks before committing the next took as long as the commit
        itself under load (the PUBACKs queue behind the incoming PUBLISHes on the one socket). The acks still go on
        the wire in commit order: paho writes each publish as it is called, and the ack tasks start in order. At
        most `_ACK_BATCHES_IN_FLIGHT` batches' acks wait for their PUBACKs; beyond that, committing waits.
        """
        wait_s = self._settings.ingest_batch_wait_ms / 1000
        in_flight = asyncio.Semaphore(_ACK_BATCHES_IN_FLIGHT)
        async with asyncio.TaskGroup() as acks:
            while True:
                batch = await next_batch(self._queue, self._settings.ingest_batch_size, wait_s)
                try:
                    result = await self._commit(batch)
                    await self._reject_tampered(result)
                    await self._reject_out_of_range(result)
                except Exception:
                    # A bug must not stop ingest; the batch stays unacknowledged and the edges resend it.
                    log.exception("could not commit a batch of %d events", len(batch))
                    continue
                await in_flight.acquire()
                acks.create_task(self._acknowledge(result.stored, result.sequences, in_flight))

    async def _commit(self, batch: Sequence[Event]) -> BatchResult:
        """Commit the batch, retrying while the database is unreachable; one by one if it refuses the batch."""
        try:
            result = await while_database_down(
                self._db,
                lambda: self._store.ingest_batch(batch),
                log=log,
                what="committing events to the database",
                max_backoff_s=self._settings.mqtt_max_backoff_s,
                on_failure=self._store_failed,
            )
        except Exception:
            return await self._commit_one_by_one(batch)
        self._count(result)
        return result

    def _store_failed(self) -> None:
        self.counters.store_failures += 1

    async def _commit_one_by_one(self, batch: Sequence[Event]) -> BatchResult:
        """The database is up but refused the batch: keep one bad event from holding back the others."""
        stored: list[Event] = []
        tampered = []
        beyond = []
        sequences = {}
        for event in batch:
            try:
                result = await self._store.ingest_batch([event])
            except Exception as exc:
                # Left unacknowledged: the edge keeps it and the operator sees the reason in the log.
                self.counters.rejected.add("store_refused", f"event {event.id}: {exc}")
                continue
            self._count(result)
            stored.extend(result.stored)
            tampered.extend(result.tampered)
            beyond.extend(result.out_of_range)
            sequences.update(result.sequences)
        return BatchResult(
            stored=stored, inserted=0, duplicates=0, tampered=tampered, sequences=sequences, out_of_range=beyond
        )

    def _count(self, result: BatchResult) -> None:
        self.counters.batches += 1
        self.counters.accepted += result.inserted
        self.counters.duplicates += result.duplicates
        self.counters.historical += len(result.historical)

    async def _reject_tampered(self, result: BatchResult) -> None:
        """An id stored with another body: dead-letter the new body with the reason `tampered`, count it."""
        for item in result.tampered:
            event = item.event
            self.counters.tampered += 1
            reason = (
                f"event {event.id} from {event.site}/{event.edge} was stored with body sha256 {item.stored_sha256}; "
                f"this body has sha256 {item.offered_sha256}: not stored, not acknowledged"
            )
            self.counters.rejected.add("tampered", reason)
            if not self._link.connected.is_set():
                continue  # the edge sends it again and it is rejected again then
            letter = DeadLetter.of(
                reason=f"tampered: {reason}",
                topic=Topics(event.site, event.edge, self._root).events,
                payload=event.model_dump_json(exclude={"received_at"}).encode(),
                received_at=datetime.now(UTC),
            )
            with contextlib.suppress(aiomqtt.MqttError):
                await self._link.publish(deadletter_topic(self._root), letter.model_dump_json().encode(), qos=1)

    async def _reject_out_of_range(self, result: BatchResult) -> None:
        """A seq far past its edge's: dead-letter the event with the reason `seq_out_of_range`, count it."""
        for item in result.out_of_range:
            self.counters.out_of_range += 1
            event = item.event
            letter = DeadLetter.of(
                reason=f"seq_out_of_range: {item.reason}; not stored, not acknowledged",
                topic=Topics(event.site, event.edge, self._root).events,
                payload=event.model_dump_json(exclude={"received_at"}).encode(),
                received_at=datetime.now(UTC),
            )
            self.counters.rejected.add("seq_out_of_range", item.reason)
            await self.publish_dead_letter(letter)

    async def _acknowledge(
        self,
        stored: Sequence[Event],
        sequences: Mapping[tuple[str, str], SequenceState],
        in_flight: asyncio.Semaphore,
    ) -> None:
        """Publish one ack per edge for these stored events (all at once), then release `in_flight`."""
        try:
            by_edge: dict[tuple[str, str], list[Event]] = defaultdict(list)
            for event in stored:
                by_edge[(event.site, event.edge)].append(event)
            if not self._link.connected.is_set():
                return  # not connected: the edges resend what stays unacknowledged, and we ack the duplicates
            now = datetime.now(UTC)
            publishes = []
            for (site, edge), events in by_edge.items():
                ack = self._ack(site, edge, events, sequences.get((site, edge)), now)
                topic = Topics(site, edge, self._root).ack
                publishes.append(self._link.publish(topic, ack.model_dump_json().encode(), qos=1))
            for outcome in await asyncio.gather(*publishes, return_exceptions=True):
                if isinstance(outcome, aiomqtt.MqttError):
                    log.debug("could not publish an ack (the edge resends, and is acknowledged again): %s", outcome)
                elif isinstance(outcome, Exception):
                    log.error("could not publish an ack", exc_info=outcome)
                else:
                    self.counters.acks_published += 1
        except Exception:
            log.exception("could not acknowledge a batch of %d events; the edges resend them", len(stored))
        finally:
            in_flight.release()

    def _ack(self, site: str, edge: str, events: Sequence[Event], tracker: SequenceState | None, now: datetime) -> Ack:
        """The ids; with a tracker that knows the edge's epoch, how far it is committed and what to resend."""
        ids = [e.id for e in events]
        if tracker is None or tracker.epoch is None:
            return Ack(site=site, edge=edge, ids=ids, committed_at=now)
        missing: list[tuple[int, int]] = []
        resend_after = timedelta(seconds=self._settings.sequence_gap_resend_after_s)
        if tracker.gap_since is not None and self._clock() - tracker.gap_since >= resend_after:
            missing = tracker.missing[:MAX_MISSING_RANGES]
            self.counters.resend_requests += 1
        return Ack(
            site=site,
            edge=edge,
            ids=ids,
            committed_at=now,
            epoch=tracker.epoch,
            committed_through=tracker.committed_through,
            missing=missing,
        )
