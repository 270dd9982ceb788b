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

from wardlink.audit_cli import add_audit_parser
from wardlink.reference_cli import add_reference_parser
from wardlink.rules_cli import add_rules_parser
from wardlink.security.cli import add_parser as add_security_parser
from wardlink.users_cli import add_users_parser

DOCS_SCHEMAS = Path("docs/schemas")


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)-5s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    for noisy in ("amqtt", "transitions", "pymodbus", "uvicorn.access", "aiosqlite", "asyncio", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # aiomqtt warns about every publish still waiting for its PUBACK under load; the outbox is what guarantees
    # delivery. It sets its logger's level when imported, so import it first or that would undo ours.
    import aiomqtt  # noqa: F401

    logging.getLogger("mqtt").setLevel(logging.ERROR)


def _run(coro: Coroutine[Any, Any, None]) -> int:
    """Run until done or Ctrl-C; asyncio cancels the main task on SIGINT so every part stops cleanly."""
    try:
        asyncio.run(coro)
    except KeyboardInterrupt:
        print("\nstopped", file=sys.stderr)
    return 0


# -- demo ------------------------------------------------------------------------------------------------------
async def _demo(args: argparse.Namespace) -> None:
    from wardlink.demo_accounts import demo_accounts, demo_token, describe
    from wardlink.stack import Stack, StackConfig

    # A fresh seed per run by default: a demo restarted on the same data directory must not re-sort old barcodes.
    seed = args.seed if args.seed is not None else secrets.randbelow(1_000_000)
    scenario = None if args.sorter_only or args.secure else args.scenario
    config = StackConfig.from_env(
        stream_rate_per_s=args.rate, seed=seed, scenario=scenario, reference_data=True, secure=args.secure
    )
    if config.secure and config.mqtt_url:
        print("wardlink demo --secure runs its own broker: unset WARDLINK_MQTT_URL, or drop --secure", file=sys.stderr)
        raise SystemExit(2)
    async with Stack(config) as stack:
        assert stack.edge is not None
        assert stack.gateway is not None
        assert stack.gateway.store is not None
        broker = stack.mqtt_url + (
            "  (embedded amqtt, loopback only, open to any local process)" if stack.broker else ""
        )
        if stack.secure_broker is not None:
            broker += (
                f"\n               accounts and env files in {stack.secure_broker.folder}/env (passwords only there)"
            )
        hl7_url = stack.hl7_url
        print(
            "\nwardlink demo: broker, simulators, edge and gateway are running. Ctrl-C stops everything.\n"
            f"  MQTT broker  {broker}\n"
            f"  database     {stack.gateway.settings.resolved_database_url}\n"
            f"  simulators   {_simulators(stack, args, seed)}\n"
            f"  edge         {stack.edge.site.site}/{stack.edge.site.edge}, {len(stack.edge.devices)} device(s), "
            f"outbox {stack.edge.outbox.path}\n"
            f"  API          {stack.api_url}   (try {stack.api_url}/api/v1/devices)\n"
            f"  reference    {stack.reference}\n"
            + (f"  HL7 v2       {hl7_url}   (the lab system sends OML^O21, ORU^R01, SSU^U03)\n" if hl7_url else ""),
            flush=True,
        )
        accounts = await demo_accounts(stack.gateway.store.db)
        token = await demo_token(stack.gateway.store.db)
        print(describe(accounts, f"{stack.api_url}/") + "\n", flush=True)
        barcodes = await _first_barcodes(stack.api_url, token, want=5)
        print("The API needs credentials; the examples use a service token made for this run (admin, 1 day):")
        print(f"  export TOKEN={token}")
        auth = '-H "Authorization: Bearer $TOKEN"'
        print("Example barcodes that went through the sorter, edge and gateway:")
        for barcode in barcodes:
            print(f"  curl {auth} {stack.api_url}/api/v1/specimens/{barcode}")
        if stack.hospital is not None:
            print("Every family's events, and the devices' health:")
            for kind in ("carrier", "delivery", "cabinet"):
                print(f"  curl {auth} '{stack.api_url}/api/v1/events?subject_kind={kind}&limit=20'")
            print(f"  curl {auth} {stack.api_url}/api/v1/devices")
            print(f"Simulation control (engineer): {stack.api_url}/api/v1/simulation (docs/simulation.md)")
        print(flush=True)
        await asyncio.Event().wait()


def _simulators(stack: Any, args: argparse.Namespace, seed: int) -> str:
    if stack.hospital is None:
        return f"sorter, modbus tcp 127.0.0.1:{stack.sorter.port} ({args.rate} tubes/s, seed {seed})"
    h = stack.hospital
    return (
        f"scenario {h.scenario.name!r} at {h.scenario.speed:g}x from {h.scenario.start:%H:%M}: "
        f"{len(h.sorters)} sorter(s), {len(h.tube_systems)} tube system(s), {len(h.robots)} robot(s), "
        f"{len(h.cabinets)} cabinet(s)"
    )


async def _first_barcodes(api_url: str, token: str, want: int, timeout_s: float = 60) -> list[str]:
    def fetch() -> list[str]:
        request = urllib.request.Request(  # noqa: S310 (our own http:// URL)
            f"{api_url}/api/v1/specimens?limit=50", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
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


async def _projector(_: argparse.Namespace) -> None:
    from gateway.service import run_projector
    from gateway.settings import GatewaySettings

    await run_projector(GatewaySettings())


def _projector_check(args: argparse.Namespace) -> int:
    """A health check: 0 when the projector of this data folder made a pass or looked at the backlog within
    `--max-age-s`."""
    from gateway.projection.worker import HEARTBEAT_FILE, heartbeat_age_s
    from gateway.settings import GatewaySettings

    data_dir = GatewaySettings().data_dir
    age = heartbeat_age_s(data_dir)
    if age is None:
        print(f"projector not running: no {data_dir / HEARTBEAT_FILE}")
        return 1
    if age > args.max_age_s:
        limit = f"limit {args.max_age_s:g} s"
        print(f"projector stalled: its last pass or look at the backlog was {age:.0f} s ago ({limit})")
        return 1
    print(f"projector alive: its last pass or look at the backlog was {age:.1f} s ago")
    return 0


async def _edge(args: argparse.Namespace) -> None:
    from device_profiles import load_site
    from edge.agent import run_edge
    from edge.settings import EdgeSettings

    settings = EdgeSettings(**({"site_file": args.site} if args.site else {}))
    site, profiles = load_site(settings.site_file, settings.profiles_dir)
    await run_edge(settings, site, profiles)


async def _sim_sorter(args: argparse.Namespace) -> None:
    from simulators.sorter.stream import run_sorter

    await run_sorter(args.profile, args.host, args.port, args.rate, args.seed)


async def _sim_tubes(args: argparse.Namespace) -> None:
    from simulators.tubes.traffic import run_tubes

    await run_tubes(args.profile, args.host, args.port, args.rate, args.seed, args.speed)


async def _sim_robot(args: argparse.Namespace) -> None:
    from simulators.robots.fleet import run_robots

    await run_robots(args.profile, args.broker, args.count, args.seed, args.speed)


async def _sim_cabinet(args: argparse.Namespace) -> None:
    from simulators.cabinets.ward import run_cabinets

    await run_cabinets(args.profile, args.broker, args.count, args.seed, args.speed)


async def _sim_hospital(args: argparse.Namespace) -> None:
    import yaml

    from simulators.hospital.control import SimulationControl
    from simulators.hospital.hospital import Hospital
    from simulators.hospital.scenario import load_scenario

    hospital = Hospital(load_scenario(args.scenario), args.broker, edge=args.edge, topic_root=args.topic_root)
    control = SimulationControl(hospital, args.broker, simulator=args.simulator, topic_root=args.topic_root)
    await hospital.start()
    try:
        await control.start()  # the gateway's /api/v1/simulation can start scenarios and inject faults here
        site = hospital.site().model_dump(mode="json", exclude_none=True)
        await asyncio.to_thread(Path(args.site_out).write_text, yaml.safe_dump(site, sort_keys=False))
        print(f"site file for the edge: {args.site_out}  (wardlink edge --site {args.site_out})", flush=True)
        await hospital.run()
    finally:
        await control.stop()
        await hospital.stop()


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


def _profiles_reference(args: argparse.Namespace) -> int:
    from device_profiles import load_profiles
    from device_profiles.reference import render, splice

    reference = render(load_profiles())
    if args.update is None:
        print(reference, end="")
        return 0
    path = Path(args.update)
    path.write_text(splice(path.read_text(), reference))
    print(f"updated {path}")
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

    demo = sub.add_parser("demo", help="run broker, simulators of every family, edge and gateway in one process")
    demo.add_argument("--rate", type=float, default=2.0, help="with --sorter-only: tubes per second (default 2)")
    demo.add_argument("--seed", type=int, help="seed of the simulated traffic (default: a new one per run)")
    demo.add_argument(
        "--scenario", default="demo", help="hospital-day scenario (simulators/days/): demo, busy-day, ..."
    )
    demo.add_argument("--sorter-only", action="store_true", help="just the specimen sorter, fed at --rate")
    demo.add_argument(
        "--secure",
        action="store_true",
        help="the production broker profile: an account, password and topic ACLs per component, client ids bound "
        "to accounts (Mosquitto when installed, else the embedded broker); implies --sorter-only for now",
    )
    demo.set_defaults(run=lambda a: _run(_demo(a)))

    gateway = sub.add_parser("gateway", help="run the gateway (settings from WARDLINK_* variables)")
    gateway.set_defaults(run=lambda a: _run(_gateway(a)))

    projector = sub.add_parser(
        "projector", help="run only the projector, for gateways started with WARDLINK_PROJECTOR=false"
    )
    projector.add_argument(
        "--check",
        action="store_true",
        help="health check: exit 0 if the projector of WARDLINK_DATA_DIR made a pass or looked at the backlog lately",
    )
    projector.add_argument("--max-age-s", type=float, default=60.0, help="how lately, for --check (60)")
    projector.set_defaults(run=lambda a: _projector_check(a) if a.check else _run(_projector(a)))

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
    tubes = sim.add_parser("tubes", help="pneumatic tube system: a Modbus TCP server with carrier traffic")
    tubes.add_argument("--profile", default="tubenet-pts9")
    tubes.add_argument("--host", default="127.0.0.1")
    tubes.add_argument("--port", type=int, default=5021)
    tubes.add_argument("--rate", type=float, default=6.0, help="carriers per minute")
    tubes.add_argument("--seed", type=int, default=1)
    tubes.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second")
    tubes.set_defaults(run=lambda a: _run(_sim_tubes(a)))
    for family, profile, help_text, run in (
        ("robot", "medicart-mc2", "VDA 5050 delivery robots (MQTT)", _sim_robot),
        ("cabinet", "medvault-mv40", "smart medication cabinets (MQTT, vendor JSON)", _sim_cabinet),
    ):
        family_parser = sim.add_parser(family, help=help_text)
        family_parser.add_argument("--profile", default=profile)
        family_parser.add_argument("--broker", default="mqtt://127.0.0.1:1883", help="the devices' MQTT broker")
        family_parser.add_argument("--count", type=int, default=2)
        family_parser.add_argument("--seed", type=int, default=1)
        family_parser.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second")
        family_parser.set_defaults(run=lambda a, run=run: _run(run(a)))
    hospital = sim.add_parser("hospital", help="every family from a scenario file, with traffic and faults")
    hospital.add_argument("--scenario", default="busy-day", help="name in simulators/days/ or a path")
    hospital.add_argument("--broker", default="mqtt://127.0.0.1:1883")
    hospital.add_argument("--edge", default="hospital-edge", help="edge id the site file names")
    hospital.add_argument("--topic-root", default="wardlink")
    hospital.add_argument("--site-out", default="hospital-site.yaml", help="where to write the edge's site file")
    hospital.add_argument(
        "--simulator", default="hospital", help="its name for simulation control (the gateway's /api/v1/simulation)"
    )
    hospital.set_defaults(run=lambda a: _run(_sim_hospital(a)))

    profiles = sub.add_parser("profiles", help="device profiles").add_subparsers(dest="action", required=True)
    validate = profiles.add_parser("validate", help="validate profile and site files; non-zero exit on problems")
    validate.add_argument("paths", nargs="*", help="files or folders (default: the packaged profiles and sites)")
    validate.set_defaults(run=_profiles_validate)
    reference = profiles.add_parser("reference", help="every profile's register or topic map as markdown tables")
    reference.add_argument("--update", metavar="FILE", help="replace the generated part of FILE (docs/devices.md)")
    reference.set_defaults(run=_profiles_reference)

    add_security_parser(sub)
    add_audit_parser(sub)
    add_rules_parser(sub)
    add_reference_parser(sub)
    add_users_parser(sub)

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
