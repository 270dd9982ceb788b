"""The gateway as one object: migrate the database, subscribe to the edges, downsample telemetry, serve the API.

    async with Gateway(settings) as gateway:
        print(gateway.api_url)

`run_gateway(settings)` does the same until it is cancelled (the `wardlink gateway` command and the demo).
"""

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator
from datetime import timedelta
from types import TracebackType

import uvicorn

from gateway.alerts.engine import AlertEngine
from gateway.api import create_app
from gateway.clock import Clock, utc_now
from gateway.collector import settle_collector
from gateway.downsampling import run_downsampling
from gateway.ingest import Ingest
from gateway.live import LiveHub
from gateway.projection_notices import listen
from gateway.rules.store import load_rules_in_force
from gateway.settings import GatewaySettings
from gateway.shared_subscription import SharedSubscriptionError
from gateway.simulation import SimulationLink
from gateway.store import Store
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


class Gateway:
    def __init__(self, settings: GatewaySettings, clock: Clock = utc_now) -> None:
        self.settings = settings
        self.clock = clock
        """Now, for turnaround, alerts and the live views: the wall clock unless a simulation plays faster."""
        self.store: Store | None = None
        self.ingest: Ingest | None = None
        self.alerts: AlertEngine | None = None
        """Raises and clears alerts every `alerts_every_s`; `await gateway.alerts.evaluate()` runs a pass now."""
        self.live: LiveHub | None = None
        """The live stream's hub: every committed batch's new events, fanned out to subscribers."""
        self.simulation: SimulationLink | None = None
        """Attached simulators and control requests to them (None when `simulation_control` is off)."""
        self._socket: socket.socket | None = None
        self._server: _Server | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def api_url(self) -> str:
        if self._socket is None:
            raise RuntimeError("the gateway is not started: await gateway.start() first")
        host, port = self._socket.getsockname()[:2]
        return f"http://{f'[{host}]' if ':' in host else host}:{port}"

    async def start(self) -> None:
        """Return once the database is migrated, the API listens and the MQTT subscription is in place."""
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        settings = self.settings
        self.store = await Store.open(settings)
        self.store.clock = self.clock  # gap and tamper times on the same clock the alerts judge them by
        self.store.rules = await load_rules_in_force(self.store.engine)
        self.alerts = AlertEngine(self.store, self.clock)
        self._tasks.append(asyncio.create_task(self.alerts.run(settings.alerts_every_s), name="gateway-alerts"))
        self.live = LiveHub()
        if self.store.engine.dialect.name == "postgresql":  # every replica's and projector's passes, by NOTIFY
            listening = listen(self.store.engine, self.live.offer, settings.mqtt_max_backoff_s, self.live.missed)
            self._tasks.append(asyncio.create_task(listening, name="gateway-projection-notices"))
        else:  # one process: this store's passes are all there are
            self.store.projection_listeners.append(self.live.publish)
        self.alerts.listeners.append(self.live.alert_changed)
        self.ingest = Ingest(settings, self.store)
        self._tasks.append(asyncio.create_task(self.ingest.run(), name="gateway-ingest"))
        retention = run_downsampling(
            self.store.engine,
            every=timedelta(seconds=settings.telemetry_downsample_every_s),
            raw_for=timedelta(hours=settings.telemetry_raw_hours),
            keep_for=timedelta(days=settings.telemetry_retention_days),
            on_pass=self.ingest.telemetry.counters.add_pass,
        )
        self._tasks.append(asyncio.create_task(retention, name="gateway-downsampling"))

        if settings.simulation_control:
            self.simulation = SimulationLink(settings)
            self._tasks.append(asyncio.create_task(self.simulation.run(), name="gateway-simulation"))

        self._socket = _listen(settings.api_host, settings.api_port)
        app = create_app(settings, self.store, self.ingest, clock=self.clock, live=self.live)
        app.state.simulation = self.simulation
        config = uvicorn.Config(
            app,
            log_level="warning",
            lifespan="off",
            access_log=False,
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
