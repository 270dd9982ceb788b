"""Alerts reach the person who acts on them, in a real browser (Debian chromium driven by Playwright): each role's
inbox, the header's count and clock on every page, a toast for a new critical alert, acknowledgement with a note,
the history view's filters, and focus kept across live refreshes. The gateway here keeps hospital time in
Asia/Shanghai, so every time on the pages is shown in that zone.
"""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import BrowserContext, Page, expect

from contract.telemetry import Reading, Telemetry
from device_profiles.maps import MAPS_DIR
from gateway.service import Gateway
from gateway.settings import GatewaySettings
from tests import browser_rig as rig
from tests.auth import bearer
from tests.dashboard_rig import EDGE, LIS, SITE, Events, Journey, publisher
from tests.gateway.dashboard.test_lab_browser import Tube
from tests.infra import Infra

infra, browser, context = rig.infra, rig.browser, rig.context

ZONE = "Asia/Shanghai"
CABINET = "cabinet-1"
"""The shipped rules put cabinet-1 on ward-3a, its fridge in bins F-01 to F-04."""


@pytest.fixture
async def gateway(gateway_settings: GatewaySettings) -> AsyncIterator[Gateway]:
    """The browser rig's gateway (its alert pass every 0.3 s), keeping hospital time in Asia/Shanghai."""
    settings = gateway_settings.model_copy(
        update={
            "ingest_batch_wait_ms": 5,
            "telemetry_batch_wait_ms": 5,
            "maps_dir": MAPS_DIR,
            "alerts_every_s": 0.3,
            "time_zone": ZONE,
        }
    )
    async with Gateway(settings) as running:
        yield running


def error_lane(barcode: str) -> list[object]:
    """A routine specimen from ward 3A that the sorter sent to its error lane: no order matches its barcode."""
    specimen = Events("specimen", barcode)
    return [
        specimen.event(
            "specimen.collected",
            0,
            edge=LIS,
            device="lis",
            priority="routine",
            category="troponin",
            ward="ward-3a",
            badge="rn-1001",
        ),
        specimen.event("specimen.rejected", 10, edge=EDGE, device="sorter-1", reason="unknown_order", lane=9),
    ]


def fridge(celsius: float, *minutes_ago: float) -> list[Telemetry]:
    now = datetime.now(UTC)
    return [
        Telemetry(
            site=SITE,
            edge=EDGE,
            device=CABINET,
            at=now - timedelta(minutes=m),
            readings=[Reading(metric="fridge_temperature", value=celsius, unit="°C")],
        )
        for m in minutes_ago
    ]


def devices_offline(*devices: str) -> list[object]:
    seqs: dict[str, int] = {}
    return [
        Events("device", d, seqs=seqs).event("device.offline", 5, edge=EDGE, device=d, reason="no Modbus reply")
        for d in devices
    ]


async def test_a_lab_user_sees_the_error_lane_alert_in_the_lab_inbox_and_the_header_count(
    infra: Infra, gateway: Gateway, context: BrowserContext
) -> None:
    page = await rig.logged_in_page(context, gateway, "lab")
    async with publisher(infra) as edge:
        await edge.send(*error_lane("S-ERR-1"))  # type: ignore[arg-type]
        await page.goto("/lab")
        alert = page.locator('#inbox li[data-kind="specimen.error_lane"]')
        await expect(alert).to_contain_text(
            "Specimen S-ERR-1 is in the error lane of sorter-1, lane 9: no order matches the barcode",
            timeout=rig.LIVE_S,
        )
        await expect(alert.locator(".severity")).to_have_text("Warning")  # the word beside the colour
        await expect(alert.locator(".about")).to_contain_text("ward-3a")
    count = page.locator("#alert-count")
    await expect(count).to_be_visible()
    await expect(count).to_have_attribute("href", "/alerts")
    await expect(count.locator(".n")).to_have_text("1")
    await expect(count.locator(".crit")).to_have_count(0)  # a warning: nothing critical to highlight
    await expect(count).not_to_contain_text("null")
    await rig.screenshot(page, "lab-inbox")


