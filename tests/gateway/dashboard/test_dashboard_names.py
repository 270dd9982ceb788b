"""The dashboard shows names, not codes, in a real browser (Debian chromium driven by Playwright).

With reference data in force, the lab and pharmacy pages show wards, staff and medications by name, each with
its id on hover; an id the reference data does not know still shows, as itself, marked as unknown.
"""

from datetime import UTC, datetime

from playwright.async_api import BrowserContext, expect

from gateway.reference.model import DeviceInfo, Location, Medication, StaffMember
from gateway.service import Gateway
from tests import browser_rig as rig
from tests.dashboard_rig import EDGE, Events, Journey
from tests.pharmacy_events import IBUPROFEN, PARACETAMOL, Seq, cabinet_event, item, journey

# The browser tests' fixtures: embedded services, a gateway that knows the robots' map, headless chromium.
infra, gateway, browser, context = rig.infra, rig.gateway, rig.browser, rig.context

UNKNOWN = "not in the reference data"
REFERENCE = {
    "locations": [
        Location("ward-3a", "Ward 3A (Cardiology)", "ward"),
        Location("cabinet-1", "Ward 3A medication cabinet", "cabinet", part_of="ward-3a"),
        Location("lab-main", "Main laboratory", "lab"),
    ],
    "staff": [StaffMember("rn-1001", "K. Okafor", "nurse"), StaffMember("N-40217", "J. Alvarez", "nurse")],
    "medications": [Medication(PARACETAMOL, "Paracetamol", "500 mg", "tablet")],
    "devices": [DeviceInfo("robot-1", "Robot Ada"), DeviceInfo("sorter-1", "Lab sorter", location="lab-main")],
}


async def _adopt(gateway: Gateway) -> None:
    assert gateway.store is not None
    await gateway.store.reference.adopt(REFERENCE, by="test", source="test", comment="", now=datetime.now(UTC))  # type: ignore[arg-type]


async def test_the_lab_shows_wards_and_staff_by_name_and_marks_an_unknown_ward(
    gateway: Gateway, context: BrowserContext
) -> None:
    assert gateway.store is not None
    await _adopt(gateway)
    seqs: dict[str, int] = {}
    known, elsewhere = Journey("S-NAMED", seqs=seqs), Journey("S-ELSEWHERE", ward="ward-9z", carrier="C-78", seqs=seqs)
    await gateway.store.events.commit_batch(
        [known.collected(), known.dispatched(), elsewhere.collected(), elsewhere.dispatched()]
    )
    page = await rig.logged_in_page(context, gateway, "lab")
    await page.goto("/lab")

    row = page.locator('#board tr[data-barcode="S-NAMED"]')
    ward = row.locator(".ref", has_text="Ward 3A (Cardiology)")
    await expect(ward).to_have_attribute("title", "ward-3a", timeout=rig.LIVE_S)  # the code on hover
    unknown = page.locator('#board tr[data-barcode="S-ELSEWHERE"] .unknown-ref[data-id="ward-9z"]')
    await expect(unknown).to_have_text("ward-9z")
    await expect(unknown).to_have_attribute("title", UNKNOWN)
    await rig.screenshot(page, "lab-names")

    await page.goto("/lab/specimens/S-NAMED")
    collected = page.locator("ol.timeline li").nth(0)
    await expect(collected).to_contain_text("at Ward 3A (Cardiology) · by K. Okafor", timeout=rig.LIVE_S)
    await expect(collected.locator(".ref", has_text="K. Okafor")).to_have_attribute("title", "rn-1001 (person)")
    dispatched = page.locator("ol.timeline li").nth(1)
    await expect(dispatched.locator(".unknown-ref", has_text="ST-3A")).to_have_attribute("title", UNKNOWN)
    await expect(page.locator("#now")).to_contain_text("Ward 3A (Cardiology)")
    await expect(page.locator("#custody")).to_contain_text("K. Okafor")


async def test_the_pharmacy_shows_drugs_with_strength_wards_robots_and_staff_by_name(
    gateway: Gateway, context: BrowserContext
) -> None:
    assert gateway.store is not None
    await _adopt(gateway)
    n = Seq()
    stock = [item("D1-01", PARACETAMOL, 30), item("D1-02", IBUPROFEN, 2)]
    await gateway.store.events.commit_batch(
        [
            *journey("D-NAMED", seq=n)[:5],  # created, assigned to robot-1, loaded, departed, arrived on ward 3A
            cabinet_event("cabinet.inventory_reported", "cabinet-1", 30, n(), bins=stock),
            cabinet_event("cabinet.door_opened", "cabinet-1", 31, n(), badge="N-40217"),
        ]
    )
    page = await rig.logged_in_page(context, gateway, "pharmacy")
    await page.goto("/pharmacy")

    row = page.locator('tr[data-delivery="D-NAMED"]')
    await expect(row).to_contain_text("20 \N{MULTIPLICATION SIGN} Paracetamol 500 mg", timeout=rig.LIVE_S)
    await expect(row.locator(".ref", has_text="Paracetamol 500 mg")).to_have_attribute("title", f"GTIN {PARACETAMOL}")
    await expect(row.locator(".ref", has_text="Robot Ada")).to_have_attribute("title", "robot-1")
    await expect(row.locator(".ref", has_text="Ward 3A (Cardiology)").first).to_be_visible()

    cabinet = page.locator("#cabinet")
    await expect(cabinet).to_contain_text("Ward 3A medication cabinet", timeout=rig.LIVE_S)
    await expect(cabinet.locator(".last-access")).to_contain_text("by J. Alvarez")
    await expect(cabinet.locator("tbody tr").nth(0)).to_contain_text("Paracetamol 500 mg")
    unknown_drug = cabinet.locator(f'.unknown-ref[data-id="{IBUPROFEN}"]')
    await expect(unknown_drug).to_have_text(IBUPROFEN)
    await expect(unknown_drug).to_have_attribute("title", UNKNOWN)
    picks = page.locator("#picklist")
    await expect(picks).to_contain_text("Paracetamol 500 mg", timeout=rig.LIVE_S)
    await expect(picks.locator(".ref", has_text="Ward 3A (Cardiology)").first).to_have_attribute("title", "ward-3a")
    await rig.screenshot(page, "pharmacy-names")


async def test_engineering_shows_devices_by_name_where_they_are_and_the_alerts_about_them(
    gateway: Gateway, context: BrowserContext
) -> None:
    assert gateway.store is not None
    await _adopt(gateway)
    seqs: dict[str, int] = {}
    events = [
        Events("device", device, seqs=seqs).event("device.offline", 5, edge=EDGE, device=device, reason="no reply")
        for device in ("sorter-1", "sorter-2")
    ]
    await gateway.store.events.commit_batch(events)
    page = await rig.logged_in_page(context, gateway, "engineer")
    await page.goto("/engineering")

    known = page.locator('tr[data-device="sorter-1"] th')
    await expect(known.locator(".ref", has_text="Lab sorter")).to_have_attribute(
        "title", "sorter-1", timeout=rig.LIVE_S
    )
    await expect(known).to_contain_text("Main laboratory")
    unknown = page.locator('tr[data-device="sorter-2"] th .unknown-ref')
    await expect(unknown).to_have_attribute("title", UNKNOWN)
    alert = page.locator("#inbox li[data-state]").filter(has_text="Lab sorter")
    await expect(alert).to_contain_text("Lab sorter offline since", timeout=rig.LIVE_S)  # raised by the alert pass
    await expect(alert.locator(".about .ref", has_text="Lab sorter")).to_have_attribute("title", "sorter-1")
    await rig.screenshot(page, "engineering-names")
