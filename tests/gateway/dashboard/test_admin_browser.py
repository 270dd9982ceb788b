"""The administration screens in a real browser (Debian chromium driven by Playwright), as an admin.

Users are created, refused a weak password (the API's reason next to the field), disabled after a confirmation
(and then cannot log in); a service token is created, its secret shown once, and revoked; a reference CSV is
refused with its problems per line and field, then imported and listed; the audit trail is filtered and its
CSV export holds exactly the filtered rows. The screens render in Chinese and fit a tablet. Screenshots go to
tests/artifacts/.
"""

import asyncio
import csv
import io
import re
from pathlib import Path

import httpx
from playwright.async_api import Browser, BrowserContext, Page, expect

from gateway.service import Gateway
from tests import browser_rig as rig
from tests.auth import new_user

infra, gateway, browser, context = rig.infra, rig.gateway, rig.browser, rig.context

PASSWORD = "orchid lantern tide 47"
LOCATIONS_CSV = (
    "id,name,kind\nward-3a,Ward 3A (Cardiology),ward\nward-4b,Ward 4B (Oncology),ward\nlab-main,Main laboratory,lab\n"
)
BROKEN_STAFF_CSV = "badge,name,role\nrn-1001,K. Okafor,nurse\nrn-1002,,nurse\n"


async def _admin(context: BrowserContext, gateway: Gateway, path: str) -> Page:
    page = await rig.logged_in_page(context, gateway, "admin")
    await page.goto(path)
    return page


async def test_an_admin_creates_a_user_then_disables_it_and_it_cannot_log_in(
    gateway: Gateway, context: BrowserContext
) -> None:
    page = await _admin(context, gateway, "/admin/users")
    form = page.locator("#new-user")
    await form.get_by_label("Name").fill("rn-ward4b")
    await form.get_by_label("Role").select_option("pharmacy")
    await form.get_by_label("Wards").fill("ward-4b, ward-3a")
    await form.get_by_label("Initial password").fill("Password2024!")
    await form.get_by_role("button", name="Create user").click()
    # The API's reason, next to the field it is about.
    await expect(page.locator("#user-password-error")).to_contain_text("list of common and breached passwords")
    await expect(form.get_by_label("Initial password")).to_have_attribute("aria-invalid", "true")

    await form.get_by_label("Initial password").fill(PASSWORD)
    await form.get_by_role("button", name="Create user").click()
    await expect(page.locator("#users-status")).to_have_text("User rn-ward4b created.")
    row = page.locator('#users tr[data-user="rn-ward4b"]')
    await expect(row).to_contain_text("Pharmacy")
    await expect(row).to_contain_text("ward-4b, ward-3a")
    await expect(row).to_contain_text("active")
    await expect(row).to_contain_text("never")  # no login yet

    await row.get_by_role("button", name="Disable").click()
    dialog = page.get_by_role("dialog")
    await expect(dialog).to_contain_text("Disable rn-ward4b?")
    await rig.screenshot(page, "admin-users-confirm-disable")
    await dialog.get_by_role("button", name="Disable").click()
    await expect(row).to_contain_text("disabled")
    await expect(row.get_by_role("button", name="Enable")).to_be_visible()
    await rig.screenshot(page, "admin-users")

    async with httpx.AsyncClient(base_url=gateway.api_url) as client:
        login = await client.post("/api/v1/auth/login", json={"username": "rn-ward4b", "password": PASSWORD})
    assert login.status_code == 403
    assert "disabled" in login.json()["detail"]


async def test_an_admin_resets_a_password_and_changes_wards_in_a_dialog(
    gateway: Gateway, context: BrowserContext
) -> None:
    name, _ = await new_user(gateway, "lab", name="lab-reset-me")
    page = await _admin(context, gateway, "/admin/users")
    row = page.locator(f'#users tr[data-user="{name}"]')
    await row.get_by_role("button", name="Reset password").click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_label("New password").fill("short")
    await dialog.get_by_role("button", name="Reset password").click()
    await expect(dialog.locator(".field-error")).to_contain_text("String should have at least 12 characters")
    await dialog.get_by_label("New password").fill(PASSWORD)
    await dialog.get_by_role("button", name="Reset password").click()
    await expect(page.locator("#users-status")).to_contain_text(f"The password of {name} is changed")

    await row.get_by_role("button", name="Change wards").click()
    await page.get_by_role("dialog").get_by_label("Wards").fill("ward-3a")
    await page.get_by_role("dialog").get_by_role("button", name="Save").click()
    await expect(row).to_contain_text("ward-3a")
    async with httpx.AsyncClient(base_url=gateway.api_url) as client:
        login = await client.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD})
    assert login.json()["wards"] == ["ward-3a"]


