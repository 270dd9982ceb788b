"""The API docs work on a hospital network with no internet: a real browser that may reach only the gateway.

Chromium (Playwright) aborts every request that leaves the loopback interface; /docs still lists the API's
operations and /redoc its sections, and the gateway's Content-Security-Policy blocks nothing on either page.
"""

from urllib.parse import urlsplit

from playwright.async_api import BrowserContext, Page, Route, expect

from gateway.service import Gateway
from tests import browser_rig as rig

infra, gateway, browser, context = rig.infra, rig.gateway, rig.browser, rig.context

LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


async def _offline_page(context: BrowserContext) -> tuple[Page, list[str], list[str]]:
    """A page whose requests beyond loopback are aborted; lists of what was blocked and of console errors."""
    blocked: list[str] = []
    errors: list[str] = []

    async def only_loopback(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).scheme in ("http", "https", "ws", "wss") and urlsplit(url).hostname not in LOOPBACK:
            blocked.append(url)
            await route.abort("internetdisconnected")
        else:
            await route.continue_()

    await context.route("**/*", only_loopback)
    page = await context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return page, blocked, errors


async def test_swagger_ui_lists_the_operations_with_no_internet(gateway: Gateway, context: BrowserContext) -> None:
    page, blocked, errors = await _offline_page(context)
    await page.goto("/docs")
    operations = page.locator(".opblock")
    await expect(operations.first).to_be_visible(timeout=rig.LIVE_S)
    await expect(page.locator(".opblock-summary-path", has_text="/api/v1/specimens").first).to_be_visible()
    assert await operations.count() > 50
    await rig.screenshot(page, "api-docs-offline")
    assert blocked == []
    assert [e for e in errors if "Content Security Policy" in e] == []


async def test_redoc_shows_the_api_with_no_internet(gateway: Gateway, context: BrowserContext) -> None:
    page, blocked, errors = await _offline_page(context)
    await page.goto("/redoc")
    await expect(page.locator("h1", has_text="wardlink gateway")).to_be_visible(timeout=rig.LIVE_S)
    assert await page.locator('[data-section-id^="operation/"]').count() > 50
    await rig.screenshot(page, "api-redoc-offline")
    assert blocked == []
    # ReDoc's only outside request is the Redocly logo in its menu: the policy stops it, ReDoc then hides the image.
    refused = [e for e in errors if "Content Security Policy" in e]
    assert all("https://cdn.redoc.ly/redoc/logo-mini.svg" in e for e in refused), refused
