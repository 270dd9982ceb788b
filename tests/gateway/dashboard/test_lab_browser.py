"""The lab's pages in a real browser (Debian chromium driven by Playwright) against a running gateway.

What a lab user must see at a glance: where a tube is in words (in the tube from a ward, an error lane's lane, rack
and position in red), a STAT with little slack in amber (not a green "on track"), a clear answer for a barcode
nobody knows, board filters kept in the URL, and turnaround charts with target lines and round ticks.
"""

from datetime import UTC, datetime, timedelta
from itertools import pairwise

from playwright.async_api import BrowserContext, Page, expect

from contract import Event
from gateway.reference.model import DeviceInfo, Location, StaffMember
from gateway.service import Gateway
from tests import browser_rig as rig
from tests.dashboard_rig import EDGE, LIS, Events

# The browser tests' fixtures: embedded services, a gateway that knows the robots' map, headless chromium.
infra, gateway, browser, context = rig.infra, rig.gateway, rig.browser, rig.context

REFERENCE = {
    "locations": [
        Location("ward-3a", "Ward 3A (Cardiology)", "ward", zone="zone-d"),
        Location("icu", "Intensive care unit", "ward", zone="zone-b"),
        Location("lab", "Laboratory", "lab", zone="zone-a"),
    ],
    "staff": [StaffMember("rn-3962", "K. Okafor", "nurse")],
    "medications": [],
    "devices": [DeviceInfo("tubes-1", "Pneumatic tube system 1"), DeviceInfo("sorter-1", "Specimen sorter 1")],
}
RED = "rgb(153, 27, 27)"  # --bad
AMBER_BG = "rgb(254, 243, 199)"  # --warn-bg


class Tube(Events):
    """A specimen collected `minutes_ago` on `ward`, with what happens to it next (minutes after collection)."""

    def __init__(
        self, barcode: str, minutes_ago: float, seqs: dict[str, int], *, ward: str = "ward-3a", priority: str = "stat"
    ) -> None:
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=minutes_ago)
        super().__init__("specimen", barcode, start=start, seqs=seqs)
        self.ward, self.priority, self.carrier = ward, priority, f"E2801160000{barcode[-5:]}"

    def collected(self) -> Event:
        data = {"priority": self.priority, "category": "blood-gas", "ward": self.ward, "badge": "rn-3962"}
        return self.event("specimen.collected", 0, edge=LIS, device="lis", **data)

    def dispatched(self, minute: float) -> Event:
        data = {"transaction": 7, "from_station": self.ward, "to_station": "lab", "specimens": [self.subject]}
        return self.event(
            "carrier.dispatched", minute, edge=EDGE, device="tubes-1", about=("carrier", self.carrier), **data
        )

    def rejected(self, minute: float) -> Event:
        data = {"reason": "unknown_order", "lane": 9, "rack": 2, "position": 14}
        return self.event("specimen.rejected", minute, edge=EDGE, device="sorter-1", **data)

    def resulted(self, minute: float) -> Event:
        return self.event("specimen.resulted", minute, edge=LIS, device="lis")


async def _lab_page(gateway: Gateway, context: BrowserContext, *events: Event) -> Page:
    assert gateway.store is not None
    await gateway.store.reference.adopt(REFERENCE, by="test", source="test", comment="", now=datetime.now(UTC))  # type: ignore[arg-type]
    if events:
        await gateway.store.events.commit_batch(list(events))
    return await rig.logged_in_page(context, gateway, "lab")


async def test_an_error_lane_tube_shows_its_lane_rack_and_position_in_red(
    gateway: Gateway, context: BrowserContext
) -> None:
    seqs: dict[str, int] = {}
    tube = Tube("S-ERR01", 20, seqs)
    page = await _lab_page(gateway, context, tube.collected(), tube.rejected(9))
    await page.goto("/lab")
    where = page.locator('#board tr[data-barcode="S-ERR01"] .error-lane')
    await expect(where).to_contain_text("error lane 9, rack 2, position 14", timeout=rig.LIVE_S)
    await expect(where).to_contain_text("Specimen sorter 1")
    await expect(where).to_have_css("color", RED)

    await page.goto("/lab/specimens/S-ERR01")
    now = page.locator("#where-now .error-lane")
    await expect(now).to_contain_text("error lane 9, rack 2, position 14 · Specimen sorter 1", timeout=rig.LIVE_S)
    await expect(now).to_have_css("color", RED)
    await expect(page.locator("#now")).to_contain_text("no order for this barcode")
    await rig.screenshot(page, "lab-error-lane")


