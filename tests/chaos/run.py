"""One chaos run: start the real processes behind the fault proxy, inject the run's faults mid-stream, heal,
wait until the edge's outbox is empty (or a deadline), and judge the invariant.

    device (sorter sim) <-modbus- proxy "edge-device" <- edge -> proxy "edge-broker" -> broker
                                                           gateway -> proxy "gateway-broker" -> broker

The device is the sorter, the tube system (`path="tubes"`), a cabinet on MQTT (`path="cabinet"`) or a VDA 5050
robot carrying deliveries the runner dispatches (`path="robots"`, see `tests.chaos.robots`); with
`kill_replica` a second gateway shares the stream. The lab system's HL7 path (`path="lab"`) runs in `tests.chaos.lab`.
A part that dies on its own (not killed by a fault) is restarted, as systemd would, and counted as a crash.
"""

import asyncio
import contextlib
import logging
import random
import shutil
import sqlite3
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from tests.chaos import processes
from tests.chaos.faults import MQTT_LINKS, DatabaseHandle, Target, inject
from tests.chaos.invariant import (
    GatewayView,
    OutboxState,
    StoredEvent,
    Verdict,
    judge,
    read_outbox,
    read_postgres,
    read_sqlite,
)
from tests.chaos.lab import run_lab
from tests.chaos.processes import Part
from tests.chaos.proxy import FaultProxy
from tests.chaos.robots import Dispatcher, judge_robots
from tests.infra import REAL_DATABASE_URL
from wardlink.net import free_port

log = logging.getLogger(__name__)

SITE, EDGE = "chaos-hospital", "chaos-edge"
REPLICA_FAULT = "kill_replica"
"""A sorter-path fault that runs two gateways (PostgreSQL and Mosquitto only) and kills the second mid-stream."""
TMPFS_SIZE = "16m"


@dataclass(frozen=True)
class RunConfig:
    index: int
    seed: int
    infra: str
    """embedded: the amqtt broker and SQLite; real: the Mosquitto binary and PostgreSQL (own schema)."""
    faults: tuple[str, ...]
    base_dir: Path
    rate: float = 10.0
    """Tubes per second fed to the sorter (two events each, most of them)."""
    drain_deadline_s: float = 25.0
    """How long the edge has, after healing, to take new events again, and then to empty its outbox."""
    hold_s: tuple[float, float] = (1.0, 3.0)
    """How long each fault is held (drawn from this range)."""
    keep: bool = False
    """Keep the run's directory (logs, outbox copy) even when the run passed."""
    path: str = "sorter"
    """sorter, tubes, cabinet or robots: that device -> edge -> broker -> gateway; lab: the lab system's HL7 over
    MLLP -> gateway (projector apart)."""


@dataclass
class RunResult:
    index: int
    seed: int
    infra: str
    faults: list[str]
    injected: list[str]
    verdict: Verdict | None
    crashes: dict[str, list[int]] = field(default_factory=dict)
    seconds: float = 0.0
    error: str | None = None
    run_dir: str | None = None
    phases: dict[str, float] = field(default_factory=dict)
    """Seconds spent starting, streaming with faults, waiting for progress, draining, tearing down."""
    path: str = "sorter"

    @property
    def labels(self) -> list[str]:
        """The fault kinds as the summary names them: `lab/kill_gateway` on the lab path."""
        return [kind if self.path == "sorter" else f"{self.path}/{kind}" for kind in self.faults]

    @property
    def ok(self) -> bool:
        return self.error is None and self.verdict is not None and self.verdict.ok

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "path": self.path,
            "seed": self.seed,
            "infra": self.infra,
            "faults": self.faults,
            "injected": self.injected,
            "verdict": self.verdict.as_dict() if self.verdict else None,
            "crashes": self.crashes,
            "seconds": round(self.seconds, 1),
            "error": self.error,
            "ok": self.ok,
            "run_dir": self.run_dir,
            "phases": {name: round(seconds, 1) for name, seconds in self.phases.items()},
        }


