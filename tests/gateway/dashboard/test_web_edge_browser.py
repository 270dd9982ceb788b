"""The dashboard's web edge in a real browser (Debian chromium via Playwright), against a running gateway.

Another origin is a real HTTP server on another port of 127.0.0.1 (the same site, as the issue found it): its page
tries to frame the lab view and to post a logout form, and the login page is handed `next` values that browsers
would read as that other host.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import BrowserContext, ConsoleMessage, Page, expect

from gateway.service import Gateway
from tests import browser_rig as rig
from tests.auth import new_user

# The browser tests' fixtures: embedded services, a gateway, headless chromium (failed, not skipped, under CI=true).
infra, gateway, browser, context = rig.infra, rig.gateway, rig.browser, rig.context
LIVE_S = rig.LIVE_S


class OtherOrigin:
    """A minimal HTTP server on a free loopback port answering every GET with `html` (and counting requests)."""

    def __init__(self) -> None:
        self.html = "<!doctype html><title>elsewhere</title><p id='elsewhere'>another site</p>"
        self.paths: list[str] = []
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            request = await reader.readuntil(b"\r\n\r\n")
            self.paths.append(request.split(b" ", 2)[1].decode())
            body = self.html.encode()
            head = (
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode() + body)
            await writer.drain()
        writer.close()

    async def __aenter__(self) -> "OtherOrigin":
        self._server = await asyncio.start_server(self._answer, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()


@pytest.fixture
async def other() -> AsyncIterator[OtherOrigin]:
    async with OtherOrigin() as server:
        yield server


async def _logged_in(context: BrowserContext, gateway: Gateway, role: str) -> None:
    name, password = await new_user(gateway, role)
    response = await context.request.post("/api/v1/auth/login", data={"username": name, "password": password})
    assert response.ok, await response.text()


def _csp_messages(page: Page) -> list[str]:
    """Console messages about the Content-Security-Policy (violations are reported there), collected as they come."""
    seen: list[str] = []

    def note(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "frame-ancestors" in message.text:
            seen.append(message.text)

    page.on("console", note)
    return seen


@pytest.mark.parametrize("via", ["/%09/", "/%0A/", "/%5C/", "%2F%2F", "/%0D/"])
async def test_after_login_next_never_leads_to_another_host(
    gateway: Gateway, context: BrowserContext, other: OtherOrigin, via: str
) -> None:
    name, password = await new_user(gateway, "lab")
    host = other.url.removeprefix("http://")
    page = await context.new_page()
    await page.goto(f"/login?next={via}{host}/x")
    await page.get_by_label("User name").fill(name)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Log in").click()
    await expect(page).to_have_url(f"{gateway.api_url}/lab")  # "/" then the lab user's home
    assert other.paths == []


async def test_after_login_a_path_on_the_gateway_is_followed(gateway: Gateway, context: BrowserContext) -> None:
    name, password = await new_user(gateway, "admin")
    page = await context.new_page()
    await page.goto("/login?next=%2Fengineering%3Fview%3Dedges%23top")
    await page.get_by_label("User name").fill(name)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Log in").click()
    await expect(page).to_have_url(f"{gateway.api_url}/engineering?view=edges#top")


async def test_another_origin_cannot_frame_the_lab_view(
    gateway: Gateway, context: BrowserContext, other: OtherOrigin
) -> None:
    await _logged_in(context, gateway, "lab")
    other.html = f"<!doctype html><title>framing</title><iframe id='lab' src='{gateway.api_url}/lab'></iframe>"
    page = await context.new_page()
    refused = _csp_messages(page)
    await page.goto(other.url)  # waits for the load event, the iframe's included
    framed = page.frame_locator("#lab")
    await expect(framed.locator("#board")).to_have_count(0)
    assert [frame.url for frame in page.frames if frame.url.startswith(gateway.api_url)] == []
    assert any("frame-ancestors 'none'" in text for text in refused), refused


@pytest.mark.parametrize(("role", "path"), [("lab", "/lab"), ("pharmacy", "/pharmacy"), ("engineer", "/engineering")])
async def test_the_dashboard_works_under_its_content_security_policy(
    gateway: Gateway, context: BrowserContext, role: str, path: str
) -> None:
    await _logged_in(context, gateway, role)
    page = await context.new_page()
    violations = _csp_messages(page)
    response = await page.goto(path)
    assert response is not None
    assert response.ok
    assert "default-src 'self'" in (await response.all_headers())["content-security-policy"]
    await expect(page.locator("#live")).to_have_text("live", timeout=LIVE_S)  # scripts ran, the stream connected
    await page.reload()
    await expect(page.locator("#live")).to_have_text("live", timeout=LIVE_S)
    assert violations == []


async def test_a_form_on_another_port_cannot_log_the_user_out(
    gateway: Gateway, context: BrowserContext, other: OtherOrigin
) -> None:
    await _logged_in(context, gateway, "lab")
    other.html = (
        "<!doctype html><title>forged</title>"
        f"<form id='forged' method='post' action='{gateway.api_url}/api/v1/auth/logout'>"
        "<button>win a prize</button></form>"
    )
    page = await context.new_page()
    await page.goto(other.url)
    async with page.expect_navigation():
        await page.get_by_role("button", name="win a prize").click()
    assert "refused" in (await page.content())
    me = await context.request.get("/api/v1/auth/me")
    assert me.status == 200, await me.text()

    # The dashboard's own logout button still logs out.
    page = await context.new_page()
    await page.goto("/lab")
    await page.get_by_role("button", name="Log out").click()
    await expect(page).to_have_url(f"{gateway.api_url}/login")
    assert (await context.request.get("/api/v1/auth/me")).status == 401