async def test_a_stat_with_4_minutes_of_slack_is_amber_and_in_the_tube_from_its_ward(
    gateway: Gateway, context: BrowserContext
) -> None:
    """Collected 14 min ago (due in 16), dispatched a minute ago: 4 + 3 + 5 min of legs to go leave 4 min to spare,
    below the default amber threshold of 10."""
    seqs: dict[str, int] = {}
    tube = Tube("S-TIGHT1", 14, seqs)
    page = await _lab_page(gateway, context, tube.collected(), tube.dispatched(13))
    await page.goto("/lab")
    row = page.locator('#board tr[data-barcode="S-TIGHT1"]')
    outlook = row.locator(".badge").first
    await expect(outlook).to_have_text("tight", timeout=rig.LIVE_S)
    await expect(outlook).to_have_css("background-color", AMBER_BG)
    await expect(row).not_to_contain_text("on track")
    await expect(row).to_contain_text("to spare")
    await expect(row.locator(".in-tube")).to_contain_text("in the tube from Ward 3A (Cardiology)")
    await expect(row).to_contain_text("Pneumatic tube system 1")  # who holds it: the tube system, not an RFID tag

    stat = page.locator('#stat-list tr[data-barcode="S-TIGHT1"]')
    await expect(stat.locator(".badge")).to_have_text("tight")
    await expect(stat.locator("td.slack")).to_have_css("color", "rgb(146, 64, 14)")  # --warn
    await rig.screenshot(page, "lab-stat-tight")


async def test_an_unknown_barcode_gets_a_clear_answer_and_the_box_keeps_the_focus(
    gateway: Gateway, context: BrowserContext
) -> None:
    page = await _lab_page(gateway, context)
    for path in ("/lab", "/lab/specimens/S-SOMETHING"):  # every lab page has the scan box
        await page.goto(path)
        box = page.locator("#barcode")
        await expect(box).to_be_focused()
        await page.keyboard.type("S-NOBODY-KNOWS", delay=5)
        await page.keyboard.press("Enter")
        answer = page.locator("#scan-answer")
        await expect(answer).to_contain_text("Barcode S-NOBODY-KNOWS is not known", timeout=rig.LIVE_S)
        await expect(page).to_have_url(f"{gateway.api_url}{path}")
        await expect(box).to_be_focused()
        await expect(box).to_have_attribute("aria-invalid", "true")
    await rig.screenshot(page, "lab-unknown-barcode")


async def test_board_filters_narrow_the_board_and_survive_a_reload(gateway: Gateway, context: BrowserContext) -> None:
    seqs: dict[str, int] = {}
    stat, routine = Tube("S-FSTAT1", 5, seqs), Tube("S-FROUT1", 5, seqs, ward="icu", priority="routine")
    events = [stat.collected(), stat.dispatched(4), routine.collected(), routine.dispatched(4)]
    page = await _lab_page(gateway, context, *events)
    await page.goto("/lab")
    rows = page.locator("#board tbody tr")
    await expect(rows).to_have_count(2, timeout=rig.LIVE_S)

    await page.locator("#filter-priority").select_option("stat")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_have_attribute("data-barcode", "S-FSTAT1")
    assert "priority=stat" in page.url
    await page.reload()
    await expect(page.locator("#filter-priority")).to_have_value("stat")
    await expect(rows).to_have_count(1, timeout=rig.LIVE_S)

    await page.locator("#filter-priority").select_option("")
    await page.locator("#filter-ward").select_option("icu")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_have_attribute("data-barcode", "S-FROUT1")
    assert "ward=icu" in page.url
    assert "priority" not in page.url
    await page.locator("#filter-status").select_option("rejected")
    await expect(page.locator("#board")).to_contain_text("Nothing needing attention matches these filters.")
    await page.get_by_role("button", name="Clear filters").click()
    await expect(rows).to_have_count(2)
    assert page.url.endswith("/lab")


async def test_keyboard_focus_stays_on_a_board_link_across_a_live_refresh(
    gateway: Gateway, context: BrowserContext
) -> None:
    seqs: dict[str, int] = {}
    first, second = Tube("S-FOCUS1", 5, seqs), Tube("S-FOCUS2", 5, seqs)
    page = await _lab_page(gateway, context, first.collected(), first.dispatched(4))
    await page.goto("/lab")
    link = page.locator('#board a[data-key="board:S-FOCUS1"]')
    await expect(link).to_be_visible(timeout=rig.LIVE_S)
    await expect(page.locator("#live")).to_have_text("live", timeout=rig.LIVE_S)
    await link.focus()
    assert gateway.store is not None
    await gateway.store.events.commit_batch([second.collected(), second.dispatched(4)])
    await expect(page.locator('#board tr[data-barcode="S-FOCUS2"]')).to_be_visible(timeout=rig.LIVE_S)
    focused = await page.evaluate("document.activeElement.dataset.key")
    assert focused == "board:S-FOCUS1"


