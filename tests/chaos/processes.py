"""The parts of a chaos run as real subprocesses: a broker, the gateway, the edge and the device simulator.

Each `Part` knows how to start itself (on fixed ports, so that a restart comes back where the proxy points),
kill -9 itself, and stop cleanly. Output goes to a log file per part in the run's directory.
"""

import asyncio
import contextlib
import os
import signal
import sqlite3
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from wardlink.net import port_open

MOSQUITTO = "/usr/sbin/mosquitto"


@dataclass
class Part:
    """One subprocess: `argv` and `env` are what a restart runs again."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    ready_port: int | None = None
    """A TCP port the part listens on when it is ready."""
    ready_check: Callable[[], bool] | None = None
    """Or another sign that it is ready (None for both: ready once started)."""
    process: asyncio.subprocess.Process | None = None
    starts: int = 0
    kills: int = 0
    crashes: list[int] = field(default_factory=list)
    """Exit codes of the times the part died without being killed by the runner."""

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def start(self, timeout_s: float = 30.0) -> None:
        log = self.log_path.open("ab")
        log.write(f"--- start {self.starts + 1}: {' '.join(self.argv)}\n".encode())
        log.flush()
        env = {**os.environ, **self.env}
        self.process = await asyncio.create_subprocess_exec(
            *self.argv, stdout=log, stderr=asyncio.subprocess.STDOUT, env=env, start_new_session=True
        )
        log.close()
        self.starts += 1
        if self.ready_port is not None or self.ready_check is not None:
            await self._wait_ready(timeout_s)

    def _ready(self) -> bool:
        if self.ready_port is not None and not port_open("127.0.0.1", self.ready_port, 0.2):
            return False
        return self.ready_check is None or self.ready_check()

    async def _wait_ready(self, timeout_s: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not await asyncio.to_thread(self._ready):
            if not self.running:
                raise RuntimeError(f"{self.name} exited while starting; see {self.log_path}")
            if loop.time() > deadline:
                raise RuntimeError(f"{self.name} not ready after {timeout_s}s; see {self.log_path}")
            await asyncio.sleep(0.1)

    async def kill9(self) -> None:
        """SIGKILL: no clean shutdown, no Last Will sent by the process itself, nothing flushed."""
        if self.running:
            assert self.process is not None
            self.process.kill()
            await self.process.wait()
            self.kills += 1

    async def stop(self, timeout_s: float = 5.0) -> None:
        """SIGINT (the clean Ctrl-C path), then SIGKILL if it does not go in time."""
        if not self.running:
            return
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        try:
            async with asyncio.timeout(timeout_s):
                await self.process.wait()
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
        self.process = None  # stopped by the runner: not a crash

    def note_crash(self) -> bool:
        """True (and the exit code kept) if the part died on its own since it was started."""
        if self.process is not None and self.process.returncode is not None and self.process.returncode != -9:
            self.crashes.append(self.process.returncode)
            self.process = None
            return True
        return False


def _wardlink(*args: str) -> list[str]:
    return [sys.executable, "-m", "wardlink.cli", *args]


def mosquitto(run_dir: Path, port: int) -> Part:
    """The real Mosquitto on a spare loopback port, with its own configuration and persistence directory."""
    data = run_dir / "mosquitto"
    data.mkdir(parents=True, exist_ok=True)
    config = data / "mosquitto.conf"
    config.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location {data}/\n"
        "user root\nautosave_interval 1\nlog_dest stdout\nlog_type error\nlog_type warning\n"
    )
    return Part("broker", [MOSQUITTO, "-c", str(config)], {}, run_dir / "broker.log", ready_port=port)


def amqtt(run_dir: Path, port: int) -> Part:
    """The embedded amqtt broker in its own process (in-flight QoS 1 is lost when it dies)."""
    argv = [sys.executable, "-m", "tests.chaos.amqtt_main", str(port)]
    return Part("broker", argv, {}, run_dir / "broker.log", ready_port=port)


def gateway(
    run_dir: Path,
    *,
    mqtt_url: str,
    topic_root: str,
    api_port: int,
    database: dict[str, str],
    extra_env: dict[str, str] | None = None,
) -> Part:
    """`extra_env`: more settings, e.g. the HL7 listener's port or `WARDLINK_PROJECTOR=false`."""
    env = {
        "WARDLINK_MQTT_URL": mqtt_url,
        "WARDLINK_TOPIC_ROOT": topic_root,
        "WARDLINK_DATA_DIR": str(run_dir / "gateway"),
        "WARDLINK_API_PORT": str(api_port),
        "WARDLINK_MQTT_MAX_BACKOFF_S": "1",
        **database,
        **(extra_env or {}),
    }
    return Part("gateway", _wardlink("gateway"), env, run_dir / "gateway.log", ready_port=api_port)


def projector(gateway: Part) -> Part:
    """`wardlink projector` beside a gateway started with `WARDLINK_PROJECTOR=false`: the same data folder and
    database, so it projects what that gateway stores (ready once started: it has no port)."""
    env = {**gateway.env, "WARDLINK_PROJECTOR": "true"}
    return Part("projector", _wardlink("projector"), env, gateway.log_path.with_name("projector.log"))


