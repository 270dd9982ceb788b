"""Benchmark of a network of sites (issue #20): the lab dashboard's reads over millions of specimens, projection by
site, publish -> queryable latency and the dashboard pages in a real browser, as ratios measured in the same run.

    python -m benchmarks.network --specimens 10000000 --sites 30 [--repeat 5] [--rollup-days 8] [--no-browser]
                                 [--schema NAME]

One run, in this order (each on PostgreSQL in a schema of its own, dropped afterwards; `--schema` keeps one and
reuses its specimens on the next run; the method is in docs/performance.md):
1. `--specimens` projected specimen rows COPYed round-robin over `site-1..N` (`specimen_load.load_specimens`), their
   turnaround rollups filled for the last `--rollup-days` days (0: all of them, `memory.fill_rollups`);
2. a real gateway process on that schema answers the lab dashboard's queries over HTTP, for one site (`site=site-1`)
   and for the network: each `--repeat` times after one warm-up, the median, and its ratio to the median lookup of
   one specimen by barcode of the same scope;
3. Chromium (Playwright, `browser_pages`) logs in as a lab user and a pharmacy user and opens their pages: from
   navigation start to the board's first data rows, the median of 3 after a warm-up;
4. 30 sites' events projected by 1, 2 and 4 projector processes (`by_site.measure`), the ratio to one;
5. p99 publish -> queryable at 1,000 events/s through one gateway (`scale.replica_ingest`), beside the p99 publish
   -> received of a bare subscriber process at 1,000 messages/s of one message each.
Printed as a table, each row with its target and whether it is met; saved to benchmarks/network-results.json.
"""

import argparse
import asyncio
import json
import logging
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiomqtt
import asyncpg
import httpx

from benchmarks import by_site
from benchmarks.browser_pages import CHROMIUM, page_times
from benchmarks.event_mix import tracking_mix
from benchmarks.feed import REPO, mqtt_link, replicas
from benchmarks.memory import fill_rollups
from benchmarks.mosquitto import tuned_mosquitto
from benchmarks.scale import percentile, replica_ingest
from benchmarks.schemas import REAL_DB, schema_for
from benchmarks.specimen_load import load_specimens
from benchmarks.tokens import admin_headers
from gateway.auth.accounts import create_user
from gateway.composition.stores import Stores
from gateway.settings import GatewaySettings
from gateway.tracking.specimens.rollups import DAY, floor_to
from gateway.tracking.specimens.store import RECENT, SpecimenFilter

RESULTS = Path(__file__).resolve().parent / "network-results.json"
REAL_MQTT = "mqtt://127.0.0.1:1883"
LOOKUP = "one specimen by barcode"
PAGE_BOUND, TURNAROUND_BOUND, PROJECTION_BOUND, PAGE_MS = 2.0, 5.0, 1.7, 1000.0
LATENCY_EVENTS = 10_000
"""Events (and, for the bare subscriber, messages) at 1,000/s: 10 s of a steady stream."""


@dataclass(frozen=True)
class Row:
    measurement: str
    value: float
    unit: str
    ratio: float | None = None
    """The value as a multiple of its baseline, measured in the same run (None: not a ratio row)."""
    target: str = "none set"
    met: bool | None = None
    note: str = ""


class Table:
    """Rows printed as they come and kept for network-results.json."""

    def __init__(self) -> None:
        self.rows: list[Row] = []
        print(
            f"{'measurement':<52} {'value':>11} {'unit':<5} {'x base':>7}  {'target':<22} {'met':<4} note", flush=True
        )

    def add(self, row: Row) -> None:
        self.rows.append(row)
        ratio = "" if row.ratio is None else f"{row.ratio:.2f}x"
        met = "" if row.met is None else "yes" if row.met else "NO"
        print(
            f"{row.measurement:<52} {row.value:>11,.1f} {row.unit:<5} {ratio:>7}  {row.target:<22} {met:<4} {row.note}",
            flush=True,
        )


# -- 1. the load --------------------------------------------------------------------------------------------------
@asynccontextmanager
async def kept_schema(database_url: str, name: str | None) -> AsyncIterator[str]:
    """The schema `name` (created if missing, kept afterwards, so a rerun reuses its load); else a new one, dropped
    afterwards (`schemas.schema_for`)."""
    if name is None:
        async with schema_for(database_url) as schema:
            assert schema is not None, "the network benchmark runs on PostgreSQL"
            yield schema
        return
    conn = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{name}"')
    finally:
        await conn.close()
    yield name


