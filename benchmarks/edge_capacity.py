"""Benchmark rows: how many Modbus devices one edge agent polls at 1 Hz, and the CPU share it takes.

N sorter simulators serve Modbus TCP from their own process (`benchmarks.sorter_farm`); one edge agent process
(`wardlink edge`) polls them all at `poll_interval_s: 1.0` and publishes to the broker. After a warm-up, over a
measuring window: the edge's CPU time (user + system, from /proc) per second of wall time — the share of one
core — and the watch polls (status-block reads) the simulators served per device per second.
"""

import os
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import yaml

from benchmarks.feed import REPO

TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class EdgeCapacity:
    devices: int
    cpu_share: float
    """CPU seconds per wall second of the edge process (1.0 = one core busy)."""
    polls_per_device_s: float
    """Watch polls (reads of the status block) per device per second: 1.0 when the edge keeps up."""


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def _site(ports: list[int]) -> dict[str, object]:
    return {
        "site": "bench-site",
        "edge": "bench-poll-edge",
        "description": "Edge-capacity benchmark: simulated sorters polled at 1 Hz.",
        "devices": [
            {
                "id": f"sorter-{n}",
                "profile": "acme-sorter-s100",
                "location": "bench",
                "modbus": {"host": "127.0.0.1", "port": port, "unit": 1},
                "poll_interval_s": 1.0,
                "timeout_s": 2.0,
            }
            for n, port in enumerate(ports, start=1)
        ],
    }


def edge_capacity(mqtt_url: str, devices: int, warm_up_s: float = 5.0, window_s: float = 15.0) -> EdgeCapacity:
    """Poll `devices` simulated sorters from one edge agent; its CPU share and the reads served per device/s."""
    farm = subprocess.Popen(  # noqa: S603 - our own module
        [sys.executable, "-m", "benchmarks.sorter_farm", str(devices)],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    edge: subprocess.Popen[bytes] | None = None
    try:
        assert farm.stdout is not None
        line = farm.stdout.readline()
        if not line.startswith("ports "):
            raise RuntimeError(f"the simulators did not start: {line!r}")
        ports = [int(p) for p in line.split()[1].split(",")]

        def reads() -> int:
            assert farm.stdin is not None
            assert farm.stdout is not None
            farm.stdin.write("count\n")
            farm.stdin.flush()
            return int(farm.stdout.readline().split()[1])

        with tempfile.TemporaryDirectory() as data_dir:
            site_file = Path(data_dir) / "site.yaml"
            site_file.write_text(yaml.safe_dump(_site(ports)))
            env = {
                **os.environ,
                "WARDLINK_MQTT_URL": mqtt_url,
                "WARDLINK_TOPIC_ROOT": f"bench{uuid.uuid4().hex[:8]}/wardlink",
                "WARDLINK_DATA_DIR": data_dir,
            }
            edge = subprocess.Popen(  # noqa: S603 - our own module
                [sys.executable, "-m", "wardlink.cli", "edge", "--site", str(site_file)],
                cwd=REPO,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(warm_up_s)
            if edge.poll() is not None:
                raise RuntimeError(f"the edge agent stopped (exit {edge.returncode})")
            began, cpu0, reads0 = time.perf_counter(), _cpu_s(edge.pid), reads()
            time.sleep(window_s)
            wall, cpu, served = time.perf_counter() - began, _cpu_s(edge.pid) - cpu0, reads() - reads0
            edge.terminate()
            edge.wait(timeout=30)
        return EdgeCapacity(devices, cpu / wall, served / wall / devices)
    finally:
        for process in (edge, farm):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