async def test_the_lab_page_fits_a_tablet_and_reads_in_chinese(gateway: Gateway, context: BrowserContext) -> None:
    seqs: dict[str, int] = {}
    tube, error = Tube("S-TABLET1", 14, seqs), Tube("S-TABLET2", 20, seqs)
    events = [tube.collected(), tube.dispatched(13), error.collected(), error.rejected(9)]
    page = await _lab_page(gateway, context, *events)
    await page.set_viewport_size(rig.TABLET)
    await page.goto("/lab")
    await expect(page.locator('#board tr[data-barcode="S-TABLET1"]')).to_be_visible(timeout=rig.LIVE_S)
    await expect(page.locator("#stat-list tbody tr")).to_have_count(2)
    assert await rig.no_horizontal_overflow(page) == 0
    await rig.screenshot(page, "lab-tablet")

    await context.add_cookies([{"name": "wardlink_lang", "value": "zh-CN", "url": gateway.api_url}])
    await page.goto("/lab")
    await expect(page.locator("h1")).to_have_text("检验科")
    row = page.locator('#board tr[data-barcode="S-TABLET1"]')
    await expect(row.locator(".badge").first).to_have_text("紧张", timeout=rig.LIVE_S)
    await expect(row).to_contain_text("在物流管道中，来自Ward 3A (Cardiology)")  # noqa: RUF001
    await expect(page.locator('#board tr[data-barcode="S-TABLET2"] .error-lane')).to_contain_text(
        "异常通道 9，试管架 2，位置 14"  # noqa: RUF001
    )
    await expect(page.locator("label[for=filter-priority]")).to_have_text("优先级")
    assert await rig.no_horizontal_overflow(page) == 0
    await rig.screenshot(page, "lab-zh-CN-tablet")

    await page.goto("/lab/specimens/S-TABLET2")
    await expect(page.locator("#where-now .error-lane")).to_contain_text("异常通道 9", timeout=rig.LIVE_S)
    await expect(page.locator("label[for=barcode]")).to_have_text("扫描下一个标本")
    assert await rig.no_horizontal_overflow(page) == 0
    await rig.screenshot(page, "lab-specimen-zh-CN-tablet")


async def _ticks(page: Page, selector: str) -> list[float]:
    texts: list[str] = await page.locator(selector).evaluate_all("nodes => nodes.map((n) => n.textContent)")
    return [float(text.split()[0]) for text in texts]


def _round_steps(ticks: list[float]) -> bool:
    """Evenly spaced by 1, 2 or 5 times a power of ten, starting at a multiple of the step."""
    steps = {round(b - a, 6) for a, b in pairwise(ticks)}
    if len(steps) != 1:
        return False
    step = steps.pop()
    mantissa = step / 10 ** int(f"{step:e}".split("e")[1])
    return round(mantissa, 6) in (1, 2, 5) and round(ticks[0] / step, 6).is_integer()


async def test_turnaround_charts_draw_target_lines_round_ticks_and_the_share_on_its_own_axis(
    gateway: Gateway, context: BrowserContext
) -> None:
    seqs: dict[str, int] = {}
    done = [Tube(f"S-DONE{n}", 120, seqs, priority=p) for n, p in enumerate(["stat", "stat", "routine"])]
    events = [e for n, tube in enumerate(done) for e in (tube.collected(), tube.resulted(20 + 17 * n))]
    page = await _lab_page(gateway, context, *events)
    await page.goto("/lab")
    chart = page.locator("#tat-priority svg.chart")
    await expect(chart).to_be_visible(timeout=rig.LIVE_S)
    await expect(chart.locator("title")).to_contain_text("Turnaround by priority")
    await expect(chart.locator("desc")).to_contain_text("STAT: median")
    targets = chart.locator("line.target")
    assert await targets.evaluate_all("lines => lines.map(l => l.dataset.minutes)") == ["30", "240"]
    await expect(chart.locator("text.target-label").first).to_have_text("target 30 min")
    await expect(chart.locator("line.goal")).to_have_count(1)  # the rules' on-time goal, on the right axis
    await expect(chart.locator("text.goal-label")).to_have_text("goal 90 %")
    minutes = await _ticks(page, "#tat-priority svg.chart text.tick:not(.share-tick)[text-anchor=end]")
    assert _round_steps(minutes), minutes
    shares = await _ticks(page, "#tat-priority svg.chart text.share-tick:not(.axis-title)")
    assert shares == [0, 20, 40, 60, 80, 100]
    await expect(page.locator("#tat-priority details table")).to_contain_text("30 min")
    await rig.screenshot(page, "lab-charts")