async def run_once(cfg: RunConfig) -> RunResult:
    started = time.monotonic()
    rng = random.Random(cfg.seed)
    run_dir = cfg.base_dir / f"run-{cfg.index:04d}-seed-{cfg.seed}"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    result = RunResult(cfg.index, cfg.seed, cfg.infra, list(cfg.faults), [], None, run_dir=str(run_dir), path=cfg.path)
    clock = _PhaseClock(result.phases)
    if cfg.path == "lab":
        await run_lab(cfg, result, run_dir, clock.lap)
    else:
        await _run_sorter(cfg, result, run_dir, rng, clock)
    clock.lap("teardown")
    result.seconds = time.monotonic() - started
    if result.ok and not cfg.keep:
        shutil.rmtree(run_dir, ignore_errors=True)
        result.run_dir = None
    return result


async def _run_sorter(
    cfg: RunConfig, result: "RunResult", run_dir: Path, rng: random.Random, clock: "_PhaseClock"
) -> None:
    async with _Rig(cfg, run_dir, rng) as rig:
        try:
            await rig.start()
            clock.lap("start")
            await rig.settle(rng.uniform(1.0, 2.0))
            for kind in cfg.faults:
                if rig.dispatcher is not None and not await rig.dispatcher.under_way(cfg.drain_deadline_s):
                    raise RuntimeError("no delivery under way to inject the fault into")
                result.injected.append(f"{kind}: {await inject(kind, rig.target)}")
                await rig.settle(rng.uniform(0.3, 1.0))
            clock.lap("faults")
            progressed = await rig.wait_for_progress(cfg.drain_deadline_s, events=5 if rig.dispatcher else 20)
            clock.lap("progress")
            ended = rig.dispatcher is None or await rig.dispatcher.finish(cfg.drain_deadline_s)
            await rig.parts["device"].stop()  # the stream ends: what the edge accepted is now final
            result.verdict = await rig.drain_and_judge(cfg.drain_deadline_s)
            clock.lap("drain")
            if not progressed:
                result.verdict.recovered = False
                result.verdict.problems.append("after healing the edge took no new event from the device")
            if rig.dispatcher is not None:
                judge_robots(result.verdict, rig.dispatcher, ended, rig.view.events if rig.view else [])
        except Exception as exc:  # the run failed to run; report it as a failed run, with its logs kept
            log.exception("chaos run %d (seed %d) failed to run", cfg.index, cfg.seed)
            result.error = f"{type(exc).__name__}: {exc}"
        result.crashes = {name: part.crashes for name, part in rig.parts.items() if part.crashes}


class _PhaseClock:
    def __init__(self, phases: dict[str, float]) -> None:
        self._phases = phases
        self._last = time.monotonic()

    def lap(self, name: str) -> None:
        now = time.monotonic()
        self._phases[name] = now - self._last
        self._last = now


