"""Projection by site: the events of 30 sites projected by 1, 2 and 4 projector processes on one PostgreSQL.

`python -m benchmarks.by_site [--sites 30] [--per-site 1000] [--processes 1,2,4]`. Each measurement stores the
tracking mix of every site (`benchmarks.event_mix`, a site's own barcodes, deliveries and edges) in a schema of its
own, all of it waiting in the projection backlog, then starts the projector processes (`--project`, each a
`ProjectionRunner` with the gateway's projectors, as `wardlink projector` has), waits until each has opened the
database, and times from the word go until the backlog is empty. Printed: events/s and the ratio to 1 projector,
measured in the same run. The target (issue #20): 2 projectors >= 1.7 x one.
"""

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.event_mix import CLINICAL_EDGE, DEVICE_EDGE, SITE, tracking_mix
from benchmarks.schemas import REAL_DB, schema_for
from contract import Event
from contract.envelope import event_adapter

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(tempfile.gettempdir()) / "wardlink-bench-by-site"
START = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
PASS = 2000
"""Events per pass at most (the gateway's default `projection_batch_size`)."""
_BARCODE = re.compile(r"\bS00(\d{7})\b")
_DELIVERY = re.compile(r"\bD00(\d{4})\b")


def site_mix(index: int, count: int) -> list[Event]:
    """`count` events of the tracking mix at site `index`: its own site id, edges, barcodes and deliveries (the
    mix numbers them from 1 at every site; two sites sharing a barcode would be refused as crossing sites)."""
    site = f"site-{index:02d}"
    text = "[" + ",".join(event_adapter.dump_json(e).decode() for e in tracking_mix(count, START, seed=index)) + "]"
    text = _BARCODE.sub(rf"S{index:02d}\1", _DELIVERY.sub(rf"D{index:02d}\1", text))
    for old, new in ((SITE, site), (DEVICE_EDGE, f"{site}-devices"), (CLINICAL_EDGE, f"{site}-clinical")):
        text = text.replace(f'"{old}"', f'"{new}"')
    events = [event_adapter.validate_python(e) for e in json.loads(text)]
    return [e.model_copy(update={"received_at": e.occurred_at}) for e in events]  # as a gateway stamps them


@dataclass(frozen=True, slots=True)
class Run:
    processes: int
    events: int
    seconds: float
    shares: list[dict[str, int]]

    @property
    def rate(self) -> float:
        return self.events / self.seconds


def _env(schema: str | None) -> dict[str, str]:
    env = {"WARDLINK_DATABASE_URL": REAL_DB, "WARDLINK_DATA_DIR": str(DATA_DIR)}
    if schema:
        env["WARDLINK_DATABASE_SCHEMA"] = schema
    return env


async def _store(schema: str | None, batch: list[Event]) -> None:
    """Store every event, queued for projection, none projected (as gateways that leave projecting to others)."""
    from gateway.composition.stores import Stores
    from gateway.settings import GatewaySettings

    settings = GatewaySettings(database_url=REAL_DB, database_schema=schema, data_dir=DATA_DIR)
    stores = await Stores.open(settings, keep_for_projection=False)
    try:
        for start in range(0, len(batch), 500):
            await stores.events.ingest_batch(batch[start : start + 500])
    finally:
        await stores.close()


async def measure(processes: int, batch: list[Event]) -> Run:
    """One measurement in a schema of its own."""
    async with schema_for(REAL_DB) as schema:
        env = {**os.environ, **_env(schema)}
        await _store(schema, batch)
        running = [
            subprocess.Popen(  # noqa: ASYNC220 - spawning does not block; every wait is in a thread
                [sys.executable, "-m", "benchmarks.by_site", "--project"],
                cwd=REPO,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(processes)
        ]
        for process in running:  # each has opened the database and waits for the word
            assert process.stdout is not None
            line = await asyncio.to_thread(process.stdout.readline)
            if not line.startswith("ready"):
                raise RuntimeError(f"a projector process did not get ready: {line!r}")
        started = time.perf_counter()
        for process in running:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        shares = []
        for process in running:
            assert process.stdout is not None
            shares.append(json.loads((await asyncio.to_thread(process.stdout.readline)).split(" ", 1)[1]))
        seconds = time.perf_counter() - started
        for process in running:
            await asyncio.to_thread(process.wait, 30)
    return Run(processes, sum(s["projected"] for s in shares), seconds, shares)


async def project() -> None:
    """`--project`: one projector process; projects until the backlog is empty, then prints what it did."""
    from gateway.composition.stores import Stores
    from gateway.settings import GatewaySettings

    stores = await Stores.open(GatewaySettings(), keep_for_projection=False)
    try:
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        projected = passes = idle = 0
        sites: set[str] = set()
        while True:
            done = await stores.projection.project_pending(PASS)
            if done.events or done.refused:
                projected += len(done.events) + len(done.refused)
                passes += 1
                sites.update(done.sites)
                continue
            if (await stores.projection.backlog())[0] == 0:
                break
            idle += 1  # every waiting site is another projector's now: look again shortly
            await asyncio.sleep(0.01)
        report = {"projected": projected, "passes": passes, "sites": len(sites), "idle": idle}
        print(f"done {json.dumps(report)}", flush=True)
    finally:
        await stores.close()


async def main(sites: int, per_site: int, counts: list[int]) -> None:
    batch = [e for index in range(sites) for e in site_mix(index, per_site)]
    batch.sort(key=lambda e: e.occurred_at)  # the sites' days side by side, as the gateways would store them
    print(f"projection by site: {sites} sites x {per_site} events of the tracking mix = {len(batch)} events")
    print(f"{'projectors':>10} {'events/s':>10} {'x one':>6}  shares (events projected, passes, sites, idle looks)")
    one: float | None = None
    for count in counts:
        run = await measure(count, batch)
        one = one or run.rate
        shares = "; ".join(f"{s['projected']}/{s['passes']}/{s['sites']}/{s['idle']}" for s in run.shares)
        print(f"{count:>10} {run.rate:>10,.1f} {run.rate / one:>6.2f}  {shares}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project", action="store_true", help="(internal) run one projector process")
    parser.add_argument("--sites", type=int, default=30)
    parser.add_argument("--per-site", type=int, default=1000)
    parser.add_argument("--processes", default="1,2,4")
    args = parser.parse_args()
    if args.project:
        asyncio.run(project())
    else:
        asyncio.run(main(args.sites, args.per_site, [int(n) for n in args.processes.split(",")]))