DEVICE_PROFILES = {
    "sorter": ("sorter-1", "acme-sorter-s100"),
    "tubes": ("tubes-1", "tubenet-pts9"),
    "cabinet": ("cabinet-1", "medvault-mv40"),
    "robots": ("robot-1", "medicart-mc2"),
}
CABINET = "MV40-0001"
"""The cabinet simulator's first topic id (`wardlink sim cabinet --count 1`)."""
ROBOT = "MC2-0001"
"""The robot simulator's first serial (`wardlink sim robot --count 1`)."""
"""The edge's one device per chaos path: its id and profile."""


def edge(
    run_dir: Path, *, mqtt_url: str, topic_root: str, data_dir: Path, device_port: int, path: str = "sorter"
) -> Part:
    """`device_port`: the Modbus device's (sorter, tubes), or the devices' MQTT broker's (cabinet, robots)."""
    device_id, profile = DEVICE_PROFILES[path]
    device: dict[str, object] = {"id": device_id, "profile": profile, "location": "core-lab"}
    if path == "cabinet":
        device |= {"location": "ward-4a", "mqtt": {"url": f"mqtt://127.0.0.1:{device_port}", "topic_id": CABINET}}
    elif path == "robots":
        device |= {"location": "pharmacy", "mqtt": {"url": f"mqtt://127.0.0.1:{device_port}", "topic_id": ROBOT}}
    else:
        device |= {
            "modbus": {"host": "127.0.0.1", "port": device_port, "unit": 1},
            "poll_interval_s": 0.05,
            "timeout_s": 1.0,
        }
    site = {
        "site": "chaos-hospital",
        "edge": "chaos-edge",
        "description": f"Chaos suite: one {path} device behind the fault proxy.",
        "devices": [device],
    }
    site_file = run_dir / "site.yaml"
    site_file.write_text(yaml.safe_dump(site, sort_keys=False))
    env = {
        "WARDLINK_MQTT_URL": mqtt_url,
        "WARDLINK_TOPIC_ROOT": topic_root,
        "WARDLINK_DATA_DIR": str(data_dir),
        "WARDLINK_RESEND_AFTER_S": "2",
        "WARDLINK_MAX_BACKOFF_S": "1",
    }
    argv = _wardlink("edge", "--site", str(site_file))
    outbox = data_dir / "edge-chaos-edge.outbox.sqlite"
    return Part("edge", argv, env, run_dir / "edge.log", ready_check=lambda: outbox_ready(outbox))


def outbox_ready(path: Path) -> bool:
    """The edge has opened its outbox (the tables exist): from here on it accepts events."""
    if not path.exists():
        return False
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
        try:
            return db.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone() is not None
        finally:
            db.close()
    except sqlite3.Error:
        return False


def sorter(run_dir: Path, *, port: int, rate: float, seed: int) -> Part:
    argv = _wardlink("sim", "sorter", "--port", str(port), "--rate", str(rate), "--seed", str(seed))
    return Part("device", argv, {}, run_dir / "device.log", ready_port=port)


def tubes(run_dir: Path, *, port: int, seed: int, rate_per_min: float = 120, speed: float = 60) -> Part:
    """The tube system simulator: seeded carrier traffic (60 % carry specimens to the lab), trips compressed by
    `speed` so that a carrier arrives within seconds."""
    argv = _wardlink(
        "sim", "tubes", "--port", str(port), "--rate", str(rate_per_min), "--seed", str(seed), "--speed", str(speed)
    )
    return Part("device", argv, {}, run_dir / "device.log", ready_port=port)


def cabinet(run_dir: Path, *, broker_url: str, seed: int, speed: float = 1800) -> Part:
    """One smart medication cabinet on the devices' broker, with a busy ward's accesses (removals, returns,
    restocks) compressed by `speed`; killing it is a power loss, mid-removal as often as not."""
    argv = _wardlink("sim", "cabinet", "--broker", broker_url, "--count", "1", "--seed", str(seed))
    return Part("device", [*argv, "--speed", str(speed)], {}, run_dir / "device.log")


def robot(run_dir: Path, *, broker_url: str, seed: int, speed: float = 30) -> Part:
    """One VDA 5050 delivery robot on the robots' broker, its time compressed by `speed` (a trip across the hospital
    takes a few seconds, long enough to land a fault in); killing it is a vehicle power loss mid-trip (it comes back
    at a dock, its order gone)."""
    argv = _wardlink("sim", "robot", "--broker", broker_url, "--count", "1", "--seed", str(seed))
    return Part("device", [*argv, "--speed", str(speed)], {}, run_dir / "device.log")


def reseed(part: Part, seed: int) -> None:
    """A rebooted sorter is fed new tubes (the same seed would induct the same barcodes a second time)."""
    index = part.argv.index("--seed")
    part.argv[index + 1] = str(seed)


async def stop_all(parts: list[Part]) -> None:
    for part in parts:
        with contextlib.suppress(ProcessLookupError):
            await part.stop()
