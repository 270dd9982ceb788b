"""A VDA 5050 vehicle this project did not write: coatyio's vda-5050-lib virtual AGV, run under Node.js.

`vda5050_vehicle/` pins it (package.json + package-lock.json; a dependency of this test only, never of the
product). `node_modules()` installs it with `npm ci` once per lockfile into a cache folder keyed by the
lockfile's hash, so repeated runs start at once. `ThirdPartyVehicle` starts `vehicle.js` (ours: it only
configures the library's `AgvController` + `VirtualAgvAdapter`) as a subprocess and stops it with SIGTERM,
which makes the library publish `connection: OFFLINE` as a coordinated shutdown does.

Without node/npm, or when `npm ci` cannot install, the tests skip with the reason; under CI=true they fail,
since CI promises this conformance check.
"""

import asyncio
import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import pytest

from device_profiles.maps import NodeGraph

NODE_PROJECT = Path(__file__).resolve().parent / "vda5050_vehicle"
LOCKFILE = NODE_PROJECT / "package-lock.json"
NPM_CI_TIMEOUT_S = 300
READY_TIMEOUT_S = 30
STOP_TIMEOUT_S = 10

VdaVersion = Literal["1.1.0", "2.0.0"]
"""What vda-5050-lib 1.4.0 speaks (it rejects any other version in its client options)."""


def unavailable(reason: str) -> None:
    """Skip with the reason; fail under CI=true, where the third-party vehicle is part of the contract."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true requires the third-party VDA 5050 vehicle: {reason}")
    pytest.skip(f"third-party VDA 5050 vehicle unavailable: {reason}")


def cache_root() -> Path:
    configured = os.environ.get("WARDLINK_INTEROP_CACHE")
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "wardlink" / "interop-npm"


def lock_key() -> str:
    """Changes whenever the pinned packages do: the lockfile and package.json, hashed together."""
    digest = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        digest.update((NODE_PROJECT / name).read_bytes())
    return digest.hexdigest()[:16]


def node_modules() -> Path:
    """The pinned packages' `node_modules`, installed by `npm ci` into the cache on first use.

    Installed into a private folder, then renamed into place: parallel test workers never see half an install,
    and the loser of a race throws its copy away.
    """
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        unavailable("node and npm are not on PATH (Node.js >= 18 is needed)")
    done = cache_root() / lock_key()
    if (done / "node_modules" / "vda-5050-lib" / "package.json").is_file():
        return done / "node_modules"
    work = cache_root() / f"{lock_key()}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    work.mkdir(parents=True)
    try:
        for name in ("package.json", "package-lock.json"):
            shutil.copy2(NODE_PROJECT / name, work / name)
        command = [str(npm), "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"]
        try:
            result = subprocess.run(  # noqa: S603  # fixed arguments, npm from PATH
                command, cwd=work, capture_output=True, text=True, timeout=NPM_CI_TIMEOUT_S, check=False
            )
        except subprocess.TimeoutExpired:
            unavailable(f"`npm ci` took longer than {NPM_CI_TIMEOUT_S} s")
        if result.returncode != 0:
            unavailable(f"`npm ci` failed ({result.returncode}): {(result.stderr or result.stdout)[-800:]}")
        with contextlib.suppress(OSError):  # another worker finished first: use theirs
            work.rename(done)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return done / "node_modules"


def initial_position(graph: NodeGraph, node_id: str) -> dict[str, Any]:
    """The virtual AGV's start pose: on `node_id` of our map, with that node's coordinates and mapId."""
    node = graph.node(node_id)
    return {"mapId": node.map, "x": node.x, "y": node.y, "theta": 0.0, "lastNodeId": node.id}


@dataclass
class VehicleConfig:
    """What vehicle.js takes (see there); `time_lapse` speeds up the virtual AGV's driving and actions."""

    broker_url: str
    manufacturer: str
    serial_number: str
    vda_version: VdaVersion
    initial_position: dict[str, Any]
    interface_name: str = "uagv"
    vehicle_speed: float = 2.0
    time_lapse: float = 10.0

    def as_json(self) -> str:
        return json.dumps(
            {
                "brokerUrl": self.broker_url,
                "interfaceName": self.interface_name,
                "manufacturer": self.manufacturer,
                "serialNumber": self.serial_number,
                "vdaVersion": self.vda_version,
                "initialPosition": self.initial_position,
                "vehicleSpeed": self.vehicle_speed,
                "timeLapse": self.time_lapse,
            }
        )


class ThirdPartyVehicle:
    """`async with ThirdPartyVehicle(config, log) as vehicle:` the library's virtual AGV is connected.

    Its stdout and stderr go to `log` (set WARDLINK_INTEROP_DEBUG=vda-5050:* for the library's own trace).
    """

    def __init__(self, config: VehicleConfig, log: Path) -> None:
        self.config = config
        self.log = log
        self._process: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> "ThirdPartyVehicle":
        modules = await asyncio.to_thread(node_modules)
        env = {**os.environ, "NODE_PATH": str(modules)}
        if debug := os.environ.get("WARDLINK_INTEROP_DEBUG"):
            env["DEBUG"] = debug
        node = shutil.which("node")
        assert node is not None  # node_modules() checked it
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as errors:
            self._process = await asyncio.create_subprocess_exec(
                node,
                str(NODE_PROJECT / "vehicle.js"),
                self.config.as_json(),
                stdout=asyncio.subprocess.PIPE,
                stderr=errors,
                env=env,
            )
        assert self._process.stdout is not None
        try:
            line = await asyncio.wait_for(self._process.stdout.readline(), READY_TIMEOUT_S)
        except TimeoutError:
            line = b""
        if line.strip() != b"ready":
            await self.stop()
            raise AssertionError(f"vehicle.js did not start (said {line!r}); see {self.log}:\n{self.tail()}")
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.stop()

    async def stop(self) -> None:
        """SIGTERM (the library then says OFFLINE and disconnects); SIGKILL if it does not exit in time."""
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
        except TimeoutError:
            process.kill()
            await process.wait()

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-chars:] if self.log.exists() else ""
