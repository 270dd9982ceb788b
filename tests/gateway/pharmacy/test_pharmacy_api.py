"""The pharmacy's API against a running gateway: events and telemetry published over MQTT as an edge does, read
back over HTTP. Runs on the embedded amqtt + SQLite and on the real Mosquitto + PostgreSQL."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx

from contract import Event
from tests.clock import SteppedClock
from tests.gateway.pharmacy.api_reads import fridge, get, until
from tests.pharmacy_events import (
    IBUPROFEN,
    INSULIN,
    PARACETAMOL,
    SITE,
    T0,
    Seq,
    cabinet_event,
    delivery_event,
    item,
    journey,
)


# -- deliveries ----------------------------------------------------------------------------------------------------
async def test_where_is_a_delivery_its_progress_and_whether_it_is_overdue(
    api: httpx.AsyncClient, edge: Callable[..., Any], now: SteppedClock
) -> None:
    n = Seq()
    on_its_way = journey("D-1", priority="stat", seq=n)[:5]  # arrived at ward-3a at 08:15, due 08:30
    await edge(*reversed(on_its_way))  # the order of arrival does not matter
    body = await until(api, "/api/v1/deliveries/D-1", lambda b: b["event_count"] == 5)
    assert (body["status"], body["location"], body["robot"], body["ward"], body["order_id"]) == (
        "arrived",
        "ward-3a",
        "robot-1",
        "ward-3a",
        "PO-77",
    )
    assert body["items"] == [  # no reference data yet: no names
        {"gtin": PARACETAMOL, "medication_name": None, "medication_strength": None, "quantity": 20}
    ]
    assert body["progress"] == {
        "step": 5,
        "of": 7,
        "status": "arrived",
        "due_at": "2026-11-23T08:30:00Z",
        "overdue": False,
    }
    assert [(s["type"], s["place"], s["robot"], s["badge"]) for s in body["steps"]] == [
        ("delivery.created", None, None, None),
        ("delivery.accepted", None, "robot-1", None),
        ("delivery.loaded", None, "robot-1", "P-1001"),
        ("delivery.departed", "pharmacy", "robot-1", None),
        ("delivery.arrived", "ward-3a", "robot-1", None),
    ]

    now.now = T0 + timedelta(minutes=31)  # nobody has unloaded the robot: late
    late = await get(api, "/api/v1/deliveries/D-1")
    assert (late["overdue"], late["progress"]["overdue"]) == (True, True)
    overdue = await get(api, "/api/v1/deliveries", overdue="true")
    assert ([d["delivery"] for d in overdue["data"]], overdue["count"]) == (["D-1"], 1)

    await edge(
        delivery_event("delivery.handed_over", "D-1", 33, n(), robot="robot-1", drawer="A", badge="N-40217"),
        cabinet_event(
            "cabinet.item_restocked",
            "cabinet-1",
            36,
            n(),
            **item("D1-01", PARACETAMOL, 20, badge="N-40217", delivery="D-1"),
        ),
    )
    stocked = await until(api, "/api/v1/deliveries/D-1", lambda b: b["status"] == "stocked")
    assert (stocked["location"], stocked["handed_over_by"], stocked["overdue"]) == ("cabinet-1", "N-40217", False)
    assert stocked["progress"]["step"] == 7
    assert (await get(api, "/api/v1/deliveries", overdue="true"))["count"] == 0


async def test_the_delivery_list_filters_and_pages(api: httpx.AsyncClient, edge: Callable[..., Any]) -> None:
    n = Seq()
    failed = delivery_event("delivery.failed", "D-3", 12, n(), device="robot-2", robot="robot-2", reason="path blocked")
    await edge(*journey("D-1", seq=n), *journey("D-2", priority="routine", seq=n)[:4], failed)
    await until(api, "/api/v1/deliveries", lambda b: b["count"] == 3)
    assert [d["delivery"] for d in (await get(api, "/api/v1/deliveries"))["data"]] == ["D-1", "D-3", "D-2"]
    in_progress = await get(api, "/api/v1/deliveries", in_progress="true")
    assert [d["delivery"] for d in in_progress["data"]] == ["D-2"]
    failures = await get(api, "/api/v1/deliveries", status="failed")
    assert [(d["delivery"], d["failure_reason"], d["robot"]) for d in failures["data"]] == [
        ("D-3", "path blocked", "robot-2")
    ]
    assert (await get(api, "/api/v1/deliveries", robot="robot-2"))["count"] == 1
    assert (await get(api, "/api/v1/deliveries", ward="ward-3a"))["count"] == 2
    page = await get(api, "/api/v1/deliveries", limit=1, offset=1)
    assert ([d["delivery"] for d in page["data"]], page["count"]) == (["D-3"], 3)


async def test_an_unknown_delivery_is_a_problem_that_says_what_to_do(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/v1/deliveries/D-404")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert "no event about delivery D-404" in response.json()["detail"]
    bad = await api.get("/api/v1/deliveries", params={"status": "lost"})
    assert bad.status_code == 422


# -- cabinets ------------------------------------------------------------------------------------------------------
def morning(n: Seq) -> list[Event]:
    c = "cabinet-1"
    return [
        cabinet_event(
            "cabinet.inventory_reported",
            c,
            0,
            n(),
            bins=[item("D1-01", PARACETAMOL, 30), item("D1-02", IBUPROFEN, 6), item("F-01", INSULIN, 5)],
        ),
        cabinet_event("cabinet.door_opened", c, 10, n(), badge="N-40217"),
        cabinet_event(
            "cabinet.item_removed", c, 11, n(), **item("D1-01", PARACETAMOL, 6, badge="N-40217", order_id="MO-1")
        ),
        cabinet_event("cabinet.item_removed", c, 12, n(), **item("F-01", INSULIN, 2, badge="N-40217")),
        cabinet_event("cabinet.door_closed", c, 13, n(), badge="N-40217"),
        cabinet_event("cabinet.alarm_raised", c, 20, n(), alarm="temperature_out_of_range", detail="fridge 9.4 °C"),
    ]


async def test_a_cabinet_shows_its_state_and_each_bin_against_par(
    api: httpx.AsyncClient, edge: Callable[..., Any]
) -> None:
    await edge(*morning(Seq()))
    listed = await until(api, "/api/v1/cabinets", lambda b: b["count"] == 1 and b["data"][0]["event_count"] == 6)
    summary = listed["data"][0]
    assert (summary["cabinet"], summary["ward"], summary["door"], summary["door_since"]) == (
        "cabinet-1",
        "ward-3a",
        "closed",
        "2026-11-23T08:13:00Z",
    )
    assert (summary["last_access_at"], summary["last_access_by"]) == ("2026-11-23T08:12:00Z", "N-40217")
    assert [a["alarm"] for a in summary["alarms"]] == ["temperature_out_of_range"]
    assert summary["below_par"] == 2  # paracetamol 24 < 25, insulin 3 < 4

    cabinet = await get(api, "/api/v1/cabinets/cabinet-1")
    assert cabinet["refrigerated"] is True
    assert [
        (s["bin"], s["gtin"], s["lot"], s["expiry"], s["quantity"], s["par_min"], s["par_max"], s["below_par"])
        for s in cabinet["inventory"]
    ] == [
        ("D1-01", PARACETAMOL, "L01A001", "2027-06-30", 24, 25, 40, True),
        ("D1-02", IBUPROFEN, "L01A001", "2027-06-30", 6, 5, 10, False),
        ("F-01", INSULIN, "L01A001", "2027-06-30", 3, 4, 8, True),
    ]
    missing = await api.get("/api/v1/cabinets/cabinet-404")
    assert (missing.status_code, missing.headers["content-type"]) == (404, "application/problem+json")


async def test_the_replenishment_pick_list(api: httpx.AsyncClient, edge: Callable[..., Any]) -> None:
    await edge(*morning(Seq()))
    body = await until(api, "/api/v1/replenishment", lambda b: b["count"] == 2)
    assert body["data"] == [
        {
            "site": SITE,
            "cabinet": "cabinet-1",
            "cabinet_name": None,
            "ward": "ward-3a",
            "ward_name": None,
            "gtin": PARACETAMOL,
            "medication_name": None,
            "medication_strength": None,
            "on_hand": 24,
            "par_min": 25,
            "par_max": 40,
            "quantity": 16,
            "bins": ["D1-01"],
        },
        {
            "site": SITE,
            "cabinet": "cabinet-1",
            "cabinet_name": None,
            "ward": "ward-3a",
            "ward_name": None,
            "gtin": INSULIN,
            "medication_name": None,
            "medication_strength": None,
            "on_hand": 3,
            "par_min": 4,
            "par_max": 8,
            "quantity": 5,
            "bins": ["F-01"],
        },
    ]
    assert (await get(api, "/api/v1/replenishment", ward="icu")) == {"data": [], "count": 0, "unknown_stock": []}


async def test_the_access_log_says_who_took_what_and_when(api: httpx.AsyncClient, edge: Callable[..., Any]) -> None:
    await edge(*morning(Seq()))
    await until(api, "/api/v1/cabinets/cabinet-1", lambda b: b["event_count"] == 6)
    log = await get(api, "/api/v1/cabinets/cabinet-1/access")
    assert [(e["action"], e["badge"], e["gtin"], e["quantity"], e["order_id"]) for e in log["data"]] == [
        ("opened", "N-40217", None, None, None),
        ("removed", "N-40217", PARACETAMOL, 6, "MO-1"),
        ("removed", "N-40217", INSULIN, 2, None),  # no order: an override
        ("closed", "N-40217", None, None, None),
    ]
    window = await get(
        api, "/api/v1/cabinets/cabinet-1/access", since="2026-11-23T08:11:00Z", until="2026-11-23T08:12:00Z"
    )
    assert ([e["at"] for e in window["data"]], window["count"]) == (["2026-11-23T08:11:00Z"], 1)
    backwards = await api.get(
        "/api/v1/cabinets/cabinet-1/access", params={"since": "2026-11-23T09:00:00Z", "until": "2026-11-23T08:00:00Z"}
    )
    assert backwards.status_code == 422


async def test_the_fridge_temperature_history(api: httpx.AsyncClient, edge: Callable[..., Any]) -> None:
    await edge(cabinet_event("cabinet.door_opened", "cabinet-1", 0, 1, badge="N-40217"))
    await edge(*(fridge(minute, celsius) for minute, celsius in ((1, 5.1), (2, 7.9), (3, 9.6), (4, 6.2))))
    body = await until(api, "/api/v1/cabinets/cabinet-1/temperature", lambda b: b["count"] == 4)
    assert (body["cabinet"], body["metric"]) == ("cabinet-1", "fridge_temperature")
    assert [(p["at"], p["value"], p["unit"]) for p in body["data"]] == [
        ("2026-11-23T08:01:00Z", 5.1, "°C"),
        ("2026-11-23T08:02:00Z", 7.9, "°C"),
        ("2026-11-23T08:03:00Z", 9.6, "°C"),
        ("2026-11-23T08:04:00Z", 6.2, "°C"),
    ]  # the setpoint is another metric: not in this series
    window = await get(
        api, "/api/v1/cabinets/cabinet-1/temperature", since="2026-11-23T08:02:00Z", until="2026-11-23T08:04:00Z"
    )
    assert [p["value"] for p in window["data"]] == [7.9, 9.6]


async def test_before_its_first_inventory_a_cabinets_stock_against_par_is_unknown(
    api: httpx.AsyncClient, edge: Callable[..., Any]
) -> None:
    await edge(*morning(Seq())[1:])  # everything but the inventory snapshot
    summary = await until(api, "/api/v1/cabinets/cabinet-1", lambda b: b["event_count"] == 5)
    assert (summary["inventory_at"], summary["below_par"]) == (None, None)
    assert [(s["bin"], s["quantity"], s["below_par"]) for s in summary["inventory"]] == [
        ("D1-01", 0, None),  # movements alone: 6 taken from an unknown count
        ("F-01", 0, None),
    ]
    picks = await get(api, "/api/v1/replenishment")
    assert (picks["data"], picks["count"]) == ([], 0)  # not "every cabinet is at par": its stock is unknown
    assert [(c["cabinet"], c["ward"]) for c in picks["unknown_stock"]] == [("cabinet-1", "ward-3a")]
