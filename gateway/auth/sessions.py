"""Server-side login sessions: a random secret in the cookie, its SHA-256 in the database, idle and absolute expiry."""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from gateway.auth.accounts import HasEngine, User, engine_of
from gateway.auth.principal import Principal, check_role
from gateway.auth.secret import digest, new_secret
from gateway.auth.tables import sessions, users

SESSION_COOKIE = "wardlink_session"
_TOUCH_EVERY = timedelta(minutes=1)
"""`last_seen_at` is written at most this often, not on every request."""


async def start_session(store: HasEngine, user: User, *, absolute: timedelta) -> tuple[str, datetime]:
    """A new session for `user`: its secret (for the cookie) and when it ends at the latest."""
    secret = new_secret()
    now = datetime.now(UTC)
    expires_at = now + absolute
    async with engine_of(store).begin() as connection:
        await connection.execute(
            sessions.insert().values(
                secret_hash=digest(secret), user_name=user.name, created_at=now, last_seen_at=now, expires_at=expires_at
            )
        )
        # Expired sessions of everyone go when someone logs in: the table stays small without a sweeper task.
        await connection.execute(sessions.delete().where(sessions.c.expires_at <= now))
    return secret, expires_at


async def end_session(store: HasEngine, secret: str) -> None:
    async with engine_of(store).begin() as connection:
        await connection.execute(sessions.delete().where(sessions.c.secret_hash == digest(secret)))


async def session_principal(store: HasEngine, secret: str, now: datetime, *, idle: timedelta) -> Principal | None:
    """The user a session cookie stands for, when the session is live and the user enabled; else None."""
    key = digest(secret)
    statement = (
        sa.select(sessions.c.last_seen_at, sessions.c.expires_at, users.c.name, users.c.role, users.c.wards)
        .join(users, users.c.name == sessions.c.user_name)
        .where(sessions.c.secret_hash == key, users.c.disabled.is_(False))
    )
    async with engine_of(store).connect() as connection:
        row = (await connection.execute(statement)).first()
    if row is None:
        return None
    if row.expires_at <= now or row.last_seen_at + idle <= now:
        await end_session(store, secret)
        return None
    if now - row.last_seen_at >= _TOUCH_EVERY:
        async with engine_of(store).begin() as connection:
            await connection.execute(sessions.update().where(sessions.c.secret_hash == key).values(last_seen_at=now))
    return Principal(name=row.name, kind="user", role=check_role(row.role), wards=tuple(row.wards))
