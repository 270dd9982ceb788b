"""The administration pages over a real socket: only admins open them; everyone else is refused by the server.

What the screens do is covered in a browser (`test_admin_browser.py`); these cover what the server decides.
"""

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from gateway.service import Gateway
from tests.auth import authorised, logged_in

SCREENS = ("/admin", "/admin/users", "/admin/tokens", "/admin/reference", "/admin/audit")


@pytest.fixture
async def anonymous(gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=gateway.api_url, timeout=10) as client:
        yield client


@pytest.mark.parametrize("role", ["lab", "pharmacy", "engineer", "integration"])
async def test_every_other_role_is_refused_every_admin_screen(gateway: Gateway, role: str) -> None:
    async with logged_in(gateway, role) as client:
        for path in SCREENS:
            response = await client.get(path)
            assert response.status_code == 403, path
            assert "The Administration view needs the admin role" in response.text
            assert "/js/admin_" not in response.text  # no screen script reaches a refused caller
            assert 'href="/admin"' not in response.text  # and the menu does not offer it


async def test_a_service_token_gets_no_page_even_as_admin(gateway: Gateway) -> None:
    async with authorised(gateway, "admin") as client:  # a bearer token, no session cookie: pages are for people
        response = await client.get("/admin/users")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fadmin%2Fusers"


async def test_anonymous_callers_are_sent_to_the_login_page(anonymous: httpx.AsyncClient) -> None:
    for path in SCREENS:
        response = await anonymous.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"] == "/login?next=" + path.replace("/", "%2F")


@pytest.mark.parametrize("screen", ["users", "tokens", "reference", "audit"])
async def test_an_admin_opens_each_screen_with_its_script_and_its_tab_marked(gateway: Gateway, screen: str) -> None:
    async with logged_in(gateway, "admin") as client:
        response = await client.get(f"/admin/{screen}")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert re.search(rf'/static/[0-9a-f]+/js/admin_{screen}\.js"', response.text)
    assert f'href="/admin/{screen}" aria-current="page"' in response.text
    assert response.text.count('aria-current="page"') == 2  # the view in the header, the screen in the tabs
    assert '<a href="/admin" aria-current="page">Administration</a>' in response.text


async def test_admin_opens_on_the_users_screen_and_an_unknown_screen_is_not_found(gateway: Gateway) -> None:
    async with logged_in(gateway, "admin") as client:
        home = await client.get("/admin")
        unknown = await client.get("/admin/secrets")
    assert home.status_code == 200
    assert "/js/admin_users.js" in home.text
    assert unknown.status_code == 404
    assert "There is no administration screen secrets." in unknown.text


async def test_the_admin_screens_are_in_chinese_for_a_chinese_browser(gateway: Gateway) -> None:
    async with logged_in(gateway, "admin") as client:
        response = await client.get("/admin/tokens", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert response.status_code == 200
    assert '<html lang="zh-CN">' in response.text
    assert "服务令牌" in response.text
    assert "<title>系统管理 · 服务令牌 · wardlink</title>" in response.text
