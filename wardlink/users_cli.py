"""`wardlink users create|list|token`: accounts and service tokens, in the database the gateway's settings name.

wardlink users create admin --role admin                      # a generated password, printed once
wardlink users create rn-3a --role lab --ward ward-3a --password-stdin < password.txt
wardlink users list
wardlink users token lab-system --role integration [--expires-days 90]   # the secret, printed once

Settings come from `WARDLINK_DATABASE_URL` / `WARDLINK_DATA_DIR` (as for `wardlink gateway`); migrations run first.
"""

import argparse
import asyncio
import secrets
import sys
from typing import Any

ROLES = ("lab", "pharmacy", "engineer", "admin", "integration")


def add_users_parser(sub: Any) -> None:
    """Register `users` and its subcommands on the top-level subparsers."""
    users = sub.add_parser("users", help="accounts and service tokens: create, list, token")
    actions = users.add_subparsers(dest="action", required=True)

    create = actions.add_parser("create", help="create a user; the password from stdin or generated and printed")
    create.add_argument("name", help="the login (a staff id, never a patient's name)")
    create.add_argument("--role", required=True, choices=ROLES[:-1])
    create.add_argument("--ward", action="append", default=[], help="limit the user to this ward (repeatable)")
    create.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    create.set_defaults(run=_create)

    listing = actions.add_parser("list", help="every user: name, role, wards, disabled")
    listing.set_defaults(run=_list)

    token = actions.add_parser("token", help="create a service token; its secret is printed once")
    token.add_argument("name", help="what uses it, e.g. lab-system")
    token.add_argument("--role", required=True, choices=ROLES)
    token.add_argument("--ward", action="append", default=[], help="limit the token to this ward (repeatable)")
    token.add_argument("--expires-days", type=float, default=None, help="lifetime in days (default: until revoked)")
    token.set_defaults(run=_token)


def generated_password() -> str:
    """A random password people can type: 4 groups of 5 characters without look-alikes."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(5)) for _ in range(4))


async def _open_database() -> Any:
    from gateway.settings import GatewaySettings
    from gateway.storage.database import Database

    return await Database.open(GatewaySettings())


def _create(args: argparse.Namespace) -> int:
    from gateway.auth.passwords import WeakPasswordError, check_password_rules

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        try:
            password = check_password_rules(password, username=args.name)
        except WeakPasswordError as exc:
            print(f"password from stdin: {exc}", file=sys.stderr)
            return 1
    else:
        password = None
    return asyncio.run(_create_async(args.name, args.role, args.ward, password))


async def _create_async(name: str, role: str, wards: list[str], password: str | None) -> int:
    from gateway.auth.accounts import AccountError, create_user

    db = await _open_database()
    shown = password or generated_password()
    try:
        user = await create_user(db, name=name, password=shown, role=role, wards=wards)
    except (AccountError, ValueError) as exc:
        print(f"users create {name}: {exc}", file=sys.stderr)
        return 1
    finally:
        await db.close()
    scope = ", ".join(user.wards) if user.wards else "all wards"
    print(f"created {user.role} user {user.name} ({scope})")
    if password is None:
        print(f"password: {shown}")
        print("(shown once: pass it on securely; an admin can reset it with PUT /api/v1/users/{name}/password)")
    return 0


def _list(args: argparse.Namespace) -> int:
    return asyncio.run(_list_async())


async def _list_async() -> int:
    from gateway.auth.accounts import list_users

    db = await _open_database()
    try:
        found, total = await list_users(db, limit=10_000)
    finally:
        await db.close()
    if not found:
        print("no users yet: `wardlink users create NAME --role admin` makes the first admin")
        return 0
    width = max(len(u.name) for u in found)
    for user in found:
        state = "  disabled" if user.disabled else ""
        print(f"{user.name:<{width}}  {user.role:<8}  {', '.join(user.wards) or 'all wards'}{state}")
    print(f"{total} user(s)")
    return 0


def _token(args: argparse.Namespace) -> int:
    return asyncio.run(_token_async(args.name, args.role, args.ward, args.expires_days))


async def _token_async(name: str, role: str, wards: list[str], expires_days: float | None) -> int:
    from datetime import timedelta

    from gateway.auth.accounts import AccountError, create_token

    db = await _open_database()
    try:
        secret = await create_token(
            db,
            name=name,
            role=role,
            wards=wards,
            expires_in=timedelta(days=expires_days) if expires_days is not None else None,
            created_by="wardlink users token",
        )
    except (AccountError, ValueError) as exc:
        print(f"users token {name}: {exc}", file=sys.stderr)
        return 1
    finally:
        await db.close()
    print(secret)
    print(
        f"({role} token {name!r}: shown once; send it as 'Authorization: Bearer <token>')",
        file=sys.stderr,
    )
    return 0
