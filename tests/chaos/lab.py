"""A chaos run on the laboratory system's path: HL7 v2 over MLLP into the gateway's listener, the projector in a
process of its own (`wardlink projector` beside a gateway with `WARDLINK_PROJECTOR=false`).

    lab system (Hl7LabSystem) -mllp-> proxy "lis-gateway" -> gateway -> database <- projector
                                                              gateway -> broker (the gateway's MQTT side)

The lab system reports the seed's plan (`lab_plan`) at a steady rate while the faults land; after healing it must
have every message answered AA, the store must hold every planned event exactly once (the gateway's content ids
make a resend a duplicate it recognises), and every specimen must end in the state of an undisturbed run of the
same seed (`expected_end`).
"""

import asyncio
import contextlib
import logging
import random
import sqlite3
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg

from gateway.projection.transaction import INTEGRATION_EDGE
from simulators.clinical.hl7_system import Hl7LabSystem
from tests.chaos import processes
from tests.chaos.faults import DatabaseHandle, Target, inject
from tests.chaos.invariant import Verdict
from tests.chaos.lab_plan import LabStep, expected_end, lab_plan
from tests.chaos.processes import Part
from tests.chaos.proxy import FaultProxy
from tests.infra import REAL_DATABASE_URL
from wardlink.net import free_port

if TYPE_CHECKING:
    from tests.chaos.run import RunConfig, RunResult

log = logging.getLogger(__name__)

SITE = "chaos-hospital"
LAB_LINK = "lis-gateway"
LAB_FAULTS = ("kill_gateway", "kill_projector", "link_cut", "link_reset", "db_locked")
"""What a lab-path run injects: the gateway or the projector killed mid-stream, the MLLP link cut or reset, the
database locked by another process."""
SPECIMENS = 60
"""Specimens per run (about 150 messages): at `RunConfig.rate` a second they span the fault window."""


async def run_lab(cfg: "RunConfig", result: "RunResult", run_dir: Path, clock: Callable[[str], None]) -> None:
    """Fill `result` (injected faults, verdict, crashes) for one lab-path run."""
    rng = random.Random(cfg.seed)
    plan = lab_plan(rng.randrange(1, 2**31), SPECIMENS)
    async with _LabRig(cfg, run_dir, rng) as rig:
        try:
            await rig.start()
            clock("start")
            feeding = asyncio.create_task(rig.feed(plan, cfg.rate))
            await rig.settle(rng.uniform(1.0, 2.0))
            for kind in cfg.faults:
                result.injected.append(f"{kind}: {await inject(kind, rig.target)}")
                await rig.settle(rng.uniform(0.3, 1.0))
            clock("faults")
            rig.proxy.heal()
            await feeding
            result.verdict = await rig.drain_and_judge(plan, cfg.drain_deadline_s)
            clock("drain")
        except Exception as exc:  # the run failed to run: a failed run, logs kept
            log.exception("chaos lab run %d (seed %d) failed to run", cfg.index, cfg.seed)
            result.error = f"{type(exc).__name__}: {exc}"
        result.crashes = {name: part.crashes for name, part in rig.parts.items() if part.crashes}


