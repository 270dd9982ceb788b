"""The pharmacy pages in a real browser (Debian chromium driven by Playwright) against a running gateway, with
names from the reference data: the stock table and pick list by item over bins, every cabinet at a glance, a fridge
excursion flagging the fridge's lines, a delivery found by search and opened, the robots' task state, the tablet
layout and the Chinese page. Events arrive over MQTT as the edges publish them; screenshots go to tests/artifacts/."""

from datetime import UTC, datetime, timedelta

from playwright.async_api import BrowserContext, Page, expect

from contract import Reading, Telemetry
from gateway.reference.model import DeviceInfo, Location, Medication
from gateway.rules import default_rules
from gateway.rules.pharmacy import CabinetRules, ParLevel
from gateway.service import Gateway
from tests import browser_rig as rig
from tests.dashboard_rig import publisher, robot_telemetry
from tests.infra import Infra
from tests.pharmacy_events import EDGE, INSULIN, PARACETAMOL, SITE, Seq, cabinet_event, item, journey, robot_event

# The browser tests' fixtures: embedded services, a gateway that knows the robots' map, headless chromium.
infra, gateway, browser, context = rig.infra, rig.gateway, rig.browser, rig.context

REFERENCE = {
    "locations": [
        Location("ward-3a", "Ward 3A (Cardiology)", "ward"),
        Location("icu", "Intensive care", "ward"),
        Location("cabinet-1", "Ward 3A medication cabinet", "cabinet", part_of="ward-3a"),
        Location("cabinet-2", "ICU medication cabinet", "cabinet", part_of="icu"),
    ],
    "medications": [
        Medication(PARACETAMOL, "Paracetamol", "500 mg", "tablet"),
        Medication(INSULIN, "Insulin aspart", "100 U/ml", "pen", refrigerated=True),
    ],
    "devices": [DeviceInfo("robot-1", "Robot Ada")],
}
RULES = {
    "cabinet-1": CabinetRules(
        ward="ward-3a",
        refrigerated=True,
        refrigerated_bins=["F-01"],
        par={PARACETAMOL: ParLevel(min=25, max=40), INSULIN: ParLevel(min=4, max=8)},
    ),
    "cabinet-2": CabinetRules(ward="icu", par={PARACETAMOL: ParLevel(min=10, max=20)}),
}


async def _hospital(gateway: Gateway, infra: Infra) -> datetime:
    """Two cabinets: cabinet-1 holds 13 paracetamol over two bins (par 25) and insulin in its fridge, which went to
    12.1 °C after an alarm raised at 9.4 °C; cabinet-2 at par, door closed. A delivery of paracetamol to Ward 3A on
    robot-1, driving, at the ground-floor elevator. Returns when the fridge's warm reading was taken."""
    assert gateway.store is not None
    reference: dict[str, object] = REFERENCE
    await gateway.store.reference.adopt(reference, by="test", source="test", comment="", now=datetime.now(UTC))  # type: ignore[arg-type]
    gateway.store.rules.current = default_rules().model_copy(update={"cabinets": RULES})
    now = datetime.now(UTC).replace(microsecond=0)
    fridge = [(50, 5.0), (40, 5.2), (3, 9.4), (1, 12.1)]  # minutes ago, °C
    await gateway.store.telemetry.commit(
        [
            *(
                Telemetry(
                    site=SITE,
                    edge=EDGE,
                    device="cabinet-1",
                    at=now - timedelta(minutes=ago),
                    readings=[Reading(metric="fridge_temperature", value=c, unit="°C")],
                )
                for ago, c in fridge
            ),
            robot_telemetry("robot-1", battery=64, x=40, y=0, at=now),
        ]
    )
    n = Seq()
    c1 = [item("D1-01", PARACETAMOL, 9), item("D2-04", PARACETAMOL, 4, lot="L02B002"), item("F-01", INSULIN, 6)]
    async with publisher(infra) as edge:
        await edge.send(
            cabinet_event("cabinet.inventory_reported", "cabinet-1", 0, n(), bins=c1),
            cabinet_event("cabinet.door_opened", "cabinet-1", 10, n(), badge="N-40217"),
            cabinet_event(
                "cabinet.alarm_raised", "cabinet-1", 20, n(), alarm="temperature_out_of_range", detail="fridge 9.4 °C"
            ),
            cabinet_event("cabinet.inventory_reported", "cabinet-2", 0, n(), bins=[item("D1-01", PARACETAMOL, 15)]),
            cabinet_event("cabinet.door_closed", "cabinet-2", 5, n(), badge="N-40217"),
            *journey("D-3A-0042", seq=n)[:4],  # created, assigned to robot-1, loaded, departed from the pharmacy
            robot_event("device.online", "robot-1", 0, n()),
            robot_event("device.status_changed", "robot-1", 6, n(), status="driving"),
        )
    return now - timedelta(minutes=3)


