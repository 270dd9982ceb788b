"""The dashboard's pages over a real socket: who is sent where, what a wrong role sees, and how files are cached.

The browser tests (`test_dashboard_browser.py`) cover what the pages do; these cover what the server decides.
"""

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from device_profiles.maps import MAPS_DIR
from gateway.service import Gateway
from gateway.settings import GatewaySettings
from gateway.tracking.devices.site_map import MapFileError, site_map
from tests.auth import authorised, logged_in
from tests.dashboard_rig import Delivery, Journey, robot_telemetry
from tests.paths import ROOT


@pytest.fixture
async def gateway(gateway_settings: GatewaySettings) -> AsyncIterator[Gateway]:
    """A running gateway that knows the robots' map (as `wardlink demo` starts it)."""
    settings = gateway_settings.model_copy(update={"ingest_batch_wait_ms": 5, "maps_dir": MAPS_DIR})
    async with Gateway(settings) as running:
        yield running


@pytest.fixture
async def anonymous(gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=gateway.api_url, timeout=10) as client:
        yield client


MODULES = sorted((ROOT / "gateway" / "dashboard" / "static" / "js").glob("*.js"))


def asset_urls(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="(/static/[^"]+)"', html)


# -- who goes where ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/", "/lab", "/lab/specimens/S1", "/pharmacy", "/engineering"])
async def test_anonymous_callers_are_sent_to_the_login_page(anonymous: httpx.AsyncClient, path: str) -> None:
    response = await anonymous.get(path)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")
    if path != "/":
        assert response.headers["location"] == "/login?next=" + path.replace("/", "%2F")


async def test_the_login_page_is_a_form_with_labelled_fields(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get("/login")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<label for="username">' in response.text
    assert '<label for="password">' in response.text
    assert "/js/login.js" in response.text


@pytest.mark.parametrize(
    ("role", "home"), [("lab", "/lab"), ("pharmacy", "/pharmacy"), ("engineer", "/engineering"), ("admin", "/lab")]
)
async def test_the_root_sends_each_role_to_its_home(gateway: Gateway, role: str, home: str) -> None:
    async with logged_in(gateway, role) as client:
        response = await client.get("/")
    assert (response.status_code, response.headers["location"]) == (303, home)


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("lab", {"/lab", "/alerts"}),
        ("pharmacy", {"/pharmacy", "/alerts"}),
        ("engineer", {"/engineering", "/alerts"}),
        ("admin", {"/lab", "/pharmacy", "/engineering", "/alerts", "/admin"}),
    ],
)
async def test_each_role_opens_its_views_and_is_refused_the_others(
    gateway: Gateway, role: str, allowed: set[str]
) -> None:
    async with logged_in(gateway, role) as client:
        for path in ("/lab", "/pharmacy", "/engineering", "/alerts", "/admin"):
            response = await client.get(path)
            assert response.status_code == (200 if path in allowed else 403), path
            assert response.headers["cache-control"] == "no-store"
            nav = re.findall(r'<nav aria-label="Views">(.*?)</nav>', response.text)[0]
            assert set(re.findall(r'href="([^"]+)"', nav)) == allowed  # the menu offers only what opens


async def test_a_lab_user_refused_the_engineering_view_is_told_which_role_it_needs(gateway: Gateway) -> None:
    async with logged_in(gateway, "lab") as client:
        response = await client.get("/engineering")
    assert response.status_code == 403
    assert "The Engineering view needs the admin or engineer role" in response.text
    assert "with the lab role" in response.text


# -- specimens and wards -------------------------------------------------------------------------------------------
async def test_a_ward_scoped_user_gets_not_found_for_another_wards_specimen(gateway: Gateway) -> None:
    assert gateway.store is not None
    ours, theirs = Journey("S-OURS", ward="ward-3a"), Journey("S-THEIRS", ward="icu")
    await gateway.store.events.commit_batch([ours.collected(), theirs.collected()])
    async with logged_in(gateway, "lab", wards=("ward-3a",)) as client:
        mine = await client.get("/lab/specimens/S-OURS")
        guessed = await client.get("/lab/specimens/S-THEIRS")
        unknown = await client.get("/lab/specimens/S-NOBODY")
    assert mine.status_code == 200
    assert 'data-barcode="S-OURS"' in mine.text
    assert guessed.status_code == 404
    assert "No specimen S-THEIRS that you may see" in guessed.text
    assert unknown.status_code == 404  # the same answer as an unknown barcode: a guess tells nothing
    assert guessed.text.replace("S-THEIRS", "X") == unknown.text.replace("S-NOBODY", "X")


async def test_the_scan_form_works_before_its_script_has_loaded(gateway: Gateway) -> None:
    """A scanner's Enter may come before the page's JavaScript: the plain form GET lands on the specimen."""
    async with logged_in(gateway, "lab") as client:
        response = await client.get("/lab", params={"barcode": " S 1/2 "})
    assert (response.status_code, response.headers["location"]) == (303, "/lab/specimens/S%201%2F2")


async def test_the_hospital_clock_is_the_gateways_clock(gateway_settings: GatewaySettings) -> None:
    """During a simulated day the pages judge "now" and "the last 24 h" by the simulation's clock."""
    simulated = datetime(2026, 11, 22, 7, 30, tzinfo=UTC)
    async with Gateway(gateway_settings, clock=lambda: simulated) as running, authorised(running, "lab") as client:
        response = await client.get("/api/v1/clock")
    assert response.json() == {"now": "2026-11-22T07:30:00Z"}