class _Rig:
    """The processes, proxy, database and data directories of one run, torn down whatever happens."""

    def __init__(self, cfg: RunConfig, run_dir: Path, rng: random.Random) -> None:
        self.cfg = cfg
        self.run_dir = run_dir
        self.rng = rng
        self.proxy = FaultProxy(seed=cfg.seed)
        self.parts: dict[str, Part] = {}
        self.edge_data = run_dir / "edge-data"
        self.mounted = False
        self.schema: str | None = None
        self.target: Target
        self.dispatcher: Dispatcher | None = None
        self.view: GatewayView | None = None  # the store as last judged

    async def __aenter__(self) -> "_Rig":
        return self

    async def __aexit__(self, *_: object) -> None:
        if self.dispatcher is not None:
            await self.dispatcher.stop()
        names = ("edge", "device", "replica", "gateway", "broker")
        await processes.stop_all([self.parts[n] for n in names if n in self.parts])
        await self.proxy.stop()
        outbox = self.edge_data / f"edge-{EDGE}.outbox.sqlite"
        if outbox.exists():  # the run's record of what the edge accepted
            with contextlib.suppress(OSError):
                shutil.copy2(outbox, self.run_dir / outbox.name)
        if self.mounted:
            await asyncio.to_thread(subprocess.run, ["umount", "-l", str(self.edge_data)], check=False)
        if self.schema is not None:
            conn = await asyncpg.connect(_dsn())
            try:
                await conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
            finally:
                await conn.close()

    async def start(self) -> None:
        cfg, run_dir = self.cfg, self.run_dir
        self.edge_data.mkdir()
        if "disk_full" in cfg.faults:
            mount = ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE}", "tmpfs", str(self.edge_data)]
            done = await asyncio.to_thread(subprocess.run, mount, check=False, capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"disk_full needs a tmpfs for the edge's data: {done.stderr.strip()}")
            self.mounted = True
        broker_port, device_port, api_port = free_port(), free_port(), free_port()
        topic_root = f"chaos{uuid.uuid4().hex[:8]}/wardlink"
        if cfg.infra == "real":
            self.schema = f"wl_chaos_{uuid.uuid4().hex[:12]}"
            conn = await asyncpg.connect(_dsn())
            try:
                await conn.execute(f'CREATE SCHEMA "{self.schema}"')
            finally:
                await conn.close()
            database_env = {"WARDLINK_DATABASE_URL": REAL_DATABASE_URL, "WARDLINK_DATABASE_SCHEMA": self.schema}
            database = DatabaseHandle(None, _dsn(), self.schema)
            broker = processes.mosquitto(run_dir, broker_port)
        else:
            database_env = {}
            database = DatabaseHandle(run_dir / "gateway" / "wardlink.db")
            broker = processes.amqtt(run_dir, broker_port)
        device_seed = self.rng.randrange(1, 1_000_000)
        if cfg.path == "cabinet":  # on the broker, straight: its link is not the one under test
            device_port = broker_port
            device = processes.cabinet(run_dir, broker_url=f"mqtt://127.0.0.1:{broker_port}", seed=device_seed)
        elif cfg.path == "robots":  # likewise; the edge's link to the robots' broker is cut by `link_cut`
            device_port = broker_port
            device = processes.robot(run_dir, broker_url=f"mqtt://127.0.0.1:{broker_port}", seed=device_seed)
        elif cfg.path == "tubes":
            device = processes.tubes(run_dir, port=device_port, seed=device_seed)
        else:
            device = processes.sorter(run_dir, port=device_port, rate=cfg.rate, seed=device_seed)
        self.parts = {"broker": broker, "device": device}
        await broker.start()
        await device.start()
        edge_broker = await self.proxy.add_link("edge-broker", ("127.0.0.1", broker_port))
        gateway_broker = await self.proxy.add_link("gateway-broker", ("127.0.0.1", broker_port))
        device_address = ("127.0.0.1", device_port)
        edge_device = await self.proxy.add_link("edge-device", device_address, modbus=cfg.path in ("sorter", "tubes"))
        self.parts["gateway"] = processes.gateway(
            run_dir,
            mqtt_url=f"mqtt://127.0.0.1:{gateway_broker.port}",
            topic_root=topic_root,
            api_port=api_port,
            database=database_env,
        )
        self.parts["edge"] = processes.edge(
            run_dir,
            mqtt_url=f"mqtt://127.0.0.1:{edge_broker.port}",
            topic_root=topic_root,
            data_dir=self.edge_data,
            device_port=edge_device.port,
            path=cfg.path,
        )
        if REPLICA_FAULT in cfg.faults:
            await self._add_replica(broker_port, topic_root, database_env)
        # Side by side: the edge keeps what it accepts in its outbox until the gateway is there to take it.
        await asyncio.gather(self.parts["gateway"].start(timeout_s=60), self.parts["edge"].start(timeout_s=60))
        if "replica" in self.parts:  # after the first: it created the schema
            await self.parts["replica"].start(timeout_s=60)
        self.target = Target(self.proxy, self.parts, self.rng, database, self.edge_data, device_seed, cfg.hold_s)
        if cfg.path == "robots":
            self.target.links = (*MQTT_LINKS, "edge-device")
            self.dispatcher = Dispatcher(broker_port, topic_root, random.Random(device_seed), self.stored_events)
            self.dispatcher.start()

    async def _add_replica(self, broker_port: int, topic_root: str, database_env: dict[str, str]) -> None:
        """A second gateway on the same PostgreSQL schema: both share the event stream (MQTT 5 shared subscription),
        so the edge's events land on either; `kill_replica` kills this one mid-stream."""
        if self.cfg.infra != "real":
            raise ValueError(f"{REPLICA_FAULT} needs --infra real (MQTT 5 shared subscriptions on Mosquitto)")
        shared = {"WARDLINK_MQTT_PROTOCOL": "5", "WARDLINK_MQTT_SHARED_GROUP": "chaos"}
        (self.run_dir / "replica").mkdir()
        self.parts["gateway"].env.update(shared)
        link = await self.proxy.add_link("replica-broker", ("127.0.0.1", broker_port))
        replica = processes.gateway(
            self.run_dir / "replica",
            mqtt_url=f"mqtt://127.0.0.1:{link.port}",
            topic_root=topic_root,
            api_port=free_port(),
            database=database_env,
            extra_env=shared,
        )
        replica.name = "replica"
        self.parts["replica"] = replica

    async def supervise(self) -> None:
        """Restart a part that died on its own (a crash is a finding; it is counted in the result)."""
        for part in self.parts.values():
            if part.note_crash():
                log.warning("%s exited on its own (code %s); restarting it", part.name, part.crashes[-1])
                if part.name != "device":
                    await part.start()

    async def settle(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while loop.time() < deadline:
            await self.supervise()
            await asyncio.sleep(min(0.25, max(0.0, deadline - loop.time())))

    async def wait_for_progress(self, deadline_s: float, events: int = 20) -> bool:
        """After healing, the edge must take new events from the still-streaming device again."""
        self.proxy.heal()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + deadline_s
        first = await self._outbox()
        start = first.accepted if first else 0
        while loop.time() < deadline:
            await self.supervise()
            now = await self._outbox()
            if now is not None and now.accepted >= start + events:
                return True
            await asyncio.sleep(0.25)
        return False

    async def _outbox(self) -> OutboxState | None:
        """What the edge's outbox says now; None while it cannot be read (the edge is creating it)."""
        path = self.edge_data / f"edge-{EDGE}.outbox.sqlite"
        if not path.exists():
            return None
        try:
            return await asyncio.to_thread(read_outbox, path)
        except sqlite3.Error:
            return None

    async def drain_and_judge(self, deadline_s: float) -> Verdict:
        """Wait until the outbox is empty and the store holds what the edge accepted (or the deadline); judge."""
        self.proxy.heal()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + deadline_s
        previous: tuple[int, int] | None = None
        while True:
            await self.supervise()
            looked = await self._look()
            if looked is None:
                if loop.time() > deadline:
                    raise RuntimeError(f"the edge's outbox could not be read {deadline_s:.0f}s after healing")
                await asyncio.sleep(0.5)
                continue
            outbox, verdict = looked
            settled = outbox.waiting == 0 and verdict.stored >= outbox.accepted
            if (settled and previous == (outbox.accepted, verdict.stored)) or loop.time() > deadline:
                if not settled:
                    verdict.recovered = False
                    verdict.problems.append(
                        f"not drained {deadline_s:.0f}s after healing: {outbox.waiting} event(s) still in the outbox"
                    )
                return verdict
            previous = (outbox.accepted, verdict.stored) if settled else None
            await asyncio.sleep(0.5)

    async def _look(self) -> tuple[OutboxState, Verdict] | None:
        outbox = await self._outbox()
        if outbox is None:
            return None
        self.view = await self._read_store()
        return outbox, judge(outbox, self.view)

    async def _read_store(self) -> GatewayView:
        database = self.target.database
        if database.sqlite_path is not None:
            return await asyncio.to_thread(read_sqlite, database.sqlite_path, SITE, EDGE)
        assert database.dsn
        assert database.schema
        return await read_postgres(database.dsn, database.schema, SITE, EDGE)

    async def stored_events(self) -> list[StoredEvent]:
        """The gateway's stored events of the edge now; none while the store cannot be read (not created yet)."""
        try:
            return (await self._read_store()).events
        except (sqlite3.Error, asyncpg.PostgresError, OSError):
            return []


def _dsn() -> str:
    return REAL_DATABASE_URL.replace("postgresql+asyncpg://", "postgresql://", 1)
