"""`wardlink audit verify`: check the custody log's hash chains in the gateway's database, one per site.

Exit status: 0 the log is intact, 1 it is not (each problem is printed), 2 the database cannot be read.
The database is the gateway's (`WARDLINK_DATABASE_URL`, `WARDLINK_DATABASE_SCHEMA`, `WARDLINK_DATA_DIR`).
"""

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.settings import GatewaySettings

INTACT, NOT_INTACT, UNREADABLE = 0, 1, 2


def add_audit_parser(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Register `wardlink audit ...` on the command line's subparsers."""
    audit = subparsers.add_parser("audit", help="custody evidence").add_subparsers(dest="action", required=True)
    verify_parser = audit.add_parser(
        "verify",
        help="check the custody log's hash chain of every site; exit 0 intact, 1 not intact, 2 database unreadable",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verify_parser.add_argument("--json", action="store_true", help="print the report as JSON")
    verify_parser.set_defaults(run=run_verify)


def run_verify(args: argparse.Namespace) -> int:
    """Verify the configured database's custody log, print the outcome, return the exit status."""
    from pydantic import ValidationError
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from gateway.settings import GatewaySettings

    try:
        settings = GatewaySettings()
        url = make_url(settings.resolved_database_url)
    except (ValidationError, ArgumentError) as exc:
        return _fail(f"the settings are not valid: {exc}")
    sqlite_file = url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
    if sqlite_file and not Path(str(url.database)).is_file():  # opening would create an empty, "intact" database
        return _fail(f"no database at {url.database}; set WARDLINK_DATABASE_URL or WARDLINK_DATA_DIR")
    return asyncio.run(verify(settings, as_json=args.json))


def _fail(message: str) -> int:
    print(f"wardlink audit verify: {message}", file=sys.stderr)
    return UNREADABLE


async def verify(settings: "GatewaySettings", *, as_json: bool = False) -> int:
    """Verify the custody log in `settings`' database, print the outcome, return the exit status."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from gateway.custody.verify import verify_custody_log
    from gateway.storage.engine import DatabaseConfigError, create_engine

    where = make_url(settings.resolved_database_url).render_as_string(hide_password=True)
    try:
        engine = create_engine(settings)
    except DatabaseConfigError as exc:
        return _fail(str(exc))
    try:
        async with engine.connect() as connection:
            report = await verify_custody_log(connection)
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return _fail(
            f"cannot read the custody log from {where}: {reason}; check WARDLINK_DATABASE_URL and "
            "WARDLINK_DATABASE_SCHEMA, and that the gateway has migrated this database"
        )
    finally:
        await engine.dispose()

    if as_json:
        body: dict[str, Any] = {
            "intact": report.intact,
            "records": report.records,
            "head_position": report.head_position,
            "head_hash": report.head_hash,
            "truncated": report.truncated,
            "chains": [
                {
                    "site": chain.site,
                    "intact": not chain.problems,
                    "records": chain.records,
                    "head_position": chain.head_position,
                    "head_hash": chain.head_hash,
                    "archived_up_to": chain.anchored_at,
                    "problems": chain.problems,
                }
                for chain in report.chains
            ],
            "problems": [
                {
                    "kind": p.kind,
                    "site": p.site,
                    "position": p.position,
                    "event_id": None if p.event_id is None else str(p.event_id),
                    "detail": p.detail,
                }
                for p in report.problems
            ],
        }
        print(json.dumps(body, indent=2))
    else:
        print(f"{where}: {report.summary()}")
        for chain in report.chains:
            print(f"  {chain.summary()}")
        for p in report.problems:
            at = f"position {p.position}" if p.position is not None else "no record"
            print(f"  {p.kind:<10} {at:<16} {p.detail}")
    return INTACT if report.intact else NOT_INTACT
