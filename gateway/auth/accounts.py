"""Users and service tokens: create, list, change, revoke; every secret stored only as a hash.

`create_user` and `create_token` are what the CLI, the demo and the tests call; the admin API calls the same.
"""

import asyncio
import functools
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.auth.passwords import hash_password, needs_rehash, rehash_password, verify_password
from gateway.auth.principal import Principal, Role, check_role, check_wards
from gateway.auth.secret import digest, new_token_secret
from gateway.auth.tables import service_tokens, sessions, users

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
"""A staff login; also a valid contract id, so that it can stand as the custodian of a manual custody entry."""


class HasEngine(Protocol):
    """A `Database`, or anything that holds the gateway's database engine."""

    engine: AsyncEngine


class AccountError(ValueError):
    """An account operation that cannot be done; the message says why and what to do."""


class UserExistsError(AccountError):
    pass


class UnknownUserError(AccountError):
    pass


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: Role
    wards: tuple[str, ...]
    disabled: bool
    created_at: datetime
    updated_at: datetime

    def principal(self) -> Principal:
        return Principal(name=self.name, kind="user", role=self.role, wards=self.wards)


@dataclass(frozen=True, slots=True)
class ServiceToken:
    id: str
    name: str
    role: Role
    wards: tuple[str, ...]
    created_by: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    def active(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


def engine_of(store: HasEngine) -> AsyncEngine:
    inner = getattr(store, "store", None)  # a Gateway holds its Store
    return (inner if inner is not None else store).engine


def check_name(name: str) -> str:
    """`name` when it is a valid account or token name, else an `AccountError` saying the rule."""
    if not re.fullmatch(NAME_PATTERN, name):
        raise AccountError(
            f"name {name!r}: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit "
            "(a staff login, never a patient's name)"
        )
    return name


def _user(row: Any) -> User:
    return User(
        name=row.name,
        role=check_role(row.role),
        wards=tuple(row.wards),
        disabled=row.disabled,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _token(row: Any) -> ServiceToken:
    return ServiceToken(
        id=row.id,
        name=row.name,
        role=check_role(row.role),
        wards=tuple(row.wards),
        created_by=row.created_by,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


# -- users ---------------------------------------------------------------------------------------------------------
async def create_user(
    store: HasEngine, *, name: str, password: str, role: str, wards: tuple[str, ...] | list[str] = ()
) -> User:
    """A new, enabled user; `UserExistsError` when the name is taken."""
    check_name(name)
    checked_role = check_role(role)
    checked_wards = check_wards(wards)
    # argon2 takes a while: not on the loop; `WeakPasswordError` when the rules refuse the password
    password_hash = await asyncio.to_thread(functools.partial(hash_password, password, username=name))
    now = datetime.now(UTC)
    row = {
        "name": name,
        "password_hash": password_hash,
        "role": checked_role,
        "wards": list(checked_wards),
        "disabled": False,
        "created_at": now,
        "updated_at": now,
    }
    try:
        async with engine_of(store).begin() as connection:
            await connection.execute(users.insert().values(**row))
    except IntegrityError:
        raise UserExistsError(f"user {name!r} exists already: pick another name or update that user") from None
    return User(name, checked_role, checked_wards, False, now, now)


async def get_user(store: HasEngine, name: str) -> User | None:
    async with engine_of(store).connect() as connection:
        row = (await connection.execute(sa.select(users).where(users.c.name == name))).first()
    return _user(row) if row is not None else None


async def list_users(store: HasEngine, *, limit: int = 500, offset: int = 0) -> tuple[list[User], int]:
    async with engine_of(store).connect() as connection:
        total = (await connection.execute(sa.select(sa.func.count()).select_from(users))).scalar_one()
        rows = await connection.execute(sa.select(users).order_by(users.c.name).limit(limit).offset(offset))
        return [_user(r) for r in rows], total


async def update_user(
    store: HasEngine,
    name: str,
    *,
    role: str | None = None,
    wards: tuple[str, ...] | list[str] | None = None,
    disabled: bool | None = None,
) -> User:
    """Change a user's role, wards or disabled flag; disabling (or a role change) ends their sessions."""
    values: dict[str, Any] = {"updated_at": datetime.now(UTC)}
    if role is not None:
        values["role"] = check_role(role)
    if wards is not None:
        values["wards"] = list(check_wards(wards))
    if disabled is not None:
        values["disabled"] = disabled
    async with engine_of(store).begin() as connection:
        result = await connection.execute(users.update().where(users.c.name == name).values(**values))
        if result.rowcount == 0:
            raise UnknownUserError(f"no user {name!r}: list the users to see the names")
        if disabled or role is not None:
            await connection.execute(sessions.delete().where(sessions.c.user_name == name))
    user = await get_user(store, name)
    assert user is not None
    return user


async def set_password(store: HasEngine, name: str, password: str) -> None:
    """A new password for `name`; every session of theirs ends. `WeakPasswordError` when the rules refuse it."""
    password_hash = await asyncio.to_thread(functools.partial(hash_password, password, username=name))
    async with engine_of(store).begin() as connection:
        result = await connection.execute(
            users.update().where(users.c.name == name).values(password_hash=password_hash, updated_at=datetime.now(UTC))
        )
        if result.rowcount == 0:
            raise UnknownUserError(f"no user {name!r}: list the users to see the names")
        await connection.execute(sessions.delete().where(sessions.c.user_name == name))


async def check_password(store: HasEngine, name: str, password: str) -> User | None:
    """The user when the password is theirs (disabled or not: the caller decides), else None.

    An unknown name costs one argon2 verification too. A hash made with older parameters is replaced.
    """
    row = None
    if re.fullmatch(NAME_PATTERN, name):  # no account has another name (and PostgreSQL refuses NUL in a query)
        async with engine_of(store).connect() as connection:
            row = (await connection.execute(sa.select(users).where(users.c.name == name))).first()
    # argon2 runs in a thread (it releases the GIL): a login must not stall ingest on the event loop.
    matches = await asyncio.to_thread(verify_password, row.password_hash if row is not None else None, password)
    if not matches or row is None:
        return None
    if needs_rehash(row.password_hash):
        rehashed = await asyncio.to_thread(rehash_password, password)
        async with engine_of(store).begin() as connection:
            await connection.execute(users.update().where(users.c.name == name).values(password_hash=rehashed))
    return _user(row)


# -- service tokens ------------------------------------------------------------------------------------------------
async def create_token(
    store: HasEngine,
    *,
    name: str,
    role: str,
    wards: tuple[str, ...] | list[str] = (),
    expires_in: timedelta | None = None,
    created_by: str | None = None,
) -> str:
    """A new service token; returns its secret, which is stored only as a hash and never shown again."""
    check_name(name)
    checked_role = check_role(role)
    checked_wards = check_wards(wards)
    if expires_in is not None and expires_in <= timedelta(0):
        raise AccountError("a token's lifetime must be positive")
    secret = new_token_secret()
    now = datetime.now(UTC)
    async with engine_of(store).begin() as connection:
        await connection.execute(
            service_tokens.insert().values(
                id=uuid.uuid4().hex,
                secret_hash=digest(secret),
                name=name,
                role=checked_role,
                wards=list(checked_wards),
                created_by=created_by,
                created_at=now,
                expires_at=now + expires_in if expires_in is not None else None,
                revoked_at=None,
                last_used_at=None,
            )
        )
    return secret


async def token_by_secret(store: HasEngine, secret: str) -> ServiceToken | None:
    """The token with this secret (revoked or not), e.g. to show or revoke the one just created; else None."""
    async with engine_of(store).connect() as connection:
        row = (
            await connection.execute(sa.select(service_tokens).where(service_tokens.c.secret_hash == digest(secret)))
        ).first()
    return _token(row) if row is not None else None


async def list_tokens(store: HasEngine, *, limit: int = 500, offset: int = 0) -> tuple[list[ServiceToken], int]:
    async with engine_of(store).connect() as connection:
        total = (await connection.execute(sa.select(sa.func.count()).select_from(service_tokens))).scalar_one()
        rows = await connection.execute(
            sa.select(service_tokens)
            .order_by(service_tokens.c.created_at.desc(), service_tokens.c.id)
            .limit(limit)
            .offset(offset)
        )
        return [_token(r) for r in rows], total


async def revoke_token(store: HasEngine, token: str) -> ServiceToken:
    """Revoke the token with id `token` (revoking twice keeps the first time)."""
    async with engine_of(store).begin() as connection:
        await connection.execute(
            service_tokens.update()
            .where(service_tokens.c.id == token, service_tokens.c.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC))
        )
        row = (await connection.execute(sa.select(service_tokens).where(service_tokens.c.id == token))).first()
    if row is None:
        raise AccountError(f"no service token {token!r}: list the tokens to see their ids")
    return _token(row)


async def token_principal(store: HasEngine, secret: str, now: datetime) -> Principal | None:
    """The caller a bearer secret stands for, when the token is known, not revoked and not expired."""
    async with engine_of(store).connect() as connection:
        row = (
            await connection.execute(sa.select(service_tokens).where(service_tokens.c.secret_hash == digest(secret)))
        ).first()
    if row is None:
        return None
    token = _token(row)
    if not token.active(now):
        return None
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        async with engine_of(store).begin() as connection:  # at most once a minute: no write per request
            await connection.execute(
                service_tokens.update().where(service_tokens.c.id == token.id).values(last_used_at=now)
            )
    return Principal(name=token.name, kind="token", role=token.role, wards=token.wards)
