"""Accounts: login, logout and me; the session cookie; throttling; service tokens; disabled users; what is stored.

Every test runs a real gateway and talks to it over HTTP, on the embedded defaults and on the real services.
"""

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from gateway.auth.accounts import create_token, create_user, update_user
from gateway.auth.secret import digest
from gateway.auth.tables import service_tokens, sessions, users
from gateway.auth.throttle import LoginThrottle
from gateway.service import Gateway
from gateway.settings import GatewaySettings
from gateway.storage.database import Database
from tests.auth import bearer, new_user

PASSWORD = "correct horse battery staple"
LOGIN = "/api/v1/auth/login"
ME = "/api/v1/auth/me"


@pytest.fixture
async def client(gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    """A client with no credentials (it keeps the cookies it is given)."""
    async with httpx.AsyncClient(base_url=gateway.api_url, timeout=10) as anonymous:
        yield anonymous


def _db(gateway: Gateway) -> Database:
    assert gateway.store is not None
    return gateway.store.db


async def _login(client: httpx.AsyncClient, name: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post(LOGIN, json={"username": name, "password": password})


def _is_problem(response: httpx.Response, status: int) -> bool:
    return response.status_code == status and response.headers["content-type"] == "application/problem+json"


async def test_login_sets_a_strict_http_only_session_cookie_and_me_answers(
    gateway: Gateway, client: httpx.AsyncClient
) -> None:
    await create_user(_db(gateway), name="bms-1", password=PASSWORD, role="lab", wards=["ward-3a"])

    response = await _login(client, "bms-1")

    assert response.status_code == 200
    assert response.json() == {"name": "bms-1", "role": "lab", "wards": ["ward-3a"]}
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("wardlink_session=")
    flags = {part.strip().lower() for part in cookie.split(";")}
    assert {"httponly", "samesite=strict", "path=/"} <= flags
    assert "secure" not in flags  # plain http: a Secure cookie would never come back
    me = await client.get(ME)
    assert me.status_code == 200
    assert me.json() == {"name": "bms-1", "role": "lab", "wards": ["ward-3a"]}


async def test_the_cookie_is_secure_when_the_settings_say_so(gateway_settings: GatewaySettings) -> None:
    settings = gateway_settings.model_copy(update={"cookie_secure": True})
    async with Gateway(settings) as running, httpx.AsyncClient(base_url=running.api_url, timeout=10) as client:
        await create_user(_db(running), name="bms-2", password=PASSWORD, role="lab")
        response = await _login(client, "bms-2")
    assert response.status_code == 200
    assert "secure" in {part.strip().lower() for part in response.headers["set-cookie"].split(";")}


async def test_logout_ends_the_session_on_the_server(gateway: Gateway, client: httpx.AsyncClient) -> None:
    await create_user(_db(gateway), name="rx-1", password=PASSWORD, role="pharmacy")
    cookie = (await _login(client, "rx-1")).cookies["wardlink_session"]

    assert (await client.post("/api/v1/auth/logout")).status_code == 204

    # Replaying the old cookie by hand does not work: the session is gone, not just the browser's copy.
    client.cookies.set("wardlink_session", cookie)
    replay = await client.get(ME)
    assert _is_problem(replay, 401)
    assert "log in again" in replay.json()["detail"]


async def test_without_credentials_every_protected_route_says_401_and_how_to_log_in(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/v1/specimens")

    assert _is_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "/api/v1/auth/login" in response.json()["detail"]
    assert (await client.get("/healthz")).status_code in (200, 503)  # health stays public


async def test_a_wrong_role_gets_403_naming_the_roles_needed(gateway: Gateway, client: httpx.AsyncClient) -> None:
    headers = await bearer(gateway, "pharmacy")

    response = await client.get("/api/v1/specimens", headers=headers)

    assert _is_problem(response, 403)
    assert "lab" in response.json()["detail"]
    assert "admin" in response.json()["detail"]


async def test_wrong_password_and_unknown_user_get_the_same_answer(gateway: Gateway, client: httpx.AsyncClient) -> None:
    await create_user(_db(gateway), name="bms-3", password=PASSWORD, role="lab")

    wrong = await _login(client, "bms-3", "not the password at all")
    unknown = await _login(client, "nobody-here", PASSWORD)

    assert _is_problem(wrong, 401)
    assert _is_problem(unknown, 401)
    assert wrong.json()["detail"] == unknown.json()["detail"]
    assert "set-cookie" not in wrong.headers


async def test_five_failures_lock_that_name_from_that_address_with_retry_after(
    gateway: Gateway, client: httpx.AsyncClient
) -> None:
    await create_user(_db(gateway), name="bms-4", password=PASSWORD, role="lab")
    await create_user(_db(gateway), name="bms-5", password=PASSWORD, role="lab")
    for _ in range(5):
        assert (await _login(client, "bms-4", "guess-guess-guess")).status_code == 401

    locked = await _login(client, "bms-4")  # even the right password now

    assert _is_problem(locked, 429)
    assert 1 <= int(locked.headers["retry-after"]) <= 15 * 60
    assert (await _login(client, "bms-5")).status_code == 200  # another name is not affected


async def test_a_success_clears_the_failures(gateway: Gateway, client: httpx.AsyncClient) -> None:
    await create_user(_db(gateway), name="bms-6", password=PASSWORD, role="lab")
    for _ in range(4):
        await _login(client, "bms-6", "guess-guess-guess")
    assert (await _login(client, "bms-6")).status_code == 200
    for _ in range(4):
        assert (await _login(client, "bms-6", "guess-guess-guess")).status_code == 401
    assert (await _login(client, "bms-6")).status_code == 200


async def test_a_disabled_user_cannot_log_in_and_their_session_stops_working(
    gateway: Gateway, client: httpx.AsyncClient
) -> None:
    db = _db(gateway)
    await create_user(db, name="bms-7", password=PASSWORD, role="lab")
    assert (await _login(client, "bms-7")).status_code == 200

    await update_user(db, "bms-7", disabled=True)

    assert _is_problem(await client.get(ME), 401)
    refused = await _login(client, "bms-7")
    assert _is_problem(refused, 403)
    assert "disabled" in refused.json()["detail"]


async def test_a_role_change_applies_to_the_next_request(gateway: Gateway, client: httpx.AsyncClient) -> None:
    admin = await bearer(gateway, "admin")
    name, password = await new_user(gateway, "lab")
    await _login(client, name, password)
    assert (await client.get("/api/v1/specimens")).status_code == 200

    changed = await client.patch(f"/api/v1/users/{name}", json={"role": "pharmacy"}, headers=admin)

    assert changed.status_code == 200
    assert _is_problem(await client.get("/api/v1/specimens"), 401)  # the role change ended the session
    await _login(client, name, password)
    assert _is_problem(await client.get("/api/v1/specimens"), 403)
    assert (await client.get("/api/v1/deliveries")).status_code == 200


async def test_sessions_end_after_idle_time_and_after_their_absolute_lifetime(
    gateway: Gateway, client: httpx.AsyncClient
) -> None:
    db = _db(gateway)
    await create_user(db, name="bms-8", password=PASSWORD, role="lab")
    idle_cookie = (await _login(client, "bms-8")).cookies["wardlink_session"]
    old_cookie = (await _login(client, "bms-8")).cookies["wardlink_session"]
    client.cookies.clear()
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    async with db.engine.begin() as connection:  # 30 minutes idle by default: an hour ago is too long
        await connection.execute(
            sessions.update().where(sessions.c.secret_hash == digest(idle_cookie)).values(last_seen_at=long_ago)
        )
        await connection.execute(
            sessions.update().where(sessions.c.secret_hash == digest(old_cookie)).values(expires_at=long_ago)
        )

    for cookie in (idle_cookie, old_cookie):
        client.cookies.set("wardlink_session", cookie)
        assert _is_problem(await client.get(ME), 401)


async def test_service_token_secret_is_shown_once_works_and_stops_when_revoked(
    gateway: Gateway, client: httpx.AsyncClient
) -> None:
    admin = await bearer(gateway, "admin")

    created = await client.post(
        "/api/v1/tokens", json={"name": "lab-system", "role": "integration", "expires_in_days": 30}, headers=admin
    )

    assert created.status_code == 201
    token = created.json()
    secret = token["secret"]
    assert secret.startswith("wlt_")
    assert len(secret) > 40
    assert token["role"] == "integration"
    assert token["active"] is True
    assert token["expires_at"] is not None
    listed = await client.get("/api/v1/tokens", headers=admin)
    assert secret not in listed.text
    assert [t["name"] for t in listed.json()["data"] if t["id"] == token["id"]] == ["lab-system"]
    me = await client.get(ME, headers={"Authorization": f"Bearer {secret}"})
    assert me.json() == {"name": "lab-system", "role": "integration", "wards": []}
    # An integration token may post integration events and nothing else.
    assert _is_problem(await client.get("/api/v1/specimens", headers={"Authorization": f"Bearer {secret}"}), 403)

    revoked = await client.delete(f"/api/v1/tokens/{token['id']}", headers=admin)

    assert revoked.status_code == 200
    assert revoked.json()["active"] is False
    assert _is_problem(await client.get(ME, headers={"Authorization": f"Bearer {secret}"}), 401)


async def test_an_expired_or_made_up_token_is_refused(gateway: Gateway, client: httpx.AsyncClient) -> None:
    db = _db(gateway)
    secret = await create_token(db, name="script", role="engineer", expires_in=timedelta(days=1))
    async with db.engine.begin() as connection:
        await connection.execute(
            service_tokens.update()
            .where(service_tokens.c.secret_hash == digest(secret))
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )

    expired = await client.get(ME, headers={"Authorization": f"Bearer {secret}"})
    made_up = await client.get(ME, headers={"Authorization": "Bearer wlt_made-up"})
    basic = await client.get(ME, headers={"Authorization": "Basic YWRtaW46YWRtaW4="})

    assert _is_problem(expired, 401)
    assert _is_problem(made_up, 401)
    assert _is_problem(basic, 401)
    assert "revoked or expired" in expired.json()["detail"]


async def test_only_hashes_are_stored_argon2id_for_passwords_sha256_for_sessions_and_tokens(
    gateway: Gateway, client: httpx.AsyncClient
) -> None:
    db = _db(gateway)
    await create_user(db, name="bms-9", password=PASSWORD, role="lab")
    cookie = (await _login(client, "bms-9")).cookies["wardlink_session"]
    secret = await create_token(db, name="lis", role="integration")

    async with db.engine.connect() as connection:
        stored_hash = (await connection.execute(sa.select(users.c.password_hash))).scalar_one()
        session_keys = list((await connection.execute(sa.select(sessions.c.secret_hash))).scalars())
        token_keys = list((await connection.execute(sa.select(service_tokens.c.secret_hash))).scalars())

    assert stored_hash.startswith("$argon2id$")
    assert PASSWORD not in stored_hash
    assert session_keys == [digest(cookie)]
    assert token_keys == [digest(secret)]


async def test_a_hash_made_with_older_parameters_is_replaced_at_login(
    gateway: Gateway, client: httpx.AsyncClient
) -> None:
    db = _db(gateway)
    await create_user(db, name="bms-10", password=PASSWORD, role="lab")
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024).hash(PASSWORD)
    async with db.engine.begin() as connection:
        await connection.execute(users.update().values(password_hash=weak))

    assert (await _login(client, "bms-10")).status_code == 200

    async with db.engine.connect() as connection:
        rehashed = (await connection.execute(sa.select(users.c.password_hash))).scalar_one()
    assert rehashed != weak
    assert not PasswordHasher().check_needs_rehash(rehashed)
    assert (await _login(client, "bms-10")).status_code == 200


async def test_an_admin_resets_a_password_and_the_old_sessions_end(gateway: Gateway, client: httpx.AsyncClient) -> None:
    admin = await bearer(gateway, "admin")
    name, password = await new_user(gateway, "lab")
    await _login(client, name, password)

    reset = await client.put(f"/api/v1/users/{name}/password", json={"password": PASSWORD}, headers=admin)

    assert reset.status_code == 204
    assert _is_problem(await client.get(ME), 401)
    assert (await _login(client, name, password)).status_code == 401
    assert (await _login(client, name, PASSWORD)).status_code == 200


async def test_admins_create_list_and_update_users_without_ever_showing_a_hash(
    gateway: Gateway, client: httpx.AsyncClient
) -> None:
    admin = await bearer(gateway, "admin")

    created = await client.post(
        "/api/v1/users",
        json={"name": "rn-3a", "password": PASSWORD, "role": "lab", "wards": ["ward-3a"]},
        headers=admin,
    )
    again = await client.post(
        "/api/v1/users", json={"name": "rn-3a", "password": PASSWORD, "role": "lab"}, headers=admin
    )
    short = await client.post("/api/v1/users", json={"name": "x", "password": "short", "role": "lab"}, headers=admin)
    bad_role = await client.post(
        "/api/v1/users", json={"name": "y", "password": PASSWORD, "role": "root"}, headers=admin
    )
    listed = await client.get("/api/v1/users", headers=admin)

    assert created.status_code == 201
    assert created.json()["wards"] == ["ward-3a"]
    assert created.json()["disabled"] is False
    assert _is_problem(again, 409)
    assert _is_problem(short, 422)
    assert "password" in short.json()["detail"]
    assert _is_problem(bad_role, 422)
    assert "role" in bad_role.json()["detail"]
    assert [u["name"] for u in listed.json()["data"]] == ["rn-3a"]
    assert "argon2" not in listed.text
    assert "password" not in listed.text
    missing = await client.patch("/api/v1/users/nobody", json={"disabled": True}, headers=admin)
    assert _is_problem(missing, 404)


async def test_secrets_never_reach_the_logs(
    gateway: Gateway, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    admin = await bearer(gateway, "admin")
    await create_user(_db(gateway), name="bms-11", password=PASSWORD, role="lab")

    cookie = (await _login(client, "bms-11")).cookies["wardlink_session"]
    await _login(client, "bms-11", "a wrong password given")
    token = (await client.post("/api/v1/tokens", json={"name": "lis", "role": "integration"}, headers=admin)).json()
    await client.get(ME, headers={"Authorization": f"Bearer {token['secret']}"})

    # Everything the gateway's process logged (the test's own HTTP client, httpx/httpcore, is the caller's side).
    logged = "\n".join(
        f"{r.name} {r.getMessage()} {r.args!r}" for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))
    )
    assert "login failed: user name bms-11 from" in logged  # the capture does see the gateway's log
    for secret in (PASSWORD, "a wrong password given", cookie, token["secret"], admin["Authorization"][7:]):
        assert secret not in logged


async def test_an_admin_cannot_disable_or_demote_their_own_account(gateway: Gateway, client: httpx.AsyncClient) -> None:
    name, password = await new_user(gateway, "admin")
    await _login(client, name, password)

    demote = await client.patch(f"/api/v1/users/{name}", json={"role": "lab"})
    disable = await client.patch(f"/api/v1/users/{name}", json={"disabled": True})

    assert _is_problem(demote, 409)
    assert _is_problem(disable, 409)
    assert (await client.get(ME)).json()["role"] == "admin"


def test_the_throttle_counts_per_name_and_address_and_forgets_failures_older_than_the_window() -> None:
    now = [0.0]
    throttle = LoginThrottle(max_failures=2, window_s=60, clock=lambda: now[0])
    throttle.failed("bms-12", "10.0.0.1")
    now[0] = 10
    throttle.failed("BMS-12", "10.0.0.1")  # names are compared case-insensitively

    assert throttle.retry_after("bms-12", "10.0.0.1") == 51
    assert throttle.retry_after("bms-12", "10.0.0.2") is None
    now[0] = 60.5  # the first failure has left the window
    assert throttle.retry_after("bms-12", "10.0.0.1") is None
