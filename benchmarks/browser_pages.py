"""The dashboard's pages in a real browser for the network benchmark: Chromium (Playwright, Debian's binary) logs in
as each role and times navigation start -> the board's first data rows, after a warm-up."""

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
BOARDS = {
    # The lab board's first specimen row; the pharmacy's deliveries board filled (its rows, or "No delivery is on
    # its way." where none is in progress).
    "lab": ("/lab", "document.querySelector('#board tr[data-barcode]')"),
    "pharmacy": (
        "/pharmacy",
        "(() => { const b = document.querySelector('#deliveries');"
        " return b && !b.textContent.includes('Loading') ? b : null; })()",
    ),
}


async def page_times(api_url: str, users: dict[str, tuple[str, str]], runs: int = 3) -> dict[str, list[float]]:
    """{role: [ms from navigation start to the board's first data rows]} in headless Chromium, after a warm-up."""
    from playwright.async_api import async_playwright

    found: dict[str, list[float]] = {}
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        try:
            for role, (path, board) in BOARDS.items():
                # bypass_csp: the page's policy (script-src 'self') forbids the eval Playwright's wait relies on
                context = await browser.new_context(
                    base_url=api_url, viewport={"width": 1280, "height": 900}, bypass_csp=True
                )
                name, password = users[role]
                response = await context.request.post(
                    "/api/v1/auth/login", data={"username": name, "password": password}
                )
                assert response.ok, await response.text()
                found[role] = []
                for attempt in range(runs + 1):
                    page = await context.new_page()
                    await page.goto(path, wait_until="commit")
                    # performance.now() is ms since the navigation started, read on the frame the rows appear in
                    handle = await page.wait_for_function(f"{board} ? performance.now() : null", timeout=60_000)
                    if attempt:  # the first is a warm-up (the static files into the browser's cache)
                        found[role].append(float(await handle.json_value()))
                    await page.close()
                await context.close()
        finally:
            await browser.close()
    return found
