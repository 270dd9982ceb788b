"""The access audit trail: who did what to which object, when, from where, and with what outcome.

Kept in `access_audit`, apart from device events and the custody log. Recorded: logins (and failed ones),
views of a specimen's custody, alert acknowledgements, manual custody entries and configuration changes
(rules, users, service tokens). Admins page through it and export it as CSV.
"""

import csv
import io
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import sqlalchemy as sa

from gateway.auth.accounts import HasEngine, engine_of
from gateway.auth.principal import Principal
from gateway.auth.tables import access_audit
from gateway.storage.keyset import Keyset, SortKey
from gateway.storage.keyset_page import Page, PageRequest, keyset_page

Outcome = Literal["ok", "failed", "denied", "throttled"]
CSV_COLUMNS = (
    "id",
    "at",
    "actor",
    "actor_kind",
    "role",
    "action",
    "target",
    "outcome",
    "client",
    "user_agent",
    "detail",
)


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a request came from."""

    client: str | None
    user_agent: str | None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str | None
    actor_kind: str | None
    role: str | None
    action: str
    target: str | None
    outcome: str
    client: str | None
    user_agent: str | None
    detail: str | None


@dataclass(frozen=True, slots=True)
class AuditFilter:
    actor: str | None = None
    action: str | None = None
    """An exact action, or a prefix ending in '.' (`user.` for every user management action)."""
    target: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _clip(value: str | None, size: int) -> str | None:
    return value[:size] if value is not None else None


async def record(
    store: HasEngine,
    *,
    action: str,
    outcome: Outcome = "ok",
    principal: Principal | None = None,
    actor: str | None = None,
    target: str | None = None,
    origin: Origin | None = None,
    detail: str | None = None,
) -> None:
    """Append one entry; `actor` names the caller when there is no principal (a failed login's user name)."""
    async with engine_of(store).begin() as connection:
        await connection.execute(
            access_audit.insert().values(
                at=datetime.now(UTC),
                actor=_clip(principal.name if principal is not None else actor, 64),
                actor_kind=principal.kind if principal is not None else None,
                role=principal.role if principal is not None else None,
                action=action,
                target=_clip(target, 200),
                outcome=outcome,
                client=_clip(origin.client if origin else None, 64),
                user_agent=_clip(origin.user_agent if origin else None, 200),
                detail=_clip(detail, 500),
            )
        )


async def last_logins(store: HasEngine, names: Sequence[str]) -> dict[str, datetime]:
    """When each of `names` last logged in (their newest `ok` login here); a name with none is left out."""
    if not names:
        return {}
    c = access_audit.c
    query = (
        sa.select(c.actor, sa.func.max(c.at))
        .where(c.action == "login", c.outcome == "ok", c.actor.in_(list(names)))
        .group_by(c.actor)
    )
    async with engine_of(store).connect() as connection:
        return {actor: at for actor, at in await connection.execute(query)}


def _where(where: AuditFilter) -> list[sa.ColumnElement[bool]]:
    c = access_audit.c
    clauses: list[sa.ColumnElement[bool]] = []
    if where.actor is not None:
        clauses.append(c.actor == where.actor)
    if where.action is not None:
        if where.action.endswith("."):
            clauses.append(c.action.startswith(where.action, autoescape=True))
        else:
            clauses.append(c.action == where.action)
    if where.target is not None:
        clauses.append(c.target == where.target)
    if where.outcome is not None:
        clauses.append(c.outcome == where.outcome)
    if where.since is not None:
        clauses.append(c.at >= where.since)
    if where.until is not None:
        clauses.append(c.at < where.until)
    return clauses


def _entry(row: Any) -> AuditEntry:
    return AuditEntry(**{name: getattr(row, name) for name in CSV_COLUMNS})


NEWEST = Keyset("audit.newest", (SortKey(access_audit.c.id, "int", descending=True),))
"""The newest first (ids grow with time)."""


async def page(store: HasEngine, where: AuditFilter, *, limit: int, offset: int) -> tuple[list[AuditEntry], int]:
    """One page of entries, newest first, and how many match (`listing` without cursors, counted exactly)."""
    found = await listing(store, where, PageRequest(limit, offset, exact_total=True))
    return found.rows, found.total.value


async def listing(store: HasEngine, where: AuditFilter, request: PageRequest) -> Page[AuditEntry]:
    """One page of entries by keyset, newest first, its next cursor, and the total (`storage/totals.py`)."""
    async with engine_of(store).connect() as connection:
        return await keyset_page(
            connection,
            sa.select(access_audit),
            table=access_audit,
            clauses=_where(where),
            keyset=NEWEST,
            scope=repr(where),
            request=request,
            row=_entry,
        )


async def export_csv(store: HasEngine, where: AuditFilter, *, chunk: int = 1000) -> AsyncIterator[str]:
    """Every matching entry as CSV (header first), oldest first, a chunk of rows at a time."""
    clauses = _where(where)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    yield buffer.getvalue()
    after = 0
    while True:
        async with engine_of(store).connect() as connection:
            rows = list(
                await connection.execute(
                    sa.select(access_audit)
                    .where(*clauses, access_audit.c.id > after)
                    .order_by(access_audit.c.id)
                    .limit(chunk)
                )
            )
        if not rows:
            return
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        for row in rows:
            entry = _entry(row)
            writer.writerow(
                [entry.at.isoformat() if name == "at" else _csv_safe(getattr(entry, name)) for name in CSV_COLUMNS]
            )
        yield buffer.getvalue()
        after = rows[-1].id


def _csv_safe(value: object) -> object:
    """Text that a spreadsheet would run as a formula ('=', '+', '-', '@') gets a leading quote."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