async def test_an_admin_creates_a_token_sees_its_secret_once_and_revokes_it(
    gateway: Gateway, context: BrowserContext
) -> None:
    page = await _admin(context, gateway, "/admin/tokens")
    form = page.locator("#new-token")
    await form.get_by_label("Name").fill("lab system")
    await form.get_by_role("button", name="Create token").click()
    await expect(page.locator("#token-name-error")).to_contain_text("String should match pattern")

    await form.get_by_label("Name").fill("lab-system")
    await form.get_by_label("Expires after (days)").fill("30")
    await form.get_by_role("button", name="Create token").click()
    await expect(page.locator("#token-secret")).to_be_visible()
    await expect(page.locator("#token-secret")).to_contain_text("shown only this once")
    secret = await page.locator("#token-secret-value").input_value()
    assert len(secret) > 30
    await page.get_by_role("button", name="Copy").click()
    await expect(page.locator("#token-copied")).to_be_visible()
    row = page.locator("#tokens tr", has_text="lab-system")
    await expect(row).to_contain_text("active")
    await rig.screenshot(page, "admin-tokens-created")

    async with httpx.AsyncClient(base_url=gateway.api_url, headers={"Authorization": f"Bearer {secret}"}) as client:
        assert (await client.get("/api/v1/auth/me")).status_code == 200
        await row.get_by_role("button", name="Revoke").click()
        await expect(page.get_by_role("dialog")).to_contain_text("Revoke the token lab-system?")
        await page.get_by_role("dialog").get_by_role("button", name="Revoke").click()
        await expect(row).to_contain_text("revoked")
        await expect(row.get_by_role("button", name="Revoke")).to_have_count(0)
        assert (await client.get("/api/v1/auth/me")).status_code == 401
    await rig.screenshot(page, "admin-tokens-revoked")


async def test_a_refused_reference_file_lists_its_problems_and_an_imported_one_is_listed(
    gateway: Gateway, context: BrowserContext, tmp_path: Path
) -> None:
    broken, good = tmp_path / "staff.csv", tmp_path / "locations.csv"
    broken.write_text(BROKEN_STAFF_CSV, encoding="utf-8")
    good.write_text(LOCATIONS_CSV, encoding="utf-8")
    page = await _admin(context, gateway, "/admin/reference")
    await expect(page.locator("#reference-version")).to_contain_text("none imported yet")

    form = page.locator("#reference-import")
    await form.get_by_label("File").set_input_files(broken)
    await form.get_by_role("button", name="Import").click()
    problem = page.locator("#import-result tbody tr")
    await expect(problem).to_have_count(1)
    await expect(problem).to_contain_text("staff.csv")
    await expect(problem.locator("td").nth(1)).to_have_text("3")  # the line, as a spreadsheet numbers it
    await expect(problem.locator("td").nth(2)).to_have_text("name")
    await expect(form.locator(".problem")).to_contain_text("nothing was imported")
    await rig.screenshot(page, "admin-reference-refused")

    await form.get_by_label("File").set_input_files(good)
    await form.get_by_label("Why (for the version history)").fill("wards of building A")
    await form.get_by_role("button", name="Import").click()
    await expect(page.locator("#import-result")).to_contain_text("Version 1 is in force: Locations 3")
    await expect(page.get_by_role("button", name="Locations (3)")).to_have_attribute("aria-pressed", "true")
    records = page.locator("#reference-records tbody tr")
    await expect(records).to_have_count(3)
    await page.get_by_label("Search").fill("oncology")
    await expect(records).to_have_count(1)
    await expect(records).to_contain_text("Ward 4B (Oncology)")
    await expect(page.locator("#reference-shown")).to_have_text("Showing 1 of 3.")
    await expect(page.locator("#reference-version")).to_contain_text("locations.csv")
    await rig.screenshot(page, "admin-reference")