async def specimens_in(database_url: str, schema: str) -> int:
    """The specimens a (migrated) schema holds, as the planner counts them (0: none)."""
    conn = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        if await conn.fetchval(f'SELECT NOT EXISTS (SELECT 1 FROM "{schema}".specimens)'):  # noqa: S608 (our schema)
            return 0
        return int(
            await conn.fetchval("SELECT reltuples FROM pg_class WHERE oid = to_regclass($1)", f"{schema}.specimens")
        )
    finally:
        await conn.close()


async def create_users(database_url: str, schema: str, data_dir: str) -> dict[str, tuple[str, str]]:
    """A lab user and a pharmacy user in the schema (as `tests.auth.new_user` makes them): role -> (name, password)."""
    settings = GatewaySettings(database_url=database_url, database_schema=schema, data_dir=Path(data_dir))
    stores = await Stores.open(settings)
    users = {}
    try:
        for role in ("lab", "pharmacy"):
            name, password = f"bench-{role}-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex
            await create_user(stores.db, name=name, password=password, role=role)
            users[role] = (name, password)
    finally:
        await stores.close()
    return users


async def deep_cursor(database_url: str, schema: str, site: str | None, depth: int) -> str:
    """The cursor the list (most recent first, of `site` or the network) answers after its row `depth` (untimed)."""
    where = "WHERE site = $2 " if site else ""
    conn = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        row = await conn.fetchrow(
            f'SELECT last_event_at, barcode FROM "{schema}".specimens {where}'  # noqa: S608 (our own new schema)
            "ORDER BY last_event_at DESC, barcode OFFSET $1 LIMIT 1",
            depth,
            *([site] if site else []),
        )
    finally:
        await conn.close()
    assert row is not None, f"fewer than {depth} specimens"
    return RECENT.encode((row["last_event_at"], row["barcode"]), SpecimenFilter(site=site).scope())


async def pharmacy_day(database_url: str, schema: str, data_dir: str, now: datetime) -> None:
    """A day of the tracking mix at one more site, stored and projected: the pharmacy's deliveries and cabinets
    (the bulk load has specimens only), some deliveries still on their way at the end."""
    settings = GatewaySettings(database_url=database_url, database_schema=schema, data_dir=Path(data_dir))
    stores = await Stores.open(settings)
    try:
        day = tracking_mix(LATENCY_EVENTS, now - timedelta(hours=30), seed=11)
        for start in range(0, len(day), 500):
            await stores.events.commit_batch(
                [e.model_copy(update={"received_at": e.occurred_at}) for e in day[start : start + 500]]
            )
    finally:
        await stores.close()