async def test_a_pharmacy_user_gets_a_toast_for_a_cold_chain_alert_and_acknowledges_it_with_a_note(
    gateway: Gateway, context: BrowserContext
) -> None:
    assert gateway.store is not None
    page = await rig.logged_in_page(context, gateway, "pharmacy")
    await page.goto("/pharmacy")
    await expect(page.locator("#inbox")).to_contain_text("No open alerts for you.", timeout=rig.LIVE_S)
    await expect(page.locator("#live")).to_have_text("live", timeout=rig.LIVE_S)

    await gateway.store.telemetry.commit(fridge(10.0, 15, 12, 8, 4, 0))  # warm for 15 minutes, while the page is open
    toast = page.locator("#toasts .toast.critical")
    await expect(toast).to_have_attribute("role", "alert", timeout=rig.LIVE_S)
    await expect(toast).to_contain_text("Critical: ")
    await expect(toast).to_contain_text("fridge outside 2–8 °C")  # noqa: RUF001 (a range takes an en dash)
    await expect(page.locator("#alert-count .crit")).to_have_text("1 critical")
    await rig.screenshot(page, "pharmacy-cold-chain-toast")
    await page.wait_for_timeout(500)
    await expect(toast).to_be_visible()  # a critical toast stays until dismissed
    await toast.get_by_role("button", name="Dismiss").click()
    await expect(toast).to_have_count(0)

    alert = page.locator('#inbox li[data-kind="cabinet.cold_chain"]')
    await expect(alert).to_contain_text("now 10.0 °C")
    await alert.get_by_role("button", name="Acknowledge").click()
    note = alert.get_by_label("Note (optional)")
    await expect(note).to_be_focused()
    await note.fill("moved the insulin to the pharmacy fridge")
    await alert.get_by_role("button", name="Acknowledge", exact=True).click()
    await expect(alert).to_have_attribute("data-state", "acknowledged", timeout=rig.LIVE_S)
    await expect(alert.locator(".note")).to_have_text("moved the insulin to the pharmacy fridge")
    await expect(alert).to_contain_text("Acknowledged by pharmacy-")
    await expect(page.locator("#alert-count .n")).to_have_text("0", timeout=rig.LIVE_S)
    await rig.screenshot(page, "pharmacy-inbox-acknowledged")


async def test_a_cold_chain_alert_that_cleared_unacknowledged_stays_listed_until_acknowledged(
    gateway: Gateway, context: BrowserContext
) -> None:
    assert gateway.store is not None
    page = await rig.logged_in_page(context, gateway, "pharmacy")
    await gateway.store.telemetry.commit(fridge(10.0, 15, 12, 8, 4))
    await page.goto("/pharmacy")
    alert = page.locator('#inbox li[data-kind="cabinet.cold_chain"]')
    await expect(alert).to_have_attribute("data-state", "raised", timeout=rig.LIVE_S)

    await gateway.store.telemetry.commit(fridge(5.0, 0))  # back in range before anyone acknowledged it
    await expect(alert).to_have_attribute("data-state", "owed", timeout=rig.LIVE_S)
    await expect(alert.locator(".badge.owed")).to_have_text("Cleared, not acknowledged")
    await rig.screenshot(page, "pharmacy-inbox-owed")
    await alert.get_by_role("button", name="Acknowledge").click()
    await alert.get_by_role("button", name="Acknowledge", exact=True).click()
    await expect(alert).to_have_count(0, timeout=rig.LIVE_S)


async def test_the_engineering_page_keeps_keyboard_focus_on_a_button_across_a_live_refresh(
    infra: Infra, gateway: Gateway, context: BrowserContext
) -> None:
    page = await rig.logged_in_page(context, gateway, "engineer")
    async with publisher(infra) as edge:
        await edge.send(*devices_offline("sorter-1"))  # type: ignore[arg-type]
        await page.goto("/engineering")
        first = page.locator("#inbox li[data-state]").filter(has_text="sorter-1")
        button = first.get_by_role("button", name="Acknowledge")
        await button.focus()
        await expect(button).to_be_focused(timeout=rig.LIVE_S)

        await edge.send(*devices_offline("tubes-1"))  # type: ignore[arg-type]  # a new alert: the inbox is redrawn
        await expect(page.locator("#inbox li[data-state]")).to_have_count(2, timeout=rig.LIVE_S)
        await expect(page.locator('tr[data-device="tubes-1"]')).to_have_attribute("data-state", "offline")
    await expect(button).to_be_focused()
    await page.keyboard.press("Enter")  # still the same control: it opens that alert's note form
    await expect(first.get_by_label("Note (optional)")).to_be_focused()
    await rig.screenshot(page, "engineering-focus-kept")
    await page.set_viewport_size(rig.TABLET)
    assert await rig.no_horizontal_overflow(page) == 0
    await rig.screenshot(page, "engineering-tablet")


