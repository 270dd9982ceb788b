"""VDA 5050 vehicles this project did not write, each started as a subprocess for the interop tests.

- coatyio's vda-5050-lib virtual AGV (Node.js; VDA 5050 2.0.0 and 1.1.0): `vda5050_vehicle/` pins it
  (package.json + package-lock.json) and `vehicle.js` (ours) only configures the library's `AgvController`
  + `VirtualAgvAdapter`. `node_modules()` installs it with `npm ci`.
- vda5050-sdk's simulated AGV `FakeAgv` (Python; VDA 5050 2.1.0): `vda5050_sdk_vehicle/requirements.txt`
  pins it by hash and `vehicle.py` (ours) only starts it on the SDK's MQTT transport. `sdk_packages()`
  installs it with `pip install --no-deps --require-hashes --target` (its own requirements are the project's).

Both are dependencies of these tests only, never of the product, installed once per pin into a cache folder
keyed by the pin files' hash, so repeated runs start at once. `ThirdPartyVehicle` starts one, waits for its
"ready", and stops it with SIGTERM (the vehicle then publishes `connection: OFFLINE`, a coordinated stop).

When a vehicle cannot be installed or run (no node/npm, no registry), its tests skip with the reason; under
CI=true they fail, since CI promises this conformance check.
"""

import asyncio
import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import pytest

from device_profiles.maps import NodeGraph

NODE_PROJECT = Path(__file__).resolve().parent / "vda5050_vehicle"
SDK_PROJECT = Path(__file__).resolve().parent / "vda5050_sdk_vehicle"
INSTALL_TIMEOUT_S = 300
READY_TIMEOUT_S = 30
STOP_TIMEOUT_S = 10

Implementation = Literal["vda-5050-lib", "vda5050-sdk"]
VdaVersion = Literal["2.0.0", "2.1.0"]
"""vda-5050-lib 1.4.0 speaks 2.0.0 (and 1.1.0); vda5050-sdk 0.2.0 speaks 2.1.0."""


def unavailable(reason: str) -> None:
    """Skip with the reason; fail under CI=true, where the third-party vehicle is part of the contract."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true requires the third-party VDA 5050 vehicle: {reason}")
    pytest.skip(f"third-party VDA 5050 vehicle unavailable: {reason}")


def cache_root() -> Path:
    configured = os.environ.get("WARDLINK_INTEROP_CACHE")
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "wardlink" / "interop"


def pin_key(*pins: Path) -> str:
    """Changes whenever the pinned packages do: the pin files, hashed together."""
    digest = hashlib.sha256()
    for pin in pins:
        digest.update(pin.read_bytes())
    return digest.hexdigest()[:16]


def _install(name: str, marker: str, command: list[str], pins: list[Path]) -> Path:
    """`command` run in a private folder holding copies of `pins`, then renamed into the cache: parallel test
    workers never see half an install, and the loser of a race throws its copy away."""
    done = cache_root() / f"{name}-{pin_key(*pins)}"
    if (done / marker).exists():
        return done
    work = cache_root() / f"{done.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    work.mkdir(parents=True)
    try:
        for pin in pins:
            shutil.copy2(pin, work / pin.name)
        try:
            result = subprocess.run(  # noqa: S603  # fixed arguments
                command, cwd=work, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, check=False
            )
        except subprocess.TimeoutExpired:
            unavailable(f"`{' '.join(command[:3])}` took longer than {INSTALL_TIMEOUT_S} s")
        if result.returncode != 0:
            output = (result.stderr or result.stdout)[-800:]
            unavailable(f"`{' '.join(command[:3])}` failed ({result.returncode}): {output}")
        with contextlib.suppress(OSError):  # another worker finished first: use theirs
            work.rename(done)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return done


def node_modules() -> Path:
    """vda-5050-lib and its dependencies as the lockfile pins them (`npm ci`)."""
    npm = shutil.which("npm")
    if shutil.which("node") is None or npm is None:
        unavailable("node and npm are not on PATH (Node.js >= 18 is needed)")
    command = [str(npm), "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"]
    pins = [NODE_PROJECT / "package.json", NODE_PROJECT / "package-lock.json"]
    return _install("npm", "node_modules/vda-5050-lib/package.json", command, pins) / "node_modules"


def sdk_packages() -> Path:
    """vda5050-sdk as requirements.txt pins it (by hash), for PYTHONPATH: it runs on the project's Python."""
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--require-hashes"]
    command += ["--target", "site", "-r", "requirements.txt"]
    return _install("pip", "site/vda5050/__init__.py", command, [SDK_PROJECT / "requirements.txt"]) / "site"


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
    implementation: Implementation = "vda-5050-lib"
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
        env = dict(os.environ)
        if self.config.implementation == "vda-5050-lib":
            env["NODE_PATH"] = str(await asyncio.to_thread(node_modules))
            if debug := os.environ.get("WARDLINK_INTEROP_DEBUG"):
                env["DEBUG"] = debug
            node = shutil.which("node")
            assert node is not None  # node_modules() checked it
            command = [node, str(NODE_PROJECT / "vehicle.js")]
        else:
            env["PYTHONPATH"] = str(await asyncio.to_thread(sdk_packages))
            command = [sys.executable, str(SDK_PROJECT / "vehicle.py")]
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as errors:
            self._process = await asyncio.create_subprocess_exec(
                *command, self.config.as_json(), stdout=asyncio.subprocess.PIPE, stderr=errors, env=env
            )
        assert self._process.stdout is not None
        try:
            line = await asyncio.wait_for(self._process.stdout.readline(), READY_TIMEOUT_S)
        except TimeoutError:
            line = b""
        if line.strip() != b"ready":
            await self.stop()
            said = f"{self.config.implementation} vehicle did not start (said {line!r}); see {self.log}"
            raise AssertionError(f"{said}:\n{self.tail()}")
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
