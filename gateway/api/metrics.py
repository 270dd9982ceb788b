"""Prometheus metrics for one gateway: counters and gauges read from live state at scrape time, lag histograms.

`EventLatency` owns a `CollectorRegistry` of its own (several gateways in one process, as in the tests, never share
one); its histograms are fed by the event store's and the projection runner's observers for every event stored for
the first time:
how long from the gateway receiving it to its commit (durable, acknowledged), from receiving it to its projection
(queryable), and from its occurrence (the edge's clock) to the gateway receiving it. Everything else is a custom
collector over what the gateway already tracks: the ingest, projection and telemetry counters, the broker link,
and, from the database at scrape time (`await refresh()`), the projection backlog, alerts open by kind and
severity, devices by state, edges by state, and each edge's latest outbox report.
"""

import asyncio
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from gateway.ingest.edge_reports import OutboxReport, outbox_reports
from gateway.ingest.event_store import BatchResult
from gateway.ingest.subscriber import Ingest
from gateway.projection.runner import Projected, backlog_counts
from gateway.storage.database import Database
from gateway.storage.tables import alerts, devices, edges

log = logging.getLogger(__name__)

COMMIT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
"""Seconds from receipt to commit: a healthy gateway commits within one batch wait (20 ms by default)."""
DELIVERY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 6 * 3600.0)
"""Seconds from occurrence to receipt: milliseconds live, hours for an edge's backlog after an outage."""
REFRESH_TIMEOUT_S = 5.0
"""A scrape answers within this even when the database hangs (it then reads as down)."""


@dataclass
class DatabaseSnapshot:
    """What the database said at the last scrape."""

    up: bool = False
    alerts_open: dict[tuple[str, str], int] = field(default_factory=dict)
    """(kind, severity) -> alerts raised or acknowledged, not yet cleared."""
    devices: dict[str, int] = field(default_factory=dict)
    edges: dict[str, int] = field(default_factory=dict)
    outboxes: list[OutboxReport] = field(default_factory=list)
    backlog: int = 0
    """Events stored and acknowledged, not yet projected (every replica's)."""
    backlog_failed: int = 0


class EventLatency:
    """The lag histograms: `observe` and `observe_projection` are the stores' observers (arithmetic only)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.commit_latency = Histogram(
            "wardlink_event_commit_latency_seconds",
            "Seconds from the gateway receiving an event to committing it (events stored for the first time).",
            buckets=COMMIT_BUCKETS,
            registry=self.registry,
        )
        self.delivery_lag = Histogram(
            "wardlink_event_delivery_lag_seconds",
            "Seconds from an event occurring (the edge's clock) to the gateway receiving it; negative as 0.",
            buckets=DELIVERY_BUCKETS,
            registry=self.registry,
        )
        self.projection_latency = Histogram(
            "wardlink_event_projection_latency_seconds",
            "Seconds from the gateway receiving an event to its projection (queryable in the API, on the live stream).",
            buckets=COMMIT_BUCKETS,
            registry=self.registry,
        )

    def observe(self, result: BatchResult) -> None:
        """A commit observer: called after each committed batch, on the commit path, so it only does arithmetic."""
        committed = datetime.now(UTC)
        for event in result.new:
            if event.received_at is None:
                continue
            self.commit_latency.observe(max(0.0, (committed - event.received_at).total_seconds()))
            self.delivery_lag.observe(max(0.0, (event.received_at - event.occurred_at).total_seconds()))

    def observe_projection(self, result: Projected) -> None:
        """A pass observer: arithmetic only, like `observe`."""
        projected = datetime.now(UTC)
        for event in result.events:
            if event.received_at is not None:
                self.projection_latency.observe(max(0.0, (projected - event.received_at).total_seconds()))


class GatewayMetrics:
    """`await metrics.refresh()` then `metrics.exposition()`: the Prometheus text format for one scrape."""

    def __init__(self, db: Database, ingest: Ingest | None, latency: EventLatency | None = None) -> None:
        self.db = db
        self.ingest = ingest
        self.latency = latency or EventLatency()
        """The lag histograms (empty unless the stores were built with its observers)."""
        self.registry = self.latency.registry
        self.snapshot = DatabaseSnapshot()
        self.registry.register(_LiveState(self))

    async def refresh(self) -> None:
        """Read what the metrics need from the database; a database that does not answer reads as down."""
        try:
            async with asyncio.timeout(REFRESH_TIMEOUT_S), self.db.engine.connect() as connection:
                open_alerts = await connection.execute(
                    sa.select(alerts.c.kind, alerts.c.severity, sa.func.count())
                    .where(alerts.c.open_key.is_not(None))  # active, or cleared and owed an acknowledgement
                    .group_by(alerts.c.kind, alerts.c.severity)
                )
                by_device_state = await connection.execute(
                    sa.select(devices.c.state, sa.func.count()).group_by(devices.c.state)
                )
                by_edge_state = await connection.execute(
                    sa.select(edges.c.state, sa.func.count()).group_by(edges.c.state)
                )
                waiting, failed = await backlog_counts(connection)
                self.snapshot = DatabaseSnapshot(
                    up=True,
                    backlog=waiting,
                    backlog_failed=failed,
                    alerts_open={(kind, severity): n for kind, severity, n in open_alerts},
                    devices={state: n for state, n in by_device_state},
                    edges={state: n for state, n in by_edge_state},
                    outboxes=await outbox_reports(connection),
                )
        except Exception as exc:
            log.warning("metrics: the database did not answer (%s)", type(exc).__name__)
            self.snapshot = DatabaseSnapshot(up=False)

    def exposition(self, accept: str | None = None) -> tuple[bytes, str]:
        """The body and its content type: the classic text format, or OpenMetrics when the scraper asks for it."""
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type


class _LiveState(Collector):
    """The gateway's counters and the last database snapshot, as metric families, at each collect."""

    def __init__(self, metrics: GatewayMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        metrics = self._metrics
        ingest = metrics.ingest
        snapshot = metrics.snapshot
        yield _gauge("wardlink_database_up", "1 when the database answered the last scrape's queries.", snapshot.up)
        yield _gauge(
            "wardlink_broker_connected",
            "1 while the gateway's MQTT subscription is in place.",
            ingest is not None and ingest.connected.is_set(),
        )
        if ingest is not None:
            yield from _ingest_families(ingest)
        yield from _database_families(snapshot)


def _gauge(name: str, documentation: str, value: float | bool) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=float(value))


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, value=value)