async def test_the_header_clock_and_every_time_are_the_hospitals_in_its_zone(
    gateway: Gateway, context: BrowserContext
) -> None:
    page = await rig.logged_in_page(context, gateway, "lab")
    before = datetime.now(ZoneInfo(ZONE))
    await page.goto("/lab")
    await expect(page.locator("body")).to_have_attribute("data-tz", ZONE)
    face = page.locator("#hospital-clock time")
    await expect(face).not_to_have_text("--:--", timeout=rig.LIVE_S)
    after = datetime.now(ZoneInfo(ZONE))
    assert await face.text_content() in {before.strftime("%H:%M"), after.strftime("%H:%M")}
    await expect(page.locator("footer")).to_contain_text(f"Time zone: {ZONE}.")
    await page.set_viewport_size(rig.TABLET)
    await expect(page.locator("header.top")).to_be_visible()
    assert await rig.no_horizontal_overflow(page) == 0
    await rig.screenshot(page, "lab-tablet-header")


async def test_the_turnaround_chart_by_hour_reads_the_hour_in_the_hospitals_zone(
    gateway: Gateway, context: BrowserContext
) -> None:
    assert gateway.store is not None
    tube = Tube("S-HOUR1", 90, {}, priority="stat")
    await gateway.store.events.commit_batch([tube.collected(), tube.resulted(25)])
    local = tube.start.astimezone(ZoneInfo(ZONE)).replace(minute=0)  # the collection hour, as Shanghai reads it
    page = await rig.logged_in_page(context, gateway, "lab")
    await page.goto("/lab")
    hours = page.locator("#tat-hour details table")
    await expect(hours).to_contain_text(local.strftime("%H:%M"), timeout=rig.LIVE_S)
    await expect(page.locator("#tat-hour-title")).not_to_contain_text("UTC")


async def test_the_zh_cn_lab_page_says_the_alerts_in_chinese(
    infra: Infra, gateway: Gateway, context: BrowserContext
) -> None:
    await context.add_cookies([{"name": "wardlink_lang", "value": "zh-CN", "url": gateway.api_url}])
    page = await rig.logged_in_page(context, gateway, "lab")
    async with publisher(infra) as edge:
        await edge.send(*error_lane("S-ZH-1"))  # type: ignore[arg-type]
        await page.goto("/lab")
        alert = page.locator('#inbox li[data-kind="specimen.error_lane"]')
        await expect(alert).to_contain_text(
            "标本 S-ZH-1 进入 sorter-1 的异常通道（9 号通道）：条码没有对应的医嘱",  # noqa: RUF001 (Chinese punctuation)
            timeout=rig.LIVE_S,
        )
    await expect(alert.locator(".severity")).to_have_text("警告")
    await expect(alert.get_by_role("button", name="确认")).to_be_visible()
    await expect(page.locator("#alert-count .label")).to_have_text("警报")
    await expect(page.locator("footer")).to_contain_text(f"时区：{ZONE}。")  # noqa: RUF001 (Chinese punctuation)
    await rig.screenshot(page, "lab-inbox-zh-CN")


async def _acknowledge(page: Page, alert_id: str, note: str) -> None:
    response = await page.request.post(
        f"/api/v1/alerts/{alert_id}/acknowledge", data={"note": note}, headers={"Origin": page.url.split("/alerts")[0]}
    )
    assert response.ok, await response.text()


async def test_the_alert_history_filters_by_audience_severity_kind_and_state_and_pages_on(
    infra: Infra, gateway: Gateway, context: BrowserContext
) -> None:
    page = await rig.logged_in_page(context, gateway, "engineer")
    async with publisher(infra) as edge:
        await edge.send(*devices_offline("printer-1", "printer-2"), *error_lane("S-HIST-1"))  # type: ignore[arg-type]
        await page.goto("/alerts")
        rows = page.locator("#history tbody tr")
        await expect(rows).to_have_count(2, timeout=rig.LIVE_S)  # mine: the two devices, not the lab's specimen
    await expect(page.locator("#history")).not_to_contain_text("S-HIST-1")

    await page.get_by_label("Whose").select_option("all")
    await page.get_by_role("button", name="Show").click()
    await expect(rows).to_have_count(3, timeout=rig.LIVE_S)
    await expect(page).to_have_url(f"{gateway.api_url}/alerts?audience=all")
    await page.get_by_label("Kind").select_option(label="Specimen in the error lane")
    await page.get_by_role("button", name="Show").click()
    await expect(rows).to_have_count(1, timeout=rig.LIVE_S)
    await expect(rows).to_contain_text("Specimen S-HIST-1 is in the error lane")

    await page.get_by_label("Kind").select_option("")
    await page.get_by_label("Whose").select_option("mine")
    await page.get_by_label("Severity").select_option("warning")
    await page.get_by_role("button", name="Show").click()
    await expect(rows).to_have_count(2, timeout=rig.LIVE_S)
    printer = rows.filter(has_text="printer-1")
    await _acknowledge(page, str(await printer.get_attribute("data-alert")), "power-cycled it")
    await page.get_by_label("State").select_option("acknowledged")
    await page.get_by_role("button", name="Show").click()
    await expect(rows).to_have_count(1, timeout=rig.LIVE_S)
    await expect(rows).to_contain_text("Acknowledged by engineer-")
    await expect(rows.locator(".note")).to_have_text("power-cycled it")
    await rig.screenshot(page, "alert-history")

    # A time range typed in the hospital's zone (Asia/Shanghai, UTC+8), not the browser's or UTC.
    now, hour = datetime.now(ZoneInfo(ZONE)), timedelta(hours=1)
    await page.get_by_label("State").select_option("")
    await page.get_by_label("Raised from").fill((now + hour).strftime("%Y-%m-%dT%H:%M"))
    await page.get_by_role("button", name="Show").click()
    await expect(page.locator("#history")).to_contain_text("No alert matches these filters.", timeout=rig.LIVE_S)
    await page.get_by_label("Raised from").fill((now - hour).strftime("%Y-%m-%dT%H:%M"))
    await page.get_by_label("Raised before").fill((now + hour).strftime("%Y-%m-%dT%H:%M"))
    await page.get_by_role("button", name="Show").click()
    await expect(rows).to_have_count(2, timeout=rig.LIVE_S)

    await page.goto("/alerts?audience=all&limit=2")  # two at a time: "More" follows the cursor
    await expect(rows).to_have_count(2, timeout=rig.LIVE_S)
    await page.get_by_role("button", name="More").click()
    await expect(rows).to_have_count(3, timeout=rig.LIVE_S)
    await expect(page.locator("#history-more")).to_be_hidden()
    await page.set_viewport_size(rig.TABLET)
    assert await rig.no_horizontal_overflow(page) == 0


