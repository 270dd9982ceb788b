"""The robots' map on the pharmacy page: every node's label readable, none drawn over another label or a node, or
cut off at the map's edge."""

from playwright.async_api import BrowserContext, expect

from gateway.service import Gateway
from tests import browser_rig as rig

infra, gateway, browser, context = rig.infra, rig.gateway, rig.browser, rig.context

BOXES = """() => [...document.querySelectorAll("svg.graph g.node")].map((g) => {
  const label = g.querySelector("text").getBBox(), dot = g.querySelector("circle").getBBox();
  return { id: g.querySelector("text").textContent, label: [label.x, label.y, label.width, label.height],
           dot: [dot.x, dot.y, dot.width, dot.height] };
})"""


def overlap(a: list[float], b: list[float]) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


async def test_no_node_label_covers_another_label_or_a_node(gateway: Gateway, context: BrowserContext) -> None:
    page = await rig.logged_in_page(context, gateway, "pharmacy")
    await page.goto("/pharmacy")
    await expect(page.locator("svg.graph g.node").first).to_be_visible(timeout=rig.LIVE_S)
    nodes = await page.evaluate(BOXES)
    assert len(nodes) > 10  # the demo hospital's map: three floors of corridors, wards and elevators
    clashes = [
        (a["id"], b["id"])
        for i, a in enumerate(nodes)
        for b in nodes[i + 1 :]
        if overlap(a["label"], b["label"]) or overlap(a["label"], b["dot"]) or overlap(b["label"], a["dot"])
    ]
    assert clashes == []
    cut = [n["id"] for n in nodes if n["label"][0] < 0]  # nothing hangs off the map's left edge
    assert cut == []
    await rig.screenshot(page, "pharmacy-map")
