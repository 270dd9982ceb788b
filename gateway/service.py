"""The gateway as one object: migrate the database, subscribe to the edges, downsample telemetry, serve the API.

    async with Gateway(settings) as gateway:
        print(gateway.api_url)

`run_gateway(settings)` does the same until it is cancelled (the `wardlink gateway` command and the demo).
"""

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from types import TracebackType

import uvicorn

from gateway.alerts.engine import AlertEngine
from gateway.api import create_app
from gateway.api.live import LiveHub
from gateway.api.metrics import EventLatency
from gateway.clinical.hl7.inbound import Hl7Inbound
from gateway.clinical.hl7.listener import Hl7Listener, Hl7ListenError, server_tls
from gateway.clinical.hl7.mapping import Hl7Mapping, MappingError, load_mapping
from gateway.clinical.hl7_outbound import Hl7OutboundSender
from gateway.clinical.metrics import Hl7Collector
from gateway.clinical.retention import run_retention
from gateway.composition.stores import Stores
from gateway.ingest.event_store import BatchResult
from gateway.ingest.shared_subscription import SharedSubscriptionError
from gateway.ingest.subscriber import Ingest
from gateway.projection.notices import listen
from gateway.projection.worker import HEARTBEAT_FILE, ProjectionCounters, ProjectionWorker, wake_on_commits
from gateway.rules.in_force import RulesInForce
from gateway.rules.store import load_rules_in_force
from gateway.runtime.clock import Clock, utc_now
from gateway.runtime.collector import settle_collector
from gateway.settings import GatewaySettings
from gateway.simulation.control import SimulationLink
from gateway.storage.database import Database
from gateway.storage.retention import RetentionPolicy, run_maintenance
from gateway.telemetry.downsampling import run_downsampling
from mqttlink.url import BrokerAddress

log = logging.getLogger(__name__)