async def test_an_unscoped_user_may_open_a_specimen_before_it_arrives(gateway: Gateway) -> None:
    """The page waits for it live: a tube scanned at the bench before the LIS reported its collection."""
    async with logged_in(gateway, "lab") as client:
        response = await client.get("/lab/specimens/S-SOON")
    assert response.status_code == 200


async def test_a_barcode_that_cannot_be_one_is_not_found_with_the_reason(gateway: Gateway) -> None:
    async with logged_in(gateway, "lab") as client:
        response = await client.get("/lab/specimens/%3Cscript%3E")
    assert response.status_code == 404
    assert "barcode &#x27;&lt;script&gt;&#x27; contains" in response.text  # escaped, never markup


# -- static files --------------------------------------------------------------------------------------------------
async def test_static_files_are_served_under_a_versioned_path_and_cached_for_good(gateway: Gateway) -> None:
    async with logged_in(gateway, "lab") as client:
        page = await client.get("/lab")
        urls = asset_urls(page.text)
        assert {u.rsplit("/", 2)[-2] + "/" + u.rsplit("/", 1)[-1] for u in urls} >= {"css/dashboard.css", "js/lab.js"}
        for url in urls:
            response = await client.get(url)
            assert response.status_code == 200, url
            assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        script = await client.get(next(u for u in urls if u.endswith("/js/lab.js")))
        assert script.headers["content-type"].startswith("text/javascript")
        stale = await client.get("/static/0000oldrelease/js/lab.js")
        assert (stale.status_code, stale.headers["cache-control"]) == (200, "no-cache")
        for missing in ("/static/x/js/nothing.js", "/static/x/js/..%2F..%2Fpages.py", "/static/x/..%2Fassets.py"):
            assert (await client.get(missing)).status_code == 404, missing


async def test_every_module_a_page_imports_is_served(gateway: Gateway, anonymous: httpx.AsyncClient) -> None:
    """The JavaScript modules import each other by relative path: each import must resolve to a file."""
    login = await anonymous.get("/login")
    base = asset_urls(login.text)[0].rsplit("/", 2)[0]
    for module in MODULES:
        for imported in re.findall(r'from "\./([\w.]+)"', module.read_text()):
            response = await anonymous.get(f"{base}/js/{imported}")
            assert response.status_code == 200, f"{module.name} imports {imported}"


# -- robots on the map ---------------------------------------------------------------------------------------------
async def test_robots_are_placed_on_the_sites_node_graph_with_their_battery(gateway: Gateway) -> None:
    assert gateway.store is not None
    await gateway.store.telemetry.commit([robot_telemetry("robot-1", battery=64.5, x=1, y=7)])  # by the charger
    async with authorised(gateway, "pharmacy") as client:
        response = await client.get("/api/v1/robots")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["graph"]["name"] == "general-hospital"
    assert body["graph"]["floors"] == ["floor-0", "floor-3", "floor-4"]
    assert [(r["robot"], r["battery_pct"], r["node"], r["floor"]) for r in body["data"]] == [
        ("robot-1", 64.5, "charger-0", "floor-0")
    ]


async def test_a_ward_scoped_caller_does_not_learn_another_wards_delivery_from_a_robot(gateway: Gateway) -> None:
    assert gateway.store is not None
    delivery = Delivery("D-3A-1")  # for ward-3a, on robot-1
    await gateway.store.events.commit_batch([delivery.created(), delivery.accepted()])
    await gateway.store.telemetry.commit([robot_telemetry("robot-1", battery=80, x=0, y=0)])
    carried = {}
    for ward in ("ward-3a", "icu"):
        async with authorised(gateway, "pharmacy", wards=(ward,)) as client:
            carried[ward] = [r["delivery"] for r in (await client.get("/api/v1/robots")).json()["data"]]
    assert carried == {"ward-3a": ["D-3A-1"], "icu": [None]}


async def test_the_robots_route_is_not_for_the_lab(gateway: Gateway) -> None:
    async with authorised(gateway, "lab") as client:
        assert (await client.get("/api/v1/robots")).status_code == 403


def test_a_broken_map_file_names_the_file_and_the_field(tmp_path: Path) -> None:
    (tmp_path / "general-hospital.yaml").write_text(
        "name: general-hospital\nnodes: [{id: a, map: f0, x: 0, y: 0}]\nedges: [{id: e1, start: a, end: b}]\n"
    )
    with pytest.raises(MapFileError, match=r"general-hospital.yaml: edges.0: no node named 'b'"):
        site_map(tmp_path, "general-hospital")
    assert site_map(tmp_path, "another-site") is None
    assert site_map(None, "general-hospital") is None


# -- languages ------------------------------------------------------------------------------------------------------
async def test_a_page_is_in_the_browsers_language_until_the_person_chooses(gateway: Gateway) -> None:
    async with logged_in(gateway, "lab") as client:
        chinese = await client.get("/lab", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
        assert '<html lang="zh-CN">' in chinese.text
        assert "扫描或输入标本条码" in chinese.text
        assert "{{" not in chinese.text
        client.cookies.set("wardlink_lang", "en")
        chosen = await client.get("/lab", headers={"Accept-Language": "zh-CN"})
        assert '<html lang="en">' in chosen.text
        assert "Scan or type a specimen barcode" in chosen.text


async def test_the_login_page_follows_the_browsers_language(anonymous: httpx.AsyncClient) -> None:
    page = await anonymous.get("/login", headers={"Accept-Language": "zh-CN"})
    assert '<html lang="zh-CN">' in page.text
    assert "用户名" in page.text