async def _pharmacy(context: BrowserContext, gateway: Gateway) -> Page:
    page = await rig.logged_in_page(context, gateway, "pharmacy")
    await page.goto("/pharmacy")
    return page


async def test_the_stock_table_flags_an_item_below_par_over_its_bins_and_the_pick_list_lists_it(
    infra: Infra, gateway: Gateway, context: BrowserContext
) -> None:
    await _hospital(gateway, infra)
    page = await _pharmacy(context, gateway)
    paracetamol = page.locator(f'#cabinet tr[data-gtin="{PARACETAMOL}"]')
    await expect(paracetamol).to_contain_text("Paracetamol 500 mg", timeout=rig.LIVE_S)
    await expect(paracetamol).to_contain_text("D1-01, D2-04")  # one row for the item, its bins beside it
    await expect(paracetamol.locator("td.num").nth(0)).to_have_text("13")
    await expect(paracetamol.locator("td.num").nth(1)).to_have_text("25\N{EN DASH}40")
    await expect(paracetamol).to_contain_text("below par")
    pick = page.locator(f'#picklist tr[data-cabinet="cabinet-1"][data-gtin="{PARACETAMOL}"]')
    await expect(pick).to_contain_text("Ward 3A medication cabinet")
    await expect(pick.locator("td.num").nth(2)).to_have_text("27")  # up to par max 40
    await expect(page.locator("#picklist")).not_to_contain_text("Every cabinet is at or above par")
    await rig.screenshot(page, "pharmacy-stock-per-item")


async def test_the_cabinet_overview_shows_every_cabinet_with_door_current_temperature_and_open_alarms(
    infra: Infra, gateway: Gateway, context: BrowserContext
) -> None:
    await _hospital(gateway, infra)
    page = await _pharmacy(context, gateway)
    first, second = (
        page.locator('#cabinets tr[data-cabinet="cabinet-1"]'),
        page.locator('#cabinets tr[data-cabinet="cabinet-2"]'),
    )
    await expect(first).to_contain_text("Ward 3A medication cabinet", timeout=rig.LIVE_S)
    await expect(first).to_contain_text("Ward 3A (Cardiology)")
    await expect(first).to_have_attribute("data-door", "open")
    await expect(first.locator(".temperature")).to_contain_text("12.1 °C")
    alarm = first.locator('li[data-alarm="temperature_out_of_range"]')
    await expect(alarm).to_contain_text("temperature out of range")
    await expect(alarm).to_contain_text("now 12.1 °C")  # the fridge now, not the 9.4 °C it was raised at
    await expect(alarm).not_to_contain_text("9.4")
    await expect(second).to_contain_text("ICU medication cabinet")
    await expect(second).to_have_attribute("data-door", "closed")
    await expect(second).to_contain_text("at par")

    await second.get_by_role("button").click()  # opens its detail
    await expect(page.locator("#cabinet h3")).to_contain_text("ICU medication cabinet")
    await expect(page.locator(f'#cabinet tr[data-gtin="{PARACETAMOL}"] td.num').nth(0)).to_have_text("15")
    await rig.screenshot(page, "pharmacy-cabinets")


async def test_a_fridge_excursion_flags_the_fridges_lines_and_not_the_others(
    infra: Infra, gateway: Gateway, context: BrowserContext
) -> None:
    warm_since = await _hospital(gateway, infra)
    page = await _pharmacy(context, gateway)
    insulin = page.locator(f'#cabinet tr[data-gtin="{INSULIN}"]')
    await expect(insulin).to_contain_text("Insulin aspart 100 U/ml", timeout=rig.LIVE_S)
    await expect(insulin).to_contain_text(f"check: excursion at {warm_since:%H:%M}, max 12.1 °C")
    await expect(page.locator(f'#cabinet tr[data-gtin="{PARACETAMOL}"]')).not_to_contain_text("check:")
    await expect(page.locator("#cabinet .excursion")).to_contain_text("max 12.1 °C, min 9.4 °C: check the items in it.")
    await expect(page.locator("#cabinet svg.chart")).to_be_visible()
    await rig.screenshot(page, "pharmacy-fridge-excursion")