async def test_a_blocked_tube_zone_is_one_critical_alert_saying_what_it_holds_with_a_toast(
    infra: Infra, gateway: Gateway, context: BrowserContext
) -> None:
    page = await rig.logged_in_page(context, gateway, "engineer")
    await page.goto("/engineering")
    await expect(page.locator("#live")).to_have_text("live", timeout=rig.LIVE_S)
    journey = Journey("S-HELD-1")  # a STAT troponin, sent by tube 18 minutes ago
    zone = Events("device", "tubes-1").event(
        "device.fault_raised", 3, edge=EDGE, device="tubes-1", code="zone_blocked", component="zone-b"
    )
    async with publisher(infra) as edge:
        await edge.send(journey.collected(), journey.dispatched(), zone)
        alert = page.locator('#inbox li[data-kind="device.fault"]')
        await expect(alert).to_contain_text("tubes-1: zone zone-b blocked since", timeout=rig.LIVE_S)
    await expect(alert).to_contain_text("1 carrier(s) and 1 specimen(s) held, 1 STAT")
    await expect(alert.locator(".marks .severity")).to_have_text("Critical")
    await alert.locator(".children summary").click()  # what it explains, grouped under it
    await expect(alert.locator(".children li").filter(has_text="Carrier lost")).to_contain_text("C-77")
    await expect(page.locator("#toasts .toast.critical")).to_contain_text("tubes-1: zone zone-b blocked")
    await expect(page.locator('#inbox li[data-kind="carrier.lost"]')).to_have_count(0)  # explained, not raised
    await rig.screenshot(page, "engineering-zone-blocked")


async def test_an_unanswered_lab_alert_escalates_to_engineering_with_a_toast(
    infra: Infra, gateway: Gateway, context: BrowserContext
) -> None:
    assert gateway.store is not None
    async with httpx.AsyncClient(base_url=gateway.api_url, headers=await bearer(gateway.store.db)) as admin:
        rules = (await admin.get("/api/v1/rules")).json()
        rules["alerts"]["escalation"]["minutes"]["specimen.error_lane"] = 0.1  # 6 s unanswered
        response = await admin.put("/api/v1/rules", params={"comment": "quick escalation"}, json=rules)
        assert response.status_code == 201, response.text
    page = await rig.logged_in_page(context, gateway, "engineer")
    await page.goto("/engineering")
    await expect(page.locator("#live")).to_have_text("live", timeout=rig.LIVE_S)
    async with publisher(infra) as edge:
        await edge.send(*error_lane("S-ESC-1"))  # type: ignore[arg-type]  # the lab's: not on this page yet
        toast = page.locator("#toasts .toast")
        await expect(toast).to_contain_text("Critical · escalated: Specimen S-ESC-1", timeout=3 * rig.LIVE_S)
    alert = page.locator('#inbox li[data-kind="specimen.error_lane"]')
    await expect(alert.locator(".escalated")).to_contain_text("Escalated ×")  # noqa: RUF001 (times sign)
    await expect(alert.locator(".marks .severity")).to_have_text("Critical")
    await rig.screenshot(page, "engineering-escalated")