def _by_label(
    family: CounterMetricFamily | GaugeMetricFamily, counts: dict[str, int]
) -> CounterMetricFamily | GaugeMetricFamily:
    for label, value in sorted(counts.items()):
        family.add_metric([label], value)
    return family


def _ingest_families(ingest: Ingest) -> Iterator[Metric]:
    c = ingest.counters
    yield _counter("wardlink_events_accepted", "Events stored for the first time.", c.accepted)
    yield _counter("wardlink_events_duplicate", "Events received again (stored once, acked again).", c.duplicates)
    yield _by_label(
        CounterMetricFamily("wardlink_events_rejected", "Event payloads dead-lettered, by reason.", labels=["reason"]),
        dict(c.rejected.counts),
    )
    yield _counter("wardlink_ingest_batches", "Event batches committed.", c.batches)
    yield _counter("wardlink_acks_published", "Acknowledgements published to edges.", c.acks_published)
    yield _counter("wardlink_store_failures", "Commits that failed and were retried.", c.store_failures)
    p = ingest.projection.counters
    yield _counter("wardlink_events_projected", "Events this gateway folded into the projections.", p.projected)
    yield _counter("wardlink_projection_passes", "Projection transactions that folded something.", p.passes)
    yield _counter(
        "wardlink_events_refused", "Events refused as about a specimen or delivery of another site.", p.refused
    )

    writer = ingest.telemetry
    t = writer.counters
    yield _counter("wardlink_telemetry_messages", "Telemetry messages stored in the embedded store.", t.messages)
    yield _counter("wardlink_telemetry_readings", "Readings stored for the first time.", t.readings)
    yield _counter("wardlink_telemetry_dropped", "Valid telemetry messages the embedded store did not keep.", t.dropped)
    yield _by_label(
        CounterMetricFamily("wardlink_telemetry_rejected", "Telemetry payloads dead-lettered.", labels=["reason"]),
        dict(t.rejected.counts),
    )
    influx = writer.influx
    if influx is not None:
        i = influx.counters
        yield _counter("wardlink_influx_points_written", "Telemetry points InfluxDB accepted.", i.points_written)
        yield _counter(
            "wardlink_influx_points_dropped",
            "Telemetry points not written: the buffer was full (oldest first) or InfluxDB refused them.",
            i.points_dropped,
        )
        yield _counter("wardlink_influx_retries", "InfluxDB writes retried after a 429, 5xx or no answer.", i.retries)
        yield _gauge("wardlink_influx_buffered_points", "Points waiting to be written to InfluxDB.", influx.buffered)
        yield _gauge("wardlink_influx_connected", "1 when the last InfluxDB write was accepted.", i.connected)


def _database_families(snapshot: DatabaseSnapshot) -> Iterator[Metric]:
    if not snapshot.up:
        return
    open_alerts = GaugeMetricFamily(
        "wardlink_alerts_open", "Alerts open: active, or cleared and not yet acknowledged.", labels=["kind", "severity"]
    )
    for (kind, severity), count in sorted(snapshot.alerts_open.items()):
        open_alerts.add_metric([kind, severity], count)
    yield open_alerts
    yield _gauge(
        "wardlink_projection_backlog",
        "Events stored and acknowledged, not yet projected (all replicas).",
        snapshot.backlog,
    )
    yield _gauge(
        "wardlink_projection_failed",
        "Events of the backlog whose projection raised; put back in line when a gateway starts.",
        snapshot.backlog_failed,
    )
    yield _by_label(GaugeMetricFamily("wardlink_devices", "Devices by state.", labels=["state"]), snapshot.devices)
    yield _by_label(GaugeMetricFamily("wardlink_edges", "Edges by connection state.", labels=["state"]), snapshot.edges)
    depth = GaugeMetricFamily(
        "wardlink_edge_outbox_depth", "Events in an edge's outbox, as it last reported.", labels=["site", "edge"]
    )
    size = GaugeMetricFamily(
        "wardlink_edge_outbox_bytes", "Bytes of an edge's outbox, as it last reported.", labels=["site", "edge"]
    )
    bound = GaugeMetricFamily(
        "wardlink_edge_outbox_max_bytes",
        "An edge's outbox bound; at it new events are refused.",
        labels=["site", "edge"],
    )
    refused = CounterMetricFamily(
        "wardlink_edge_outbox_refused",
        "Events an edge refused since it started: its outbox was full.",
        labels=["site", "edge"],
    )
    restarts = CounterMetricFamily(
        "wardlink_edge_task_restarts",
        "Edge tasks (uplink, device drivers) restarted after an unexpected error since the edge started.",
        labels=["site", "edge"],
    )
    for report in snapshot.outboxes:
        labels = [report.site, report.edge]
        depth.add_metric(labels, report.depth)
        size.add_metric(labels, report.bytes)
        bound.add_metric(labels, report.max_bytes)
        refused.add_metric(labels, report.refused)
        restarts.add_metric(labels, report.restarts)
    yield from (depth, size, bound, refused, restarts)