async def test_a_delivery_found_by_search_opens_its_page_with_medication_names_robot_and_progress(
    infra: Infra, gateway: Gateway, context: BrowserContext
) -> None:
    await _hospital(gateway, infra)
    page = await _pharmacy(context, gateway)
    await expect(page.locator('#deliveries tr[data-delivery="D-3A-0042"]')).to_be_visible(timeout=rig.LIVE_S)
    await page.get_by_label("Find a delivery").fill("paracetamol")
    await page.get_by_role("button", name="Search").click()
    await expect(page.locator("#deliveries p.found")).to_contain_text("1 found for “paracetamol”")
    await page.locator("#deliveries").get_by_role("link", name="D-3A-0042").click()

    await expect(page).to_have_url(f"{gateway.api_url}/pharmacy/deliveries/D-3A-0042")
    await expect(page.locator("#contents")).to_contain_text("Paracetamol 500 mg", timeout=rig.LIVE_S)
    await expect(page.locator("#contents")).not_to_contain_text(PARACETAMOL)
    robot = page.locator("#robot")
    await expect(robot).to_contain_text("Robot Ada")
    await expect(robot).to_contain_text("driving")
    await expect(robot).to_contain_text("64 %")
    route = page.locator("#route")
    await expect(route.locator("li.done")).to_have_count(3)  # pharmacy, main corridor, the ground-floor elevator
    await expect(route.locator("p.leg")).to_contain_text("elevator-0 → elevator-3")
    await expect(page.locator("#summary")).to_contain_text("Ward 3A (Cardiology)")
    timeline = page.locator("#steps ol.timeline li")
    await expect(timeline).to_have_count(4)
    await expect(timeline.nth(3)).to_contain_text("departed")
    await rig.screenshot(page, "pharmacy-delivery-page")


async def test_the_robots_panel_shows_each_robots_task_state_and_battery(
    infra: Infra, gateway: Gateway, context: BrowserContext
) -> None:
    await _hospital(gateway, infra)
    page = await _pharmacy(context, gateway)
    row = page.locator('#robots tr[data-robot="robot-1"]')
    await expect(row).to_have_attribute("data-task", "driving", timeout=rig.LIVE_S)
    await expect(row).to_contain_text("Robot Ada")
    await expect(row).to_contain_text("online")
    await expect(row.locator(".badge.task")).to_have_text("driving")
    await expect(row).to_contain_text("64 %")
    await expect(row.get_by_role("link", name="D-3A-0042")).to_be_visible()


async def test_the_pharmacy_pages_fit_a_tablet(infra: Infra, gateway: Gateway, context: BrowserContext) -> None:
    await _hospital(gateway, infra)
    page = await _pharmacy(context, gateway)
    await page.set_viewport_size(rig.TABLET)
    await expect(page.locator(f'#cabinet tr[data-gtin="{INSULIN}"]')).to_be_visible(timeout=rig.LIVE_S)
    await expect(page.locator('#robots tr[data-robot="robot-1"]')).to_be_visible()
    assert await rig.no_horizontal_overflow(page) == 0
    await rig.screenshot(page, "pharmacy-tablet")
    await page.goto("/pharmacy/deliveries/D-3A-0042")
    await expect(page.locator("#route li.done")).to_have_count(3, timeout=rig.LIVE_S)
    assert await rig.no_horizontal_overflow(page) == 0
    await rig.screenshot(page, "pharmacy-delivery-tablet")


async def test_the_pharmacy_page_in_chinese(infra: Infra, gateway: Gateway, context: BrowserContext) -> None:
    await _hospital(gateway, infra)
    await context.add_cookies([{"name": "wardlink_lang", "value": "zh-CN", "url": gateway.api_url}])
    page = await _pharmacy(context, gateway)
    await expect(page.locator("h1")).to_have_text("药房")
    await expect(page.locator('#robots tr[data-robot="robot-1"] .badge.task')).to_have_text(
        "行驶中", timeout=rig.LIVE_S
    )
    await expect(page.locator('#cabinets tr[data-cabinet="cabinet-2"]')).to_contain_text("关闭")
    await expect(page.locator(f'#cabinet tr[data-gtin="{PARACETAMOL}"]')).to_contain_text("低于标准库存")
    await expect(page.locator("#cabinets thead")).to_contain_text("柜门")
    await rig.screenshot(page, "pharmacy-zh-CN")
    await page.goto("/pharmacy/deliveries/D-3A-0042")
    await expect(page.locator("#route-title")).to_have_text("路线")
    await expect(page.locator("#robot")).to_contain_text("行驶中", timeout=rig.LIVE_S)
    await rig.screenshot(page, "pharmacy-delivery-zh-CN")