# -- 2. the dashboard's queries over HTTP -------------------------------------------------------------------------
async def dashboard_queries(
    api: httpx.AsyncClient, database_url: str, schema: str, specimens: int, sites: int, repeat: int
) -> dict[str, dict[str, float]]:
    """{scope: {query: median seconds}} for "one site" (site-1) and "the network"."""
    week = (datetime.now(UTC) - timedelta(days=7)).isoformat().replace("+00:00", "Z")
    figures: dict[str, dict[str, float]] = {}
    for scope, site in (("one site", "site-1"), ("network", None)):
        rows = specimens // sites if site else specimens
        only = {"site": site} if site else {}
        cursor = await deep_cursor(database_url, schema, site, rows // 2)
        step = sites if site else 1  # site-1 holds every `sites`-th barcode from M000000000
        queries: dict[str, tuple[str, dict[str, str]]] = {
            LOOKUP: ("/api/v1/specimens/M{barcode:09d}", {}),
            "STAT at risk": ("/api/v1/specimens", {"priority": "stat", "at_risk": "true", **only}),
            "first page (with its total)": ("/api/v1/specimens", {"limit": "100", **only}),
            f"deep page by cursor (row {rows // 2:,})": (
                "/api/v1/specimens",
                {"limit": "100", "cursor": cursor, **only},
            ),
            "turnaround by priority, 24 h": ("/api/v1/turnaround", {"group_by": "priority", **only}),
            "turnaround by ward, 7 days": ("/api/v1/turnaround", {"group_by": "ward", "since": week, **only}),
        }
        figures[scope] = {}
        for n, (name, (path, params)) in enumerate(queries.items()):
            timings = []
            for attempt in range(repeat + 1):
                url = path.format(barcode=((n * 7919 + attempt * 104_729) % (rows)) * step)
                began = time.perf_counter()
                response = await api.get(url, params=params)
                elapsed = time.perf_counter() - began
                response.raise_for_status()
                if attempt:  # the first is a warm-up (plans, caches, the pool's connection)
                    timings.append(elapsed)
            figures[scope][name] = statistics.median(timings)
    return figures


def query_rows(table: Table, figures: dict[str, dict[str, float]], specimens: int) -> None:
    for scope, seconds in figures.items():
        lookup = seconds[LOOKUP]
        for name, value in seconds.items():
            ratio = value / lookup
            bound = TURNAROUND_BOUND if name.startswith("turnaround") else PAGE_BOUND
            wanted = name != LOOKUP
            table.add(
                Row(
                    f"{scope}: {name}",
                    value * 1000,
                    "ms",
                    ratio,
                    f"<= {bound:g}x lookup" if wanted else "the baseline",
                    ratio <= bound if wanted else None,
                    f"median of repeats, {specimens:,} specimens",
                )
            )


# -- 5. latency: the bare subscriber at 1,000 messages/s --------------------------------------------------------------
async def bare_latencies(url: str, count: int, rate_per_s: float = 1000) -> list[float]:
    """Seconds from publish to arrival at a bare subscriber process, `count` messages of one each at `rate_per_s`,
    published as `feed.publish_until_acked` paces events (every 20 ms, a window's stamp taken before it goes)."""
    topic = f"bench/{uuid.uuid4().hex}/x"
    process = subprocess.Popen(  # noqa: ASYNC220, S603 - our own module; every wait is in a thread
        [sys.executable, "-m", "benchmarks.bare_subscriber", url, topic, str(count), "latency"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        if (await asyncio.to_thread(process.stdout.readline)).strip() != "ready":
            raise RuntimeError("the bare subscriber did not start")
        window = max(1, int(rate_per_s / 50))
        async with mqtt_link(url, aiomqtt.ProtocolVersion.V311) as link:
            began = time.perf_counter()
            for start in range(0, count, window):
                await asyncio.sleep(max(0.0, began + start / rate_per_s - time.perf_counter()))
                stamp = f"{time.perf_counter()!r}\n".encode().ljust(400, b"x")  # about the size of an envelope
                chunk = range(start, min(count, start + window))
                await asyncio.gather(*(link.publish(topic, stamp, qos=1) for _ in chunk))
        out, _ = await asyncio.to_thread(process.communicate, None, 120)
    finally:
        if process.poll() is None:
            process.kill()
    line = next(ln for ln in out.splitlines() if ln.startswith("latencies "))
    return sorted(json.loads(line.removeprefix("latencies ")))


# -- the run ------------------------------------------------------------------------------------------------------
async def measure(args: argparse.Namespace, table: Table, mq: str) -> None:
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as data_dir:
        async with kept_schema(args.database_url, args.schema) as schema:
            headers = await admin_headers(args.database_url, schema, data_dir)  # migrates the schema first
            loaded = await specimens_in(args.database_url, schema)
            if loaded:
                note = f"{loaded:,} specimens already in schema {schema} (--schema): not loaded again"
                table.add(Row("load (bulk)", 0.0, "s", note=note))
                args.specimens = loaded
            else:
                load_s = await load_specimens(args.database_url, schema, args.specimens, sites=args.sites, now=now)
                note = f"{args.specimens:,} specimens over {args.sites} sites, COPY + VACUUM ANALYZE"
                table.add(Row("load (bulk)", load_s, "s", note=note))
            began = time.perf_counter()
            if args.rollup_days:
                # The dashboard's turnaround reads cover the last 7 days at most (whole hours and days from the
                # rollups, the partial hours at either end from the specimens): those days are filled, not 61.
                since = floor_to(now - timedelta(days=args.rollup_days), DAY)
                counted = await fill_rollups(args.database_url, schema, since)
                what = f"{counted:,} resulted specimens of the last {args.rollup_days} days (UTC days)"
            else:
                counted = await fill_rollups(args.database_url, schema)
                what = "every resulted specimen"
            table.add(Row("turnaround rollups filled", time.perf_counter() - began, "s", note=what))
            users = await create_users(args.database_url, schema, data_dir)
            if not loaded:
                await pharmacy_day(args.database_url, schema, data_dir, now)
            env = {
                "WARDLINK_MQTT_URL": mq,
                "WARDLINK_DATABASE_URL": args.database_url,
                "WARDLINK_DATABASE_SCHEMA": schema,
                "WARDLINK_TOPIC_ROOT": f"bench{uuid.uuid4().hex[:8]}/wardlink",
                "WARDLINK_API_PORT": "0",
                "WARDLINK_DATA_DIR": data_dir,
                "WARDLINK_ALERTS_EVERY_S": "3600",  # the queries timed, not an alert pass beside them
            }
            async with replicas(1, env) as (gateway,):
                async with httpx.AsyncClient(base_url=gateway.api_url, headers=headers, timeout=300) as api:
                    figures = await dashboard_queries(
                        api, args.database_url, schema, args.specimens, args.sites, args.repeat
                    )
                    on_way = (await api.get("/api/v1/deliveries", params={"in_progress": "true"})).json()["count"]
                query_rows(table, figures, args.specimens)
                if args.browser:
                    for role, times in (await page_times(gateway.api_url, users)).items():
                        median = statistics.median(times)
                        spread = ", ".join(f"{t:.0f}" for t in times)
                        table.add(
                            Row(
                                f"browser: {role} page, navigation -> board rows",
                                median,
                                "ms",
                                target=f"< {PAGE_MS:g} ms",
                                met=median < PAGE_MS,
                                note=f"median of 3 ({spread} ms), Chromium headless"
                                + (f"; {on_way} deliveries in progress" if role == "pharmacy" else ""),
                            )
                        )
                else:
                    print(f"(browser rows skipped: --no-browser, or no {CHROMIUM})")
                await gateway.stop()

    # -- 4. projection by site
    batch = [e for index in range(args.sites) for e in by_site.site_mix(index, args.per_site)]
    batch.sort(key=lambda e: e.occurred_at)
    one: float | None = None
    for processes in (1, 2, 4):
        run = await by_site.measure(processes, batch)
        one = one or run.rate
        ratio = run.rate / one
        table.add(
            Row(
                f"projection, {args.sites} sites, {processes} projector process(es)",
                run.rate,
                "ev/s",
                ratio,
                "the baseline" if processes == 1 else f">= {PROJECTION_BOUND:g}x one" if processes == 2 else "none set",
                ratio >= PROJECTION_BOUND if processes == 2 else None,
                f"{len(batch):,} events; per process " + "/".join(str(s["projected"]) for s in run.shares),
            )
        )

    # -- 5. latency at 1,000 events/s
    bare = await bare_latencies(mq, LATENCY_EVENTS)
    base_p99 = percentile(bare, 99)
    note = f"{LATENCY_EVENTS:,} QoS 1 messages of one at 1,000/s"
    table.add(Row("bare subscriber: publish -> received p99", base_p99 * 1000, "ms", None, "the baseline", None, note))
    steady = tracking_mix(LATENCY_EVENTS, now - timedelta(hours=30), seed=8)
    steady_run = await replica_ingest(1, mq, args.database_url, steady, rate_per_s=1000, probe_every=5)
    p99 = percentile(steady_run.queryable, 99)
    note = f"1 gateway, {LATENCY_EVENTS:,} events of one a message at 1,000/s; {len(steady_run.queryable)} probes"
    table.add(Row("gateway: publish -> queryable p99", p99 * 1000, "ms", p99 / base_p99, note=note))


async def main(args: argparse.Namespace) -> None:
    table = Table()
    async with tuned_mosquitto() as tuned:
        await measure(args, table, tuned or REAL_MQTT)
    payload = {
        "when": datetime.now(UTC).isoformat(),
        "specimens": args.specimens,
        "sites": args.sites,
        "rows": [row.__dict__ for row in table.rows],
    }
    RESULTS.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"saved {RESULTS}")


def run(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--specimens", type=int, default=10_000_000)
    parser.add_argument("--sites", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=5, help="timed repeats of each query after a warm-up (5)")
    parser.add_argument("--per-site", type=int, default=1000, help="events of each site projected (1,000)")
    parser.add_argument("--rollup-days", type=int, default=8, help="rollups of the last N days (8); 0: all")
    parser.add_argument("--no-browser", dest="browser", action="store_false")
    parser.add_argument(
        "--schema", help="a schema to keep: loaded when it holds no specimens, reused as it is when it does"
    )
    parser.add_argument("--database-url", default=REAL_DB)
    args = parser.parse_args(argv)
    args.browser = args.browser and CHROMIUM.exists()
    logging.basicConfig(level=logging.WARNING)
    for noisy in ("amqtt", "transitions", "alembic", "mqtt"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    asyncio.run(main(args))


if __name__ == "__main__":
    run()