async def test_the_temperature_chart_shades_the_band_and_labels_the_current_temperature(
    gateway: Gateway, context: BrowserContext
) -> None:
    """The pharmacy's fridge chart is drawn by the same module: `temperatureChart(samples, {min, max, current})`."""
    page = await _lab_page(gateway, context)
    await page.goto("/lab")
    script = await page.locator('script[src*="/js/lab.js"]').get_attribute("src")
    assert script is not None
    charts = script.replace("/js/lab.js", "/js/charts.js")
    drawn = await page.evaluate(
        """async (url) => {
            const { temperatureChart } = await import(url);
            const start = Date.parse("2026-11-24T00:00:00Z");
            const values = [4.1, 4.6, 5.2, 9.3, 8.7, 6.0, 9.1];
            const samples = values.map((value, i) => ({ at: new Date(start + i * 3600e3).toISOString(), value }));
            const chart = temperatureChart(samples, { min: 2, max: 8, current: 9.1 });
            document.body.append(chart);
            const band = chart.querySelector("rect.band");
            return {
                band: band !== null && Number(band.getAttribute("height")) > 0,
                bandLabel: chart.querySelector(".band-label").textContent,
                now: chart.querySelector(".current-label").textContent,
                warm: chart.querySelector(".current-label").classList.contains("outside"),
                ticks: [...chart.querySelectorAll("text.tick[text-anchor=end]")].map((t) => parseFloat(t.textContent)),
                named: chart.getAttribute("role") === "img" && chart.querySelector("title") !== null,
            };
        }""",
        charts,
    )
    assert drawn["band"]
    assert drawn["named"]
    assert (drawn["bandLabel"], drawn["now"], drawn["warm"]) == ("2–8 °C allowed", "now 9.1 °C", True)  # noqa: RUF001
    assert _round_steps(drawn["ticks"]), drawn["ticks"]


async def test_a_specimen_a_blocked_zone_holds_reads_held_and_where_in_the_tube_it_is(
    gateway: Gateway, context: BrowserContext
) -> None:
    """Zone D (ward 3A's, by the reference data) blocked 16 min ago; the carrier left ward 3A a minute before: the
    root-cause alert holds it, and the board says so instead of an outlook."""
    seqs: dict[str, int] = {}
    tube = Tube("S-HELD01", 18, seqs)
    tubes = Events("device", "tubes-1", start=tube.start, seqs=seqs)
    blocked = tubes.event(
        "device.fault_raised", 2, edge=EDGE, device="tubes-1", code="zone_blocked", component="zone-d"
    )
    page = await _lab_page(gateway, context, tube.collected(), tube.dispatched(1), blocked)
    await page.goto("/lab")
    row = page.locator('#board tr[data-barcode="S-HELD01"]')
    await expect(row.locator(".badge.held")).to_have_text("held: zone D blocked", timeout=rig.LIVE_S)
    await expect(row).not_to_contain_text("on track")
    await expect(row.locator(".in-tube")).to_contain_text("in the tube, zone D, from Ward 3A (Cardiology)")
    await rig.screenshot(page, "lab-held")


async def test_the_board_loads_at_once_not_after_its_refresh_interval(
    gateway: Gateway, context: BrowserContext
) -> None:
    """A page's first load runs at once; only the refreshes a burst of changes asks for wait their interval. With
    the page's timers stopped, the board still fills (its lists come over the network, not after a timer)."""
    seqs: dict[str, int] = {}
    tube = Tube("S-NOW01", 20, seqs)
    page = await _lab_page(gateway, context, tube.collected(), tube.rejected(9))
    await page.clock.install()
    await page.clock.pause_at(datetime.now(UTC) + timedelta(minutes=1))
    await page.goto("/lab")
    await page.clock.run_for(50)  # what is due at once; the board refreshes every 1,000 ms at most
    await expect(page.locator('#board tr[data-barcode="S-NOW01"]')).to_be_visible(timeout=rig.LIVE_S)
