"""`wardlink users create|list|token`, run as an operator would, against the test's own database."""

import httpx
import pytest
import sqlalchemy as sa

from gateway.auth.accounts import check_password, update_user
from gateway.auth.tables import users
from gateway.composition.stores import Stores
from gateway.service import Gateway
from gateway.settings import GatewaySettings
from tests.cli import cli_env, wardlink
from wardlink.demo_accounts import demo_accounts, describe


@pytest.fixture
def env(gateway_settings: GatewaySettings) -> dict[str, str]:
    return cli_env(gateway_settings)


async def test_the_first_admin_gets_a_generated_password_printed_once_and_can_log_in(
    env: dict[str, str], gateway_settings: GatewaySettings
) -> None:
    code, out, err = await wardlink(env, "users", "create", "admin", "--role", "admin")

    assert (code, err) == (0, "")
    assert "created admin user admin (all wards)" in out
    password = next(line.removeprefix("password: ") for line in out.splitlines() if line.startswith("password: "))
    async with Gateway(gateway_settings) as gateway, httpx.AsyncClient(base_url=gateway.api_url) as client:
        login = await client.post("/api/v1/auth/login", json={"username": "admin", "password": password})
    assert login.json() == {"name": "admin", "role": "admin", "wards": []}


async def test_a_password_from_stdin_and_wards_are_stored_and_the_password_is_not_echoed(
    env: dict[str, str], store: Stores
) -> None:
    code, out, err = await wardlink(
        env,
        "users",
        "create",
        "rn-3a",
        "--role",
        "lab",
        "--ward",
        "ward-3a",
        "--password-stdin",
        stdin="s3cret-pass-word\n",
    )

    assert (code, err) == (0, "")
    assert "s3cret-pass-word" not in out
    assert "created lab user rn-3a (ward-3a)" in out
    user = await check_password(store.db, "rn-3a", "s3cret-pass-word")
    assert user is not None
    assert user.wards == ("ward-3a",)


async def test_bad_input_is_refused_with_the_reason_and_nothing_is_stored(env: dict[str, str], store: Stores) -> None:
    short = await wardlink(env, "users", "create", "rn-1", "--role", "lab", "--password-stdin", stdin="short\n")
    bad_name = await wardlink(env, "users", "create", "Dr Jane Doe", "--role", "lab")
    await wardlink(env, "users", "create", "rn-2", "--role", "lab")
    taken = await wardlink(env, "users", "create", "rn-2", "--role", "pharmacy")

    assert short[0] == 1
    assert "12 to 256 characters" in short[2]
    assert bad_name[0] == 1
    assert "use 1 to 64 letters" in bad_name[2]
    assert taken[0] == 1
    assert "exists already" in taken[2]
    async with store.db.engine.connect() as connection:
        names = [tuple(row) for row in await connection.execute(sa.select(users.c.name, users.c.role))]
    assert names == [("rn-2", "lab")]


async def test_list_shows_roles_and_wards(env: dict[str, str]) -> None:
    assert (await wardlink(env, "users", "list"))[1].startswith("no users yet")
    await wardlink(env, "users", "create", "eng-1", "--role", "engineer")
    await wardlink(env, "users", "create", "rx-3a", "--role", "pharmacy", "--ward", "ward-3a", "--ward", "icu")

    code, out, _ = await wardlink(env, "users", "list")

    assert code == 0
    assert out.splitlines() == [
        "eng-1  engineer  all wards",
        "rx-3a  pharmacy  ward-3a, icu",
        "2 user(s)",
    ]


async def test_a_token_secret_is_printed_once_and_posts_integration_events(
    env: dict[str, str], gateway_settings: GatewaySettings
) -> None:
    code, out, err = await wardlink(env, "users", "token", "lab-system", "--role", "integration")

    assert code == 0
    secret = out.strip()
    assert secret.startswith("wlt_")
    assert "shown once" in err
    report = {
        "site": "general-hospital",
        "source": "lis",
        "events": [
            {
                "type": "specimen.collected",
                "subject_id": "S-cli-1",
                "occurred_at": "2026-11-23T08:00:00Z",
                "data": {"category": "cbc", "ward": "ward-3a"},
            }
        ],
    }
    async with Gateway(gateway_settings) as gateway, httpx.AsyncClient(base_url=gateway.api_url) as client:
        posted = await client.post(
            "/api/v1/integrations/events", json=report, headers={"Authorization": f"Bearer {secret}"}
        )
        refused = await client.get("/api/v1/specimens", headers={"Authorization": f"Bearer {secret}"})
    assert posted.status_code == 200
    assert posted.json()["stored"] == 1
    assert refused.status_code == 403


async def test_the_demo_accounts_get_new_passwords_on_every_run(store: Stores) -> None:
    first = await demo_accounts(store.db)
    await update_user(store.db, "lab-3a", wards=[], disabled=True)

    second = await demo_accounts(store.db)

    assert [(a.name, a.role, a.wards) for a in second] == [
        ("admin", "admin", ()),
        ("engineer", "engineer", ()),
        ("pharmacy", "pharmacy", ()),
        ("lab", "lab", ()),
        ("lab-3a", "lab", ("ward-3a",)),
    ]
    assert all(old.password != new.password for old, new in zip(first, second, strict=True))
    restored = await check_password(store.db, "lab-3a", second[-1].password)
    assert restored is not None
    assert (restored.disabled, restored.wards) == (False, ("ward-3a",))
    assert await check_password(store.db, "lab-3a", first[-1].password) is None
    printed = describe(second, "http://127.0.0.1:8080/")
    assert "http://127.0.0.1:8080/" in printed
    assert f"lab-3a    {second[-1].password}   lab  (only ward-3a)" in printed
