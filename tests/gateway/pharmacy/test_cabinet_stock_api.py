"""A cabinet over the API as the pharmacy reads it: stock per item summed over its bins against par (the same items
as the pick list), the fridge's current temperature beside an alarm raised at an older one, and the fridge's lines
flagged for a check after an excursion."""

from collections.abc import Callable
from typing import Any

import httpx

from tests.gateway.pharmacy.api_reads import fridge, get, until
from tests.pharmacy_events import IBUPROFEN, INSULIN, PARACETAMOL, Seq, cabinet_event, item

C = "cabinet-1"


async def test_thirteen_on_hand_over_two_bins_is_below_a_par_of_25_in_the_stock_table_and_on_the_pick_list(
    api: httpx.AsyncClient, edge: Callable[..., Any]
) -> None:
    n = Seq()
    stock = [item("D1-01", PARACETAMOL, 9), item("D2-04", PARACETAMOL, 4, lot="L02B002"), item("D1-02", IBUPROFEN, 6)]
    await edge(cabinet_event("cabinet.inventory_reported", C, 0, n(), bins=stock))
    cabinet = await until(api, f"/api/v1/cabinets/{C}", lambda b: b["inventory_at"] is not None)
    assert [(i["gtin"], i["on_hand"], i["par_min"], i["bins"], i["below_par"]) for i in cabinet["items"]] == [
        (PARACETAMOL, 13, 25, ["D1-01", "D2-04"], True),
        (IBUPROFEN, 6, 5, ["D1-02"], False),
        (INSULIN, 0, 4, [], True),  # par set, none held: a row at 0, not missing from the table
    ]
    assert cabinet["below_par"] == 2
    picks = await get(api, "/api/v1/replenishment")
    assert [(p["gtin"], p["on_hand"], p["quantity"], p["bins"]) for p in picks["data"]] == [
        (PARACETAMOL, 13, 27, ["D1-01", "D2-04"]),
        (INSULIN, 0, 8, []),
    ]
    assert picks["unknown_stock"] == []


async def test_an_alarm_raised_at_9_4_degrees_shows_beside_the_fridges_current_temperature(
    api: httpx.AsyncClient, edge: Callable[..., Any]
) -> None:
    await edge(fridge(19, 9.4))
    await edge(
        cabinet_event("cabinet.alarm_raised", C, 20, 1, alarm="temperature_out_of_range", detail="fridge 9.4 °C")
    )
    await edge(fridge(25, 12.1))
    listed = await until(api, "/api/v1/cabinets", lambda b: b["count"] == 1 and b["data"][0]["temperature_c"] == 12.1)
    summary = listed["data"][0]
    assert (summary["temperature_c"], summary["temperature_at"]) == (12.1, "2026-11-23T08:25:00Z")
    assert [(a["alarm"], a["since"]) for a in summary["alarms"]] == [
        ("temperature_out_of_range", "2026-11-23T08:20:00Z")
    ]


async def test_after_an_excursion_the_items_in_the_fridge_are_to_be_checked_and_the_others_not(
    api: httpx.AsyncClient, edge: Callable[..., Any]
) -> None:
    n = Seq()
    stock = [item("D1-01", PARACETAMOL, 30), item("F-01", INSULIN, 5)]
    await edge(cabinet_event("cabinet.inventory_reported", C, 0, n(), bins=stock))
    await edge(*(fridge(m, c) for m, c in ((1, 5.0), (2, 9.1), (3, 10.4), (4, 7.2), (5, 5.0))))
    # Every reading is in: the embedded broker may deliver minute 5 before minute 4, so neither the latest reading's
    # time nor its value (the first read 5.0 °C too) says that all five are stored; the fridge's series does.
    await until(api, f"/api/v1/cabinets/{C}/temperature", lambda b: b["count"] == 5)
    cabinet = await get(api, f"/api/v1/cabinets/{C}")
    assert cabinet["temperature_at"] == "2026-11-23T08:05:00Z"
    excursion = {"started_at": "2026-11-23T08:02:00Z", "ended_at": "2026-11-23T08:04:00Z", "max_c": 10.4, "min_c": 9.1}
    assert cabinet["excursion"] == excursion
    assert [(i["gtin"], i["cold"], i["check"]) for i in cabinet["items"] if i["on_hand"]] == [
        (PARACETAMOL, False, None),
        (INSULIN, True, excursion),
    ]
