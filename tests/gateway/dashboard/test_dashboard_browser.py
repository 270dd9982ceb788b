"""The dashboard in a real browser (Debian chromium driven by Playwright) against a running gateway.

The gateway runs on the embedded defaults (amqtt + SQLite); what the pages show live arrives the way it does in the
hospital: events published over MQTT as the edges and the clinical systems publish them (tests/dashboard_rig.py),
read by the gateway, committed, and pushed to the page over the live stream. Screenshots go to tests/artifacts/.
"""

from playwright.async_api import BrowserContext, expect

from gateway.service import Gateway
from tests import browser_rig as rig
from tests.auth import new_user
from tests.browser_rig import LIVE_S, logged_in_page, screenshot
from tests.dashboard_rig import Delivery, Events, Journey, publisher, robot_telemetry
from tests.infra import Infra

# The browser tests' fixtures: embedded services, a gateway that knows the robots' map, headless chromium.
infra, gateway, browser, context = rig.infra, rig.gateway, rig.browser, rig.context


async def test_a_lab_user_scans_a_barcode_and_watches_the_specimen_move(
    infra: Infra, gateway: Gateway, context: BrowserContext
) -> None:
    seqs: dict[str, int] = {}
    journey, other = Journey("S4711001", seqs=seqs), Journey("S4711002", carrier="C-78", seqs=seqs)
    name, password = await new_user(gateway, "lab")
    page = await context.new_page()
    async with publisher(infra) as edge:
        await edge.send(journey.collected())

        await page.goto("/")
        await expect(page).to_have_url(f"{gateway.api_url}/login")
        await page.get_by_label("User name").fill(name)
        await page.get_by_label("Password").fill(password)
        await page.get_by_role("button", name="Log in").click()
        await expect(page).to_have_url(f"{gateway.api_url}/lab")

        # The board: a specimen sent by tube while the page is open shows up as in transit.
        await expect(page.locator("#live")).to_have_text("live", timeout=LIVE_S)
        await edge.send(other.collected(), other.dispatched())
        on_board = page.locator('#board tr[data-barcode="S4711002"]')
        await expect(on_board).to_contain_text("in transit", timeout=LIVE_S)
        await expect(on_board).to_contain_text("C-78")

        # A scanner: the box has the focus on load, the keystrokes come fast, then Enter.
        await expect(page.locator("#barcode")).to_be_focused()
        await page.keyboard.type(journey.subject, delay=5)
        await page.keyboard.press("Enter")
        await expect(page).to_have_url(f"{gateway.api_url}/lab/specimens/{journey.subject}")
        steps = page.locator("ol.timeline li")
        await expect(steps).to_have_count(1, timeout=LIVE_S)
        await expect(steps.nth(0)).to_contain_text("collected")
        await expect(steps.nth(0)).to_contain_text("by rn-1001 (person)")
        await expect(page.locator("#live")).to_have_text("live", timeout=LIVE_S)

        # The tube system and the sorter report; the page follows without a reload.
        await edge.send(journey.dispatched())
        await expect(steps).to_have_count(2, timeout=LIVE_S)
        await expect(steps.nth(1)).to_contain_text("dispatched")
        await expect(steps.nth(1)).to_contain_text("at ST-3A (station) · by C-77 (carrier)")
        await edge.send(journey.arrived(), journey.sorted())
        await expect(steps).to_have_count(4, timeout=LIVE_S)
        await expect(steps.nth(3)).to_contain_text("sorted")
    await expect(page.locator("#now")).to_contain_text("sorted")
    await expect(page.locator("#now")).to_contain_text("Due")
    await expect(page.locator("#legs")).to_contain_text("transit")
    await screenshot(page, "lab-specimen")


async def test_a_pharmacy_user_watches_a_delivery_progress(
    infra: Infra, gateway: Gateway, context: BrowserContext
) -> None:
    assert gateway.store is not None
    delivery = Delivery("D-5001")
    await gateway.store.telemetry.commit([robot_telemetry("robot-1", battery=72, x=0, y=0)])  # at the pharmacy
    page = await logged_in_page(context, gateway, "pharmacy")
    async with publisher(infra) as edge:
        await edge.send(delivery.created(), delivery.accepted())
        await page.goto("/pharmacy")
        row = page.locator('tr[data-delivery="D-5001"]')
        await expect(row).to_have_attribute("data-status", "assigned", timeout=LIVE_S)
        await expect(row).to_contain_text("robot-1")
        await expect(page.locator('g.robot[data-robot="robot-1"]')).to_contain_text("robot-1 72 %")

        await edge.send(delivery.loaded(), delivery.departed())
        await expect(row).to_have_attribute("data-status", "departed", timeout=LIVE_S)
        await expect(row.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "4")
        await edge.send(delivery.arrived())
        await expect(row).to_have_attribute("data-status", "arrived", timeout=LIVE_S)
        await expect(row.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "5")
        await expect(row).to_contain_text("ward-3a")
    await screenshot(page, "pharmacy")


