"""`wardlink reference import|show|versions|export`: names beside ids, versioned, against the configured database.

wardlink reference import locations.csv staff.csv formulary.json --by u123 --comment "new wards"
wardlink reference show                               # the version in force and how many of each kind
wardlink reference versions                           # every version, newest first
wardlink reference export --format csv --out ref/      # a CSV per kind (or --format fhir --out ref.json)
"""

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from wardlink.rules_cli import _open_database

FORMATS = ("csv", "fhir")


def add_reference_parser(sub: Any) -> None:
    """Register `reference` and its subcommands on the top-level subparsers."""
    reference = sub.add_parser("reference", help="reference data: names of places, staff, medications, devices")
    actions = reference.add_subparsers(dest="action", required=True)

    load = actions.add_parser(
        "import", help="import CSV files and FHIR Bundles as the next version; exit 1 naming each problem"
    )
    load.add_argument("files", type=Path, nargs="+", help="CSV (one kind per file) or FHIR R4 Bundle JSON files")
    load.add_argument("--by", default="cli", help="who imports them (user or badge id; default: cli)")
    load.add_argument("--comment", default="", help="why, for the version history")
    load.set_defaults(run=_import)

    show = actions.add_parser("show", help="the version in force: who imported it, when, and how many of each")
    show.set_defaults(run=lambda a: asyncio.run(_show()))

    versions = actions.add_parser("versions", help="every version, newest first")
    versions.set_defaults(run=lambda a: asyncio.run(_versions()))

    export = actions.add_parser("export", help="write the data in force (or a version) as CSV files or a Bundle")
    export.add_argument("--format", choices=FORMATS, default="csv", help="csv: a file per kind; fhir: a Bundle")
    export.add_argument("--out", type=Path, required=True, help="a folder for csv, a file for fhir")
    export.add_argument("--version", type=int, help="a stored version (default: the one in force)")
    export.set_defaults(run=_export)


def _import(args: argparse.Namespace) -> int:
    from gateway.reference.importer import Source

    sources = []
    for path in args.files:
        try:
            sources.append(Source(str(path), path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else f"not UTF-8 text ({exc.reason})"
            print(f"{path}: (file): {reason}", file=sys.stderr)
            return 1
    return asyncio.run(_import_async(sources, args.by, args.comment))


async def _import_async(sources: list[Any], by: str, comment: str) -> int:
    from gateway.reference.fhir_mapping import systems_from
    from gateway.reference.importer import import_sources
    from gateway.reference.problems import ReferenceImportError
    from gateway.reference.store import ReferenceStore
    from gateway.runtime.clock import utc_now
    from gateway.settings import GatewaySettings

    db = await _open_database()
    try:
        store = ReferenceStore(db)
        data = await import_sources(
            store, sources, by=by, comment=comment, now=utc_now(), systems=systems_from(GatewaySettings())
        )
    except ReferenceImportError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(exc, file=sys.stderr)
        return 1
    finally:
        await db.close()
    print(f"reference data version {data.version} imported by {by}: {_counts(data.counts())}")
    return 0


def _counts(counts: Any) -> str:
    return ", ".join(f"{n} {kind}" for kind, n in counts.items())


async def _show() -> int:
    from gateway.reference.store import ReferenceStore

    db = await _open_database()
    try:
        versions = await ReferenceStore(db).versions()
    finally:
        await db.close()
    if not versions:
        print("no reference data imported yet (version 0): screens show bare ids; see `wardlink reference import`")
        return 0
    v = versions[0]
    when = f"{v.imported_at:%Y-%m-%d %H:%M}"
    print(f"version {v.version} in force, imported {when} UTC by {v.imported_by} from {v.source}")
    print(f"  {_counts(v.counts)}")
    if v.comment:
        print(f"  {v.comment}")
    return 0


async def _versions() -> int:
    from gateway.reference.store import ReferenceStore

    db = await _open_database()
    try:
        versions = await ReferenceStore(db).versions()
    finally:
        await db.close()
    if not versions:
        print("no reference data imported yet (version 0)")
    for v in versions:
        note = f"  ({v.comment})" if v.comment else ""
        print(f"{v.version:>4}  {v.imported_at:%Y-%m-%d %H:%M}  {v.imported_by}  {v.source}: {_counts(v.counts)}{note}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from gateway.reference.export import to_bundle, write_csv

    data = asyncio.run(_read_version(args.version))
    if data is None:
        print(f"no reference data version {args.version}; `wardlink reference versions` lists them", file=sys.stderr)
        return 1
    out: Path = args.out
    if args.format == "csv":
        for path in write_csv(data, out):
            print(path)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(to_bundle(data), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(out)
    print(f"version {data.version}: {_counts(data.counts())}", file=sys.stderr)
    return 0


async def _read_version(version: int | None) -> Any:
    from gateway.reference.importer import latest
    from gateway.reference.store import ReferenceStore

    db = await _open_database()
    try:
        store = ReferenceStore(db)
        return await latest(store) if version is None else await store.at(version)
    finally:
        await db.close()
