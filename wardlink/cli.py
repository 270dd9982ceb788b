"""`wardlink` — one command line for the demo, the gateway, the edge, the simulators and the profiles."""

import argparse
import asyncio
import contextlib
import json
import logging
import secrets
import sys
import urllib.request
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

DOCS_SCHEMAS = Path("docs/schemas")


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)-5s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    for noisy in ("amqtt", "transitions", "pymodbus", "uvicorn.access", "aiosqlite", "asyncio", "alembic", "mqtt"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _run(coro: Coroutine[Any, Any, None]) -> int:
    """Run until done or Ctrl-C; asyncio cancels the main task on SIGINT so every part stops cleanly."""
    try:
        asyncio.run(coro)
    except KeyboardInterrupt:
        print("\nstopped", file=sys.stderr)
    return 0


# -- demo ------------------------------------------------------------------------------------------------------
async def _demo(args: argparse.Namespace) -> None:
    from wardlink.stack import Stack, StackConfig

    # A fresh seed per run by default: a demo restarted on the same data directory must not re-sort old barcodes.
    seed = args.seed if args.seed is not None else secrets.randbelow(1_000_000)
    config = StackConfig.from_env(stream_rate_per_s=args.rate, seed=seed)
    async with Stack(config) as stack:
        assert stack.sorter is not None
        assert stack.edge is not None
        assert stack.gateway is not None
        broker = stack.mqtt_url + ("  (embedded amqtt)" if stack.broker else "")
        print(
            "\nwardlink demo: broker, sorter simulator, edge and gateway are running. Ctrl-C stops everything.\n"
            f"  MQTT broker  {broker}\n"
            f"  database     {stack.gateway.settings.resolved_database_url}\n"
            f"  sorter sim   modbus tcp 127.0.0.1:{stack.sorter.port}  ({args.rate} tubes/s, seed {seed})\n"
            f"  edge         {stack.edge.site.site}/{stack.edge.site.edge}, outbox {stack.edge.outbox.path}\n"
            f"  API          {stack.api_url}   (try {stack.api_url}/api/v1/specimens)\n",
            flush=True,
        )
        barcodes = await _first_barcodes(stack.api_url, want=5)
        print("Example barcodes that went through the sorter, edge and gateway:")
        for barcode in barcodes:
            print(f"  curl {stack.api_url}/api/v1/specimens/{barcode}")
        print(flush=True)
        await asyncio.Event().wait()


async def _first_barcodes(api_url: str, want: int, timeout_s: float = 60) -> list[str]:
    def fetch() -> list[str]:
        with urllib.request.urlopen(f"{api_url}/api/v1/specimens?limit=50", timeout=5) as response:  # noqa: S310
            body = json.load(response)
        return [s["barcode"] for s in body["data"] if not s["barcode"].startswith("NOREAD")]

    deadline = asyncio.get_running_loop().time() + timeout_s
    barcodes: list[str] = []
    while len(barcodes) < want and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(1)
        with contextlib.suppress(OSError, ValueError, KeyError):
            barcodes = await asyncio.to_thread(fetch)
    return barcodes[:want]


# -- services --------------------------------------------------------------------------------------------------
async def _gateway(_: argparse.Namespace) -> None:
    from gateway.service import run_gateway
    from gateway.settings import GatewaySettings

    await run_gateway(GatewaySettings())


async def _edge(args: argparse.Namespace) -> None:
    from device_profiles import load_site
    from edge.agent import run_edge
    from edge.settings import EdgeSettings

    settings = EdgeSettings(**({"site_file": args.site} if args.site else {}))
    site, profiles = load_site(settings.site_file, settings.profiles_dir)
    await run_edge(settings, site, profiles)


async def _sim_sorter(args: argparse.Namespace) -> None:
    from simulators.sorter import run_sorter

    await run_sorter(args.profile, args.host, args.port, args.rate, args.seed)


# -- profiles and schemas --------------------------------------------------------------------------------------
def _profiles_validate(args: argparse.Namespace) -> int:
    from device_profiles import PROFILES_DIR, SITES_DIR, validate_files

    paths = [Path(p) for p in args.paths] or sorted([*PROFILES_DIR.glob("*.yaml"), *SITES_DIR.glob("*.yaml")])
    files = [f for p in paths for f in (sorted(p.glob("*.yaml")) if p.is_dir() else [p])]
    problems = validate_files(files)
    for problem in problems:
        print(f"{problem.file}: {problem.field}: {problem.reason}", file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s) in {len(files)} file(s)", file=sys.stderr)
        return 1
    print(f"{len(files)} file(s) valid")
    return 0


def _schemas_export(args: argparse.Namespace) -> int:
    from contract.schema import render
    from contract.schema import schemas as contract_schemas
    from device_profiles import profile_json_schema

    directory = Path(args.directory)
    directory.mkdir(parents=True, exist_ok=True)
    for name, schema in {**contract_schemas(), "device-profile.schema.json": profile_json_schema()}.items():
        (directory / name).write_text(render(schema))
        print(directory / name)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wardlink", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="run broker, sorter simulator, edge and gateway in one process")
    demo.add_argument("--rate", type=float, default=2.0, help="tubes per second into the sorter (default 2)")
    demo.add_argument("--seed", type=int, help="seed of the simulated barcode stream (default: a new one per run)")
    demo.set_defaults(run=lambda a: _run(_demo(a)))

    gateway = sub.add_parser("gateway", help="run the gateway (settings from WARDLINK_* variables)")
    gateway.set_defaults(run=lambda a: _run(_gateway(a)))

    edge = sub.add_parser("edge", help="run an edge agent for one site instance file")
    edge.add_argument("--site", type=Path, help="site instance file (default: WARDLINK_SITE_FILE or the demo site)")
    edge.set_defaults(run=lambda a: _run(_edge(a)))

    sim = sub.add_parser("sim", help="run a device simulator").add_subparsers(dest="device", required=True)
    sorter = sim.add_parser("sorter", help="specimen sorter: a Modbus TCP server fed with a barcode stream")
    sorter.add_argument("--profile", default="acme-sorter-s100")
    sorter.add_argument("--host", default="127.0.0.1")
    sorter.add_argument("--port", type=int, default=5020)
    sorter.add_argument("--rate", type=float, default=1.0, help="tubes per second")
    sorter.add_argument("--seed", type=int, default=1)
    sorter.set_defaults(run=lambda a: _run(_sim_sorter(a)))

    profiles = sub.add_parser("profiles", help="device profiles").add_subparsers(dest="action", required=True)
    validate = profiles.add_parser("validate", help="validate profile and site files; non-zero exit on problems")
    validate.add_argument("paths", nargs="*", help="files or folders (default: the packaged profiles and sites)")
    validate.set_defaults(run=_profiles_validate)

    schemas = sub.add_parser("schemas", help="JSON Schemas").add_subparsers(dest="action", required=True)
    export = schemas.add_parser("export", help="write the wire-contract and profile JSON Schemas")
    export.add_argument("directory", nargs="?", default=str(DOCS_SCHEMAS))
    export.set_defaults(run=_schemas_export)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _logging(args.verbose)
    return int(args.run(args))


if __name__ == "__main__":
    raise SystemExit(main())