class _LabRig:
    def __init__(self, cfg: "RunConfig", run_dir: Path, rng: random.Random) -> None:
        self.cfg = cfg
        self.run_dir = run_dir
        self.rng = rng
        self.proxy = FaultProxy(seed=cfg.seed)
        self.parts: dict[str, Part] = {}
        self.schema: str | None = None
        self.lis: Hl7LabSystem | None = None
        self.target: Target

    async def __aenter__(self) -> "_LabRig":
        return self

    async def __aexit__(self, *_: object) -> None:
        if self.lis is not None:
            await self.lis.stop()
        await processes.stop_all([self.parts[n] for n in ("projector", "gateway", "broker") if n in self.parts])
        await self.proxy.stop()
        if self.schema is not None:
            conn = await asyncpg.connect(_dsn())
            try:
                await conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
            finally:
                await conn.close()

    async def start(self) -> None:
        cfg, run_dir = self.cfg, self.run_dir
        broker_port, api_port, hl7_port = free_port(), free_port(), free_port()
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
        self.parts["broker"] = broker
        await broker.start()
        lab_link = await self.proxy.add_link(LAB_LINK, ("127.0.0.1", hl7_port))
        gateway = processes.gateway(
            run_dir,
            mqtt_url=f"mqtt://127.0.0.1:{broker_port}",
            topic_root=f"chaos{uuid.uuid4().hex[:8]}/wardlink",
            api_port=api_port,
            database=database_env,
            extra_env={"WARDLINK_HL7_PORT": str(hl7_port), "WARDLINK_HL7_SITE": SITE, "WARDLINK_PROJECTOR": "false"},
        )
        self.parts["gateway"] = gateway
        await gateway.start(timeout_s=60)  # it creates the schema; the projector opens it after
        self.parts["projector"] = processes.projector(gateway)
        await self.parts["projector"].start()
        self.lis = Hl7LabSystem(
            f"mllp://127.0.0.1:{lab_link.port}", site=SITE, resend_after_s=2.0, connect_timeout_s=2.0, max_backoff_s=1.0
        )
        await self.lis.start()
        self.target = Target(self.proxy, self.parts, self.rng, database, run_dir, 0, cfg.hold_s, links=(LAB_LINK,))

    async def feed(self, plan: list[LabStep], rate: float) -> None:
        """The lab system reports the plan at `rate` messages a second, faults or not (it queues what waits)."""
        assert self.lis is not None
        for step in plan:
            self.lis.report(step.type, "specimen", step.barcode, step.data, occurred_at=step.occurred_at)
            await asyncio.sleep(1 / rate)

    async def settle(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while loop.time() < deadline:
            await self.supervise()
            await asyncio.sleep(min(0.25, max(0.0, deadline - loop.time())))

    async def supervise(self) -> None:
        """Restart a part that died on its own (counted as a crash)."""
        for part in self.parts.values():
            if part.note_crash():
                log.warning("%s exited on its own (code %s); restarting it", part.name, part.crashes[-1])
                await part.start()

    async def drain_and_judge(self, plan: list[LabStep], deadline_s: float) -> Verdict:
        """Wait until every message is answered and the projection shows the plan's end state (or the deadline)."""
        assert self.lis is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + deadline_s
        expected = expected_end(plan)
        while True:
            await self.supervise()
            view = await self._view(set(expected))
            verdict = judge_lab(plan, view, refused=len(self.lis.rejected), pending=self.lis.pending)
            if verdict.ok or loop.time() > deadline:
                return verdict
            await asyncio.sleep(0.5)

    async def _view(self, barcodes: set[str]) -> "LabView":
        database = self.target.database
        with contextlib.suppress(sqlite3.Error, OSError, asyncpg.PostgresError):
            if database.sqlite_path is not None:
                return await asyncio.to_thread(_read_sqlite, database.sqlite_path, barcodes)
            assert database.dsn
            assert database.schema
            return await _read_postgres(database.dsn, database.schema, barcodes)
        return LabView([], {})


class LabView:
    """What the gateway stored from the lab system: (type, barcode) per event, and the specimens' statuses."""

    def __init__(self, events: list[tuple[str, str]], statuses: dict[str, str]) -> None:
        self.events = events
        self.statuses = statuses


def judge_lab(plan: list[LabStep], view: LabView, *, refused: int = 0, pending: int = 0) -> Verdict:
    """Every planned step stored once, nothing else stored, nothing refused (`refused`: answers AE or AR the lab
    system took as final), every specimen in the end state of an undisturbed run."""
    expected = expected_end(plan)
    planned = Counter((step.type, step.barcode) for step in plan)
    stored = Counter(view.events)
    lost = sum((planned - stored).values())
    extra = sum((stored - planned).values())
    wrong = [f"{b}: {view.statuses.get(b)} != {s}" for b, s in sorted(expected.items()) if view.statuses.get(b) != s]
    problems = []
    if lost:
        problems.append(f"{lost} planned event(s) not stored, first {sorted(planned - stored)[:5]}")
    if extra:
        twice = [key for key, n in stored.items() if n > 1][:5]
        problems.append(f"{extra} stored event(s) beyond the plan (a step twice, or one never planned): {twice}")
    if wrong:
        problems.append(f"{len(wrong)} specimen(s) not in the undisturbed run's end state: {wrong[:5]}")
    if refused:
        problems.append(f"{refused} message(s) refused (AE/AR) by the gateway")
    if pending:
        problems.append(f"{pending} message(s) the lab system still waits to have answered")
    verdict = Verdict(
        accepted=len(plan),
        stored=sum(min(n, planned[key]) for key, n in stored.items()),
        duplicates=extra,
        lost=lost,
        gaps_open=0,
        regressed=len(wrong),
        waiting=pending,
        undelivered=0,
        problems=problems,
    )
    verdict.recovered = not refused and not pending
    return verdict


_EVENTS_SQL = "SELECT type, subject_id FROM {p}events WHERE site = {a} AND edge = {b}"
_STATUS_SQL = "SELECT barcode, status FROM {p}specimens"


def _read_sqlite(path: Path, barcodes: set[str]) -> LabView:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        events = db.execute(_EVENTS_SQL.format(p="", a="?", b="?"), (SITE, INTEGRATION_EDGE)).fetchall()
        statuses = {b: s for b, s in db.execute(_STATUS_SQL.format(p="")).fetchall() if b in barcodes}
    finally:
        db.close()
    return LabView([(t, s) for t, s in events], statuses)


async def _read_postgres(dsn: str, schema: str, barcodes: set[str]) -> LabView:
    conn = await asyncpg.connect(dsn)
    try:
        p = f'"{schema}".'
        events = await conn.fetch(_EVENTS_SQL.format(p=p, a="$1", b="$2"), SITE, INTEGRATION_EDGE)
        statuses = {r[0]: r[1] for r in await conn.fetch(_STATUS_SQL.format(p=p)) if r[0] in barcodes}
    finally:
        await conn.close()
    return LabView([(r[0], r[1]) for r in events], statuses)


def _dsn() -> str:
    return REAL_DATABASE_URL.replace("postgresql+asyncpg://", "postgresql://", 1)
