"""What the dashboard's browser tests share: headless Debian chromium (Playwright), the embedded broker and database,
a gateway that runs its alert pass often, a logged-in page per role, and screenshots saved to tests/artifacts/.

A test module takes the fixtures by name: `infra, gateway, browser, context = rig.infra, rig.gateway, ...`.
"""

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from device_profiles.maps import MAPS_DIR
from gateway.service import Gateway
from gateway.settings import GatewaySettings
from tests.auth import new_user
from tests.infra import Infra, embedded_infra
from tests.paths import TESTS

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = TESTS / "artifacts"
LIVE_S = 10_000  # ms a page may take to show what was just published (it usually takes well under a second)


@pytest.fixture
async def infra(tmp_path: Path) -> AsyncIterator[Infra]:
    """The embedded broker and database only: a browser per test is the expensive part, not the services."""
    async with embedded_infra(tmp_path) as value:
        yield value


@pytest.fixture
async def gateway(gateway_settings: GatewaySettings) -> AsyncIterator[Gateway]:
    """A running gateway that knows the robots' map and runs its alert pass often."""
    settings = gateway_settings.model_copy(
        update={"ingest_batch_wait_ms": 5, "telemetry_batch_wait_ms": 5, "maps_dir": MAPS_DIR, "alerts_every_s": 0.3}
    )
    async with Gateway(settings) as running:
        yield running


def chromium_missing() -> str | None:
    if CHROMIUM.exists():
        return None
    return f"the dashboard's browser tests need Debian chromium at {CHROMIUM}: apt-get install chromium"


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Headless chromium; skipped (with the reason) where it is not installed, failed under CI=true."""
    if (reason := chromium_missing()) is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def context(browser: Browser, gateway: Gateway) -> AsyncIterator[BrowserContext]:
    opened = await browser.new_context(base_url=gateway.api_url, viewport={"width": 1280, "height": 900})
    try:
        yield opened
    finally:
        await opened.close()


async def logged_in_page(context: BrowserContext, gateway: Gateway, role: str, wards: tuple[str, ...] = ()) -> Page:
    """A page whose context holds the session of a new user of `role` (logged in through the API)."""
    name, password = await new_user(gateway, role, wards)
    response = await context.request.post("/api/v1/auth/login", data={"username": name, "password": password})
    assert response.ok, await response.text()
    return await context.new_page()


async def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)


TABLET = {"width": 820, "height": 1180}
"""A ward nurse's tablet (portrait)."""


async def no_horizontal_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than its viewport (0 when nothing is cut off)."""
    return int(await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth"))
