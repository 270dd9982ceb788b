"""Every page of the dashboard, in each of its languages, on a ward nurse's tablet: nothing cut off, no message
missing from the page's catalogue, no template marker left, and the page in the language asked for.

The per-view tests check what each page does; this one walks them all as an admin (who may open every view), so a
page added later is covered without a test of its own: the paths come from the views the server declares.
"""

import re

import pytest
from playwright.async_api import Browser, ConsoleMessage, expect

from gateway.dashboard.access import VIEWS
from gateway.dashboard.i18n import LANGUAGES, translate
from gateway.service import Gateway
from tests import browser_rig as rig
from tests.auth import new_user
from tests.dashboard_rig import Delivery, Journey

infra, gateway, browser = rig.infra, rig.gateway, rig.browser
CJK = re.compile(r"[\u4e00-\u9fff]")
ADMIN_SCREENS = ("users", "tokens", "reference", "audit")


def pages() -> list[str]:
    paths = [view.path for view in VIEWS]
    paths += [f"/admin/{screen}" for screen in ADMIN_SCREENS]
    return [*paths, "/lab/specimens/S-EVERY1", "/pharmacy/deliveries/D-EVERY1"]


@pytest.mark.parametrize("language", LANGUAGES)
async def test_every_page_fits_a_tablet_and_every_message_is_in_the_language(
    gateway: Gateway, browser: Browser, language: str
) -> None:
    assert gateway.store is not None
    journey, delivery = Journey("S-EVERY1"), Delivery("D-EVERY1")
    await gateway.store.events.commit_batch(
        [journey.collected(), journey.dispatched(), delivery.created(), delivery.accepted()]
    )
    name, password = await new_user(gateway, "admin")
    context = await browser.new_context(
        base_url=gateway.api_url, viewport=rig.TABLET, extra_http_headers={"Accept-Language": language}
    )
    missing: list[str] = []
    loading = translate(language, "common.loading")

    def note(message: ConsoleMessage) -> None:
        if message.type in ("warning", "error") and "no message" in message.text:
            missing.append(message.text)

    try:
        response = await context.request.post("/api/v1/auth/login", data={"username": name, "password": password})
        assert response.ok, await response.text()
        page = await context.new_page()
        page.on("console", note)
        for path in pages():
            await page.goto(path)
            await expect(page.locator("main").get_by_text(loading, exact=True)).to_have_count(0, timeout=rig.LIVE_S)
            html = await page.content()
            assert "{{" not in html, path
            assert await page.locator("html").get_attribute("lang") == language, path
            heading = await page.locator("h1").first.text_content() or ""
            assert bool(CJK.search(heading)) == (language == "zh-CN"), (path, heading)
            assert await rig.no_horizontal_overflow(page) == 0, path
        await rig.screenshot(page, f"every-page-last-{language}")
    finally:
        await context.close()
    assert missing == []
