"""Passwords follow NIST SP 800-63B: long enough, no control characters, not blank, not the user name, not on the
shipped list of common and breached passwords, compared in Unicode NFKC; refused with a reason (422 over the API,
exit 1 from the CLI), accepted everywhere a password is set.
"""

import pytest

from gateway.auth.accounts import check_password, create_user, get_user
from gateway.auth.password_rules import WeakPasswordError, check_password_rules, common_passwords
from gateway.composition.stores import Stores
from gateway.service import Gateway
from gateway.settings import GatewaySettings
from tests.auth import authorised
from tests.cli import cli_env, wardlink


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("            ", "only spaces"),
        ("aaaaaaaaaaaa", "repeated"),
        ("abcabcabcabc", "repeated"),
        ("1234567890123", "run"),
        ("qwertyuiopasdf", "run"),
        ("rn-3a-rn-3a-rn-3a", "user name"),
        ("my-RN-3A-password", "user name"),
        ("abc\x00defghijklmn", "control characters"),
        ("tab\tseparated-words", "control characters"),
        ("passwordpassword", "repeated"),
        ("Password-2024!", "common and breached"),
        ("Password2024!!", "common and breached"),
        ("1qaz2wsx3edc", "common and breached"),
        ("short-one", "12 to 256"),
        ("x" * 257, "12 to 256"),
    ],
)
def test_a_weak_password_is_refused_with_the_rule_it_breaks(password: str, reason: str) -> None:
    with pytest.raises(WeakPasswordError, match=reason):
        check_password_rules(password, username="rn-3a")


def test_a_long_password_of_unrelated_words_is_accepted_in_its_nfkc_form() -> None:
    assert check_password_rules("correct horse battery staple", username="rn-3a") == "correct horse battery staple"
    fullwidth = "\uff23\uff2f\uff32\uff32\uff25\uff23\uff34 horse battery"
    assert check_password_rules(fullwidth, username="rn-3a") == "CORRECT horse battery"


def test_the_common_password_list_ships_with_the_project() -> None:
    shipped = common_passwords()
    assert len(shipped) >= 10_000
    assert {"password", "123456", "qwerty", "1qaz2wsx3edc"} <= shipped


async def test_a_password_set_in_one_unicode_form_logs_in_with_another(store: Stores) -> None:
    composed, decomposed = "caf\u00e9-au-lait-ward-rounds", "cafe\u0301-au-lait-ward-rounds"
    await create_user(store.db, name="bms-nfkc", password=composed, role="lab")

    assert await check_password(store.db, "bms-nfkc", decomposed) is not None
    assert await check_password(store.db, "bms-nfkc", "cafe-au-lait-ward-rounds") is None


async def test_the_api_refuses_weak_passwords_on_creation_and_reset_with_a_422_naming_the_rule(
    gateway: Gateway,
) -> None:
    async with authorised(gateway, "admin") as admin:
        spaces = await admin.post("/api/v1/users", json={"name": "rn-7", "password": " " * 12, "role": "lab"})
        own_name = await admin.post("/api/v1/users", json={"name": "rn-7", "password": "rn-7-rn-7-rn-7", "role": "lab"})
        nul = await admin.post("/api/v1/users", json={"name": "rn-7", "password": "twelve\x00chars!", "role": "lab"})
        listed = (await admin.get("/api/v1/users")).json()
        good = {"name": "rn-7", "password": "ward rounds at dawn", "role": "lab"}
        made = await admin.post("/api/v1/users", json=good)
        reset = await admin.put("/api/v1/users/rn-7/password", json={"password": "aaaaaaaaaaaa"})
        common = await admin.put("/api/v1/users/rn-7/password", json={"password": "qwerty123456"})
        login = await admin.post("/api/v1/auth/login", json={"username": "rn-7", "password": "ward rounds at dawn"})

    assert [r.status_code for r in (spaces, own_name, nul, reset, common)] == [422] * 5
    assert "only spaces" in spaces.json()["detail"]
    assert "user name" in own_name.json()["detail"]
    assert "control characters" in nul.json()["detail"]
    assert "repeated" in reset.json()["detail"]
    assert "common and breached" in common.json()["detail"]
    assert spaces.headers["content-type"].startswith("application/problem+json")
    assert "rn-7" not in [u["name"] for u in listed["data"]]  # nothing stored
    assert made.status_code == 201
    assert login.status_code == 200  # the refused resets changed nothing


async def test_the_cli_refuses_a_weak_password_from_stdin(gateway_settings: GatewaySettings, store: Stores) -> None:
    env = cli_env(gateway_settings)
    code, _, err = await wardlink(
        env, "users", "create", "rn-8", "--role", "lab", "--password-stdin", stdin="rn-8 password 1\n"
    )
    common = await wardlink(env, "users", "create", "rn-8", "--role", "lab", "--password-stdin", stdin="1qaz2wsx3edc\n")

    assert code == 1
    assert "user name" in err
    assert common[0] == 1
    assert "common and breached" in common[2]
    assert await get_user(store.db, "rn-8") is None  # nothing stored