async def test_a_lab_user_is_refused_the_engineering_view(gateway: Gateway, context: BrowserContext) -> None:
    page = await logged_in_page(context, gateway, "lab")
    response = await page.goto("/engineering")
    assert response is not None
    assert response.status == 403
    await expect(page.locator("#refused")).to_contain_text("The Engineering view needs the admin or engineer role")
    await expect(page.get_by_role("navigation", name="Views").get_by_role("link")).to_have_text(
        ["Laboratory", "Alerts"]
    )


async def test_a_ward_scoped_lab_user_cannot_open_another_wards_specimen(
    gateway: Gateway, context: BrowserContext
) -> None:
    assert gateway.store is not None
    await gateway.store.events.commit_batch([Journey("S-ICU-1", ward="icu").collected()])
    page = await logged_in_page(context, gateway, "lab", wards=("ward-3a",))
    await page.goto("/lab")
    await page.keyboard.type("S-ICU-1", delay=5)
    await page.keyboard.press("Enter")
    # The same answer as for a barcode nobody knows, and no link to wait for it on its page.
    await expect(page.locator("#scan-answer")).to_contain_text("Barcode S-ICU-1 is not known")
    await expect(page.locator("#scan-watch")).to_have_count(0)
    await page.goto("/lab/specimens/S-ICU-1")
    await expect(page.locator("#not-found")).to_contain_text("No specimen S-ICU-1 that you may see")
    await expect(page.locator("ol.timeline")).to_have_count(0)


async def test_an_engineer_sees_the_devices_and_acknowledges_an_alert(
    infra: Infra, gateway: Gateway, context: BrowserContext
) -> None:
    sorter = Events("device", "sorter-1")
    async with publisher(infra) as edge:
        await edge.send(
            sorter.event("device.online", 0, edge="hospital-edge", device="sorter-1"),
            sorter.event("device.offline", 5, edge="hospital-edge", device="sorter-1", reason="no Modbus reply"),
        )
    page = await logged_in_page(context, gateway, "engineer")
    await page.goto("/engineering")
    device = page.locator('tr[data-device="sorter-1"]')
    await expect(device).to_have_attribute("data-state", "offline", timeout=LIVE_S)
    await expect(device).to_contain_text("no Modbus reply")
    alert = page.locator("#inbox li[data-state]").filter(has_text="sorter-1")
    await expect(alert).to_have_attribute("data-state", "raised", timeout=LIVE_S)  # raised live by the alert pass
    await alert.get_by_role("button", name="Acknowledge").click()
    await alert.get_by_label("Note (optional)").fill("power-cycled the sorter")
    await alert.get_by_role("button", name="Acknowledge", exact=True).click()
    await expect(alert).to_have_attribute("data-state", "acknowledged", timeout=LIVE_S)
    await expect(alert).to_contain_text("Acknowledged by engineer-")
    await expect(alert).to_contain_text("power-cycled the sorter")
    await expect(page.locator("#simulation")).to_be_hidden()  # no simulator is attached to this gateway
    await screenshot(page, "engineering")


async def test_a_page_that_fell_behind_the_stream_reconnects_and_catches_up(
    gateway: Gateway, context: BrowserContext
) -> None:
    """The gateway drops a stream that lags (it never slows ingest down): the page says so, reconnects, re-reads."""
    assert gateway.store is not None
    assert gateway.live is not None
    gateway.live.queue_size = 2  # this page's stream may fall two changes behind
    journey = Journey("S4711003")
    await gateway.store.events.commit_batch([journey.collected()])
    page = await logged_in_page(context, gateway, "lab")
    await page.goto(f"/lab/specimens/{journey.subject}")
    live = page.locator("#live")
    await expect(live).to_have_text("live", timeout=LIVE_S)

    await gateway.store.events.commit_batch(
        [journey.dispatched(), journey.arrived(), journey.sorted()]
    )  # three at once
    await expect(live).to_have_text("reconnecting…")
    await expect(live).to_have_text("live", timeout=LIVE_S)
    assert gateway.live.dropped == 1
    await expect(page.locator("ol.timeline li")).to_have_count(4, timeout=LIVE_S)