async def test_the_audit_trail_is_filtered_and_the_export_holds_the_filtered_rows(
    gateway: Gateway, context: BrowserContext
) -> None:
    name, password = await new_user(gateway, "lab", name="lab-audited")
    async with httpx.AsyncClient(base_url=gateway.api_url) as client:
        for attempt in (password, "wrong password 1", password):
            await client.post("/api/v1/auth/login", json={"username": name, "password": attempt})
    page = await _admin(context, gateway, "/admin/audit")
    form = page.locator("#audit-filter")
    await form.get_by_label("Who").fill(name)
    await form.get_by_label("Action").select_option("login")
    await form.get_by_label("Outcome").select_option("ok")
    await form.get_by_role("button", name="Show").click()
    rows = page.locator("#audit tbody tr")
    await expect(rows).to_have_count(2)
    await expect(page.locator("#audit-count")).to_have_text("2 of 2 entries shown, newest first.")
    shown = sorted([await r.get_attribute("data-id") for r in await rows.all()], key=int)
    await rig.screenshot(page, "admin-audit")

    async with page.expect_download() as started:
        await page.get_by_role("link", name="Export CSV").click()
    download = await started.value
    text = await asyncio.to_thread(Path(await download.path()).read_text, encoding="utf-8")
    exported = list(csv.DictReader(io.StringIO(text)))
    assert [row["id"] for row in exported] == shown
    assert {(row["actor"], row["action"], row["outcome"]) for row in exported} == {(name, "login", "ok")}

    await form.get_by_label("Outcome").select_option("failed")
    await form.get_by_role("button", name="Show").click()
    await expect(rows).to_have_count(1)
    await expect(rows).to_contain_text("failed")

    # The time range, in the computer's local time: an "until" before "from" is refused at the field.
    await form.get_by_label("From").fill("2099-01-02T00:00:00")
    await form.get_by_label("Until").fill("2099-01-01T00:00:00")
    await form.get_by_role("button", name="Show").click()
    await expect(page.locator("#audit-until-error")).to_have_text("'Until' must be after 'From'.")
    await form.get_by_label("Until").fill("2099-01-03T00:00:00")
    await form.get_by_role("button", name="Show").click()
    await expect(page.locator("#audit")).to_have_text("No entries match this filter.")
    await expect(page.get_by_role("link", name="Export CSV")).to_have_attribute("href", re.compile(r"since=2099-01-0"))


async def test_the_admin_screens_render_in_chinese(gateway: Gateway, context: BrowserContext) -> None:
    await context.add_cookies([{"name": "wardlink_lang", "value": "zh-CN", "url": gateway.api_url}])
    page = await _admin(context, gateway, "/admin/users")
    await expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    await expect(page.get_by_role("heading", name="系统管理")).to_be_visible()
    await expect(page.locator("#new-user").get_by_label("初始密码")).to_be_visible()
    await expect(page.locator("#users th", has_text="最近登录")).to_be_visible()
    await expect(page.locator("#users tbody tr").first).to_contain_text("启用")
    await rig.screenshot(page, "admin-users-zh-CN")
    await page.get_by_role("link", name="审计日志").click()
    await expect(page.locator("#audit-count")).to_contain_text("最新的在前")
    await rig.screenshot(page, "admin-audit-zh-CN")


async def test_every_admin_screen_fits_a_tablet(gateway: Gateway, browser: Browser) -> None:
    tablet = await browser.new_context(base_url=gateway.api_url, viewport=rig.TABLET)
    try:
        page = await rig.logged_in_page(tablet, gateway, "admin")
        async with httpx.AsyncClient(base_url=gateway.api_url) as client:  # a long row for the audit table
            await client.post("/api/v1/auth/login", json={"username": "x" * 64, "password": "y" * 20})
        for screen in ("users", "tokens", "reference", "audit"):
            await page.goto(f"/admin/{screen}")
            await expect(page.locator("main")).not_to_contain_text("Loading…")  # every list has arrived
            assert await rig.no_horizontal_overflow(page) == 0, screen
            await rig.screenshot(page, f"admin-{screen}-tablet")
    finally:
        await tablet.close()
