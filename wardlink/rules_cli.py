"""`wardlink rules validate|export|import`: the tracking rules as versioned YAML, against the configured database.

wardlink rules validate my-rules.yaml                  # exit 1 naming the file, each field and the reason
wardlink rules export [--version N] > rules.yaml        # the rules in force (or version N)
wardlink rules import my-rules.yaml --by u123 --comment "ICU fridge alarm after 5 min"
"""

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any


def add_rules_parser(sub: Any) -> None:
    """Register `rules` and its subcommands on the top-level subparsers."""
    rules = sub.add_parser("rules", help="tracking rules: validate, export, import (versioned)")
    actions = rules.add_subparsers(dest="action", required=True)

    validate = actions.add_parser("validate", help="check a rules file; exit 1 naming file, field and reason")
    validate.add_argument("file", type=Path)
    validate.set_defaults(run=_validate)

    export = actions.add_parser("export", help="print the rules in force (or one version) as YAML")
    export.add_argument("--version", type=int, help="a stored version (0 = the shipped defaults)")
    export.set_defaults(run=_export)

    load = actions.add_parser("import", help="validate a rules file and store it as the next version, in force")
    load.add_argument("file", type=Path)
    load.add_argument("--by", required=True, help="who imports it (user or badge id)")
    load.add_argument("--comment", default="", help="why, for the version history")
    load.set_defaults(run=_import)


def _read(path: Path) -> Any:
    """The file's rules, or None after printing why they cannot be used."""
    from gateway.rules.store import RulesInvalidError, parse_rules

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        print(f"{path}: (file): {exc.strerror}", file=sys.stderr)
        return None
    try:
        media_type = "application/json" if path.suffix == ".json" else "application/yaml"
        return parse_rules(text, str(path), media_type=media_type)
    except RulesInvalidError as exc:
        for problem in exc.problems:
            print(f"{path}: {problem.field}: {problem.reason}", file=sys.stderr)
        print(f"{len(exc.problems)} problem(s) in {path}", file=sys.stderr)
        return None


def _validate(args: argparse.Namespace) -> int:
    rules = _read(args.file)
    if rules is None:
        return 1
    print(f"{args.file}: valid ({len(rules.turnaround.targets)} turnaround targets, {len(rules.cabinets)} cabinets)")
    return 0


def _export(args: argparse.Namespace) -> int:
    return asyncio.run(_export_async(args.version))


async def _export_async(version: int | None) -> int:
    from gateway.rules.store import load_rules_in_force, rules_at, rules_yaml

    db = await _open_database()
    try:
        wanted = version if version is not None else (await load_rules_in_force(db.engine)).version
        found = await rules_at(db.engine, wanted)
    finally:
        await db.close()
    if found is None:
        print(f"no rules version {wanted}; `wardlink rules export` prints the one in force", file=sys.stderr)
        return 1
    print(rules_yaml(*found), end="")
    return 0


def _import(args: argparse.Namespace) -> int:
    rules = _read(args.file)
    if rules is None:
        return 1
    return asyncio.run(_import_async(rules, args.by, args.comment))


async def _import_async(rules: Any, by: str, comment: str) -> int:
    from gateway.rules.store import import_rules
    from gateway.runtime.clock import utc_now
    from gateway.tracking.specimens.store import reproject_open

    db = await _open_database()
    try:
        stored = await import_rules(db.engine, rules, by=by, comment=comment, now=utc_now(), reproject=reproject_open)
    except ValueError as exc:
        print(f"not imported: {exc}", file=sys.stderr)
        return 1
    finally:
        await db.close()
    print(f"rules version {stored.version} imported by {by}; running gateways use it from their next alert pass")
    return 0


async def _open_database() -> Any:
    from gateway.settings import GatewaySettings
    from gateway.storage.database import Database

    return await Database.open(GatewaySettings())