class GatewayStartError(RuntimeError):
    """The gateway could not start; the message says what to check."""


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: whoever runs the gateway decides when it stops."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _listen(host: str, port: int) -> socket.socket:
    """Bind the API socket ourselves, so that port 0 gives a free port without a race."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise GatewayStartError(
            f"cannot listen on {host}:{port} ({exc.strerror}); set WARDLINK_API_PORT to a free port, or 0"
        ) from exc
    sock.setblocking(False)
    return sock


def _hl7_mapping(settings: GatewaySettings) -> Hl7Mapping | None:
    """The HL7 field mapping when the listener is on, or `GatewayStartError` naming the file, field and reason."""
    if settings.hl7_port is None:
        return None
    try:
        return load_mapping(settings.hl7_mapping)
    except MappingError as exc:
        raise GatewayStartError(f"WARDLINK_HL7_MAPPING: {exc}") from None


def _wakes(woken: asyncio.Event) -> Callable[[BatchResult], None]:
    """A commit observer that sets `woken` when a commit stored something new (a projector waits on it)."""

    def stored(result: BatchResult) -> None:
        if result.new:
            woken.set()

    return stored


class Gateway:
    def __init__(self, settings: GatewaySettings, clock: Clock = utc_now) -> None:
        self.settings = settings
        self.clock = clock
        """Now, for turnaround, alerts and the live views: the wall clock unless a simulation plays faster."""
        self.store: Stores | None = None
        self.ingest: Ingest | None = None
        self.alerts: AlertEngine | None = None
        """Raises and clears alerts every `alerts_every_s`; `await gateway.alerts.evaluate()` runs a pass now."""
        self.live: LiveHub | None = None
        """The live stream's hub: every committed batch's new events, fanned out to subscribers."""
        self.simulation: SimulationLink | None = None
        """Attached simulators and control requests to them (None when `simulation_control` is off)."""
        self.hl7: Hl7Listener | None = None
        """The HL7 v2 MLLP listener (None unless `hl7_port` is set)."""
        self.hl7_outbound: Hl7OutboundSender | None = None
        """Tells the LIS of specimens scanned and sorted in the lab (None unless `hl7_outbound_url` is set)."""
        self._socket: socket.socket | None = None
        self._server: _Server | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def api_url(self) -> str:
        if self._socket is None:
            raise RuntimeError("the gateway is not started: await gateway.start() first")
        host, port = self._socket.getsockname()[:2]
        return f"http://{f'[{host}]' if ':' in host else host}:{port}"

    @property
    def hl7_url(self) -> str | None:
        """`mllp://HOST:PORT` of the HL7 listener with its bound port; None when `hl7_port` is not set."""
        return self.hl7.url if self.hl7 is not None else None

    async def start(self) -> None:
        """Return once the database is migrated, the API listens and the MQTT subscription is in place."""
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        settings = self.settings
        mapping = _hl7_mapping(settings)  # a broken mapping file stops start-up before anything is opened
        # Observers first, so every part is built complete: the live hub, the lag histograms, the projector's wake.
        self.live = LiveHub()
        latency = EventLatency()
        counters = ProjectionCounters()
        on_pass = [counters.count, latency.observe_projection]
        db = await Database.open(settings)
        try:
            rules = RulesInForce(await load_rules_in_force(db.engine))
            if settings.hl7_outbound_url:
                self.hl7_outbound = Hl7OutboundSender(db, settings)
                await self.hl7_outbound.outbox.begin()  # before ingest: what it stores from now on goes to the LIS
        except BaseException:
            await db.close()
            raise
        if db.dialect != "postgresql":  # one process: this gateway's passes are all there are
            on_pass.append(self.live.publish)
        woken = asyncio.Event()  # set by each commit of new events: the projector waits on it
        on_commit = [latency.observe, _wakes(woken)]
        if self.hl7_outbound is not None:
            on_commit.append(self.hl7_outbound.observe)
            self._tasks.append(asyncio.create_task(self.hl7_outbound.run(), name="gateway-hl7-outbound"))
        self.store = Stores.build(
            db,
            settings,
            rules=rules,
            clock=self.clock,  # gap and tamper times on the same clock the alerts judge them by
            keep_for_projection=settings.projector,
            on_commit=on_commit,
            on_pass=on_pass,
        )
        projector = ProjectionWorker(settings, self.store.projection, db, counters=counters, woken=woken)
        self.alerts = AlertEngine(db, self.store.rules, self.clock, listeners=[self.live.alert_changed])
        self._tasks.append(asyncio.create_task(self.alerts.run(settings.alerts_every_s), name="gateway-alerts"))
        if db.dialect == "postgresql":  # every replica's and projector's passes, by NOTIFY
            listening = listen(db.engine, self.live.offer, settings.mqtt_max_backoff_s, self.live.missed)
            self._tasks.append(asyncio.create_task(listening, name="gateway-projection-notices"))
        self.ingest = Ingest(settings, db, self.store.events, self.store.telemetry, projector, clock=self.clock)
        self._tasks.append(asyncio.create_task(self.ingest.run(), name="gateway-ingest"))
        retention = run_downsampling(
            db.engine,
            every=timedelta(seconds=settings.telemetry_downsample_every_s),
            raw_for=timedelta(hours=settings.telemetry_raw_hours),
            keep_for=timedelta(days=settings.telemetry_retention_days),
            on_pass=self.ingest.telemetry.counters.add_pass,
        )
        self._tasks.append(asyncio.create_task(retention, name="gateway-downsampling"))
        maintenance = run_maintenance(  # months made ahead, expired ones archived (PostgreSQL) or rows deleted
            db, RetentionPolicy.of(settings), every=timedelta(seconds=settings.retention_every_s), clock=self.clock
        )
        self._tasks.append(asyncio.create_task(maintenance, name="gateway-retention"))

        if settings.simulation_control:
            self.simulation = SimulationLink(settings)
            self._tasks.append(asyncio.create_task(self.simulation.run(), name="gateway-simulation"))

        if mapping is not None:
            await self._start_hl7(mapping)
        if self.hl7 is not None or self.hl7_outbound is not None:
            inbound = self.hl7.inbound if self.hl7 is not None else None
            latency.registry.register(Hl7Collector(inbound, self.hl7_outbound))
            pruning = run_retention(
                db,
                every=timedelta(seconds=settings.telemetry_downsample_every_s),
                keep_for=timedelta(days=settings.hl7_retention_days),
                clock=self.clock,
            )
            self._tasks.append(asyncio.create_task(pruning, name="gateway-hl7-retention"))

        self._socket = _listen(settings.api_host, settings.api_port)
        app = create_app(
            settings,
            self.store,
            self.ingest,
            clock=self.clock,
            live=self.live,
            latency=latency,
            simulation_link=self.simulation,
        )
        config = uvicorn.Config(
            app,
            log_level="warning",
            lifespan="off",
            access_log=False,
            # uvicorn believes X-Forwarded-* from loopback by default: only the configured proxies are believed.
            proxy_headers=bool(settings.trusted_proxies),
            forwarded_allow_ips=list(settings.trusted_proxies),
        )
        self._server = _Server(config)
        self._tasks.append(asyncio.create_task(self._server.serve(sockets=[self._socket]), name="gateway-api"))

        try:
            async with asyncio.timeout(settings.startup_timeout_s):
                await asyncio.gather(self._until_listening(), self.ingest.ready())
        except SharedSubscriptionError as exc:
            raise GatewayStartError(str(exc)) from None
        except TimeoutError:
            raise GatewayStartError(
                f"no MQTT subscription within {settings.startup_timeout_s:g} s: is the broker at "
                f"{BrokerAddress.parse(settings.mqtt_url)} running? Check WARDLINK_MQTT_URL"
            ) from None
        log.info("gateway API on %s, events from %s", self.api_url, settings.topic_root)

    async def _start_hl7(self, mapping: Hl7Mapping) -> None:
        settings = self.settings
        assert self.store is not None
        assert self.ingest is not None
        assert settings.hl7_port is not None
        inbound = Hl7Inbound(
            self.store.events,
            self.store.db,
            mapping,
            site=settings.hl7_site,
            on_dead_letter=self.ingest.publish_dead_letter,
            clock=self.clock,
        )
        try:
            tls = None
            if settings.hl7_tls_cert is not None and settings.hl7_tls_key is not None:
                tls = server_tls(settings.hl7_tls_cert, settings.hl7_tls_key, settings.hl7_tls_client_ca)
            self.hl7 = Hl7Listener(inbound, settings.hl7_host, settings.hl7_port, tls=tls)
            await self.hl7.start()
        except Hl7ListenError as exc:
            self.hl7 = None
            raise GatewayStartError(str(exc)) from None

    async def _until_listening(self) -> None:
        assert self._server is not None
        while not self._server.started:
            for task in self._tasks:
                if task.done():
                    task.result()  # raise what made it stop
                    raise GatewayStartError(f"{task.get_name()} stopped during start-up")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        """Stop serving, stop ingesting (an uncommitted batch is simply not acknowledged), close the database."""
        if self.hl7 is not None:
            await self.hl7.stop()  # no new messages; one being handled finishes or is not acknowledged
            self.hl7 = None
        if self.live is not None:
            self.live.close()  # live streams end with a last frame, so uvicorn is not left waiting for them
        if self._server is not None and self._server.started:
            # Let uvicorn finish the requests in flight, briefly; then cancel whatever is left.
            self._server.should_exit = True
            api = next(t for t in self._tasks if t.get_name() == "gateway-api")
            await asyncio.wait([api], timeout=5)
        for task in self._tasks:
            task.cancel()
        results = await asyncio.gather(*self._tasks, return_exceptions=True)
        for result in results:
            if isinstance(result, Exception):
                log.warning("gateway task ended with %r", result)
        self._tasks.clear()
        self._server = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        if self.store is not None:
            await self.store.close()
            self.store = None
        self.ingest = None
        self.alerts = None
        self.live = None
        self.simulation = None
        self.hl7_outbound = None

    async def __aenter__(self) -> "Gateway":
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()


async def run_gateway(settings: GatewaySettings, clock: Clock = utc_now) -> None:
    """Run the gateway until cancelled; stop cleanly either way."""
    async with Gateway(settings, clock):
        settle_collector()
        await asyncio.Event().wait()


async def open_projector(
    settings: GatewaySettings, *, heartbeat: Path | None = None
) -> tuple[Stores, ProjectionWorker]:
    """Stores and a projection worker wired as a projecting process needs them: this process's commits wake the
    worker, and its counters count every pass of this process."""
    counters = ProjectionCounters()
    woken = asyncio.Event()
    stores = await Stores.open(settings, on_commit=[_wakes(woken)], on_pass=[counters.count])
    worker = ProjectionWorker(
        settings, stores.projection, stores.db, counters=counters, woken=woken, heartbeat=heartbeat
    )
    return stores, worker


async def run_projector(settings: GatewaySettings) -> None:
    """`wardlink projector`: only the projector, beside gateways started with `WARDLINK_PROJECTOR=false`."""
    if settings.resolved_database_url.startswith("sqlite"):
        # SQLite has no notifications, so there it looks for stored events ten times a second; on PostgreSQL the
        # gateways' commits wake it, and it polls every `projection_poll_s` in case a notice went unheard.
        settings = settings.model_copy(update={"projection_poll_s": min(settings.projection_poll_s, 0.1)})
    stores, worker = await open_projector(settings, heartbeat=settings.data_dir / HEARTBEAT_FILE)
    try:
        log.info("projector running on %s", stores.db.engine.url.render_as_string(hide_password=True))
        settle_collector()
        waking = wake_on_commits(stores.db, worker, settings.mqtt_max_backoff_s)
        listener = asyncio.create_task(waking, name="projector-wake")
        try:
            await worker.run()
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
    finally:
        await stores.close()
