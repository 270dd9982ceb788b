"""Each role on a hospital day with faults, in a real browser: the person who must act sees it on the page they land
on, and it stays there until they acknowledge it.

The whole path runs on a quiet day (tests/quiet_day.py): the hospital
simulator with one device of each family at 120x, an edge, the gateway on the embedded broker and database. Faults
go in through the gateway's simulation API, as an engineer injects them from the engineering page: the sorter jams,
tube zone B is blocked, and cabinet-1's fridge warms to 12 °C. Staff log in through the login form and land on
their role's page: the lab sees the jam and the blocked zone (which hold its specimens), pharmacy the warm fridge;
neither sees the other's. The fridge cools again before anyone answers, and the cold-chain alert stays, "cleared,
not acknowledged", until a pharmacist acknowledges it.
"""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests import browser_rig as rig
from tests.auth import bearer, new_user
from tests.infra import Infra
from tests.polling import eventually
from tests.quiet_day import attached, quiet_stack
from wardlink.stack import Stack

infra, browser = rig.infra, rig.browser
ALERT_S = 90_000  # ms: a fault takes simulated minutes (seconds at 120x) to become an alert, more on a loaded machine


@pytest.fixture
async def stack(infra: Infra, tmp_path: Path) -> AsyncIterator[Stack]:
    config = quiet_stack(infra, tmp_path, reference_data=True, carriers_per_hour=60, seed=7)
    async with Stack(config) as running:
        yield running


@pytest.fixture
async def engineer(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.api_url, headers=await bearer(stack, "engineer"), timeout=15) as api:
        await attached(api)
        yield api


async def inject(api: httpx.AsyncClient, fault: str, device: str, **params: Any) -> str:
    body = {"simulator": "hospital", "fault": fault, "target": device, "minutes": 240, "params": params}
    answer = (await api.post("/api/v1/simulation/faults", json=body)).json()
    assert answer["status"] == "accepted", answer
    return str(answer["fault_id"])


async def lands(browser: Browser, stack: Stack, role: str) -> tuple[BrowserContext, Page]:
    """A new user of `role` logs in through the form and lands on their role's page."""
    name, password = await new_user(stack, role)
    context = await browser.new_context(base_url=stack.api_url, viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    await page.goto("/login")
    await page.get_by_label("User name").fill(name)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url(f"**/{role}")
    return context, page


async def test_the_lab_and_pharmacy_each_see_their_faults_on_landing_and_the_fridge_stays_until_acknowledged(
    stack: Stack, engineer: httpx.AsyncClient, browser: Browser
) -> None:
    await inject(engineer, "jam", "sorter-1")
    await inject(engineer, "zone_blocked", "tubes-1", zone="zone-b")
    warming = await inject(engineer, "fridge_warming", "cabinet-1", target=12.0)

    lab_context, lab = await lands(browser, stack, "lab")
    pharmacy_context, pharmacy = await lands(browser, stack, "pharmacy")
    try:
        jam = lab.locator('#inbox li[data-kind="device.fault"]').filter(has_text="jammed")
        zone = lab.locator('#inbox li[data-kind="device.fault"]').filter(has_text="zone-b blocked")
        await expect(jam).to_have_count(1, timeout=ALERT_S)
        await expect(zone).to_have_count(1, timeout=ALERT_S)
        await expect(jam.locator(".severity")).to_have_text("Critical")
        await expect(lab.locator('#inbox li[data-kind="cabinet.cold_chain"]')).to_have_count(0)
        await rig.screenshot(lab, "demo-lab-landing")

        cold = pharmacy.locator('#inbox li[data-kind="cabinet.cold_chain"]')
        await expect(cold).to_have_count(1, timeout=ALERT_S)
        await expect(cold).to_have_attribute("data-state", "raised")
        await expect(pharmacy.locator('#inbox li[data-kind="device.fault"]')).to_have_count(0)
        await rig.screenshot(pharmacy, "demo-pharmacy-landing")

        cleared = await engineer.delete(f"/api/v1/simulation/faults/{warming}")
        assert cleared.status_code < 300, cleared.text
        await expect(cold).to_have_attribute("data-state", "owed", timeout=ALERT_S)  # cool again, still listed
        await cold.get_by_role("button", name="Acknowledge").click()
        await cold.get_by_label("Note (optional)").fill("insulin moved to the pharmacy fridge")
        await cold.get_by_role("button", name="Acknowledge", exact=True).click()
        await expect(cold).to_have_count(0, timeout=rig.LIVE_S)

        async def history() -> list[dict[str, Any]]:
            found = await engineer.get("/api/v1/alerts", params={"kind": "cabinet.cold_chain", "audience": "all"})
            return [a for a in found.json()["data"] if a["acknowledged"] and not a["active"]]

        [answered] = await eventually(history, what="the cold-chain alert, cleared and acknowledged")
        assert answered["details"]["acknowledgement_note"] == "insulin moved to the pharmacy fridge"
    finally:
        await lab_context.close()
        await pharmacy_context.close()
