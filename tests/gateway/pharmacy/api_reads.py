"""Reading the pharmacy API in tests: a GET that must answer 200, a GET polled until it says what is expected, and
a fridge reading as the edge publishes it."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx

from contract import Reading, Telemetry
from tests.pharmacy_events import EDGE, SITE, T0
from tests.polling import eventually


async def get(api: httpx.AsyncClient, path: str, **params: Any) -> dict[str, Any]:
    response = await api.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def until(api: httpx.AsyncClient, path: str, accept: Callable[[dict[str, Any]], Any], **params: Any) -> Any:
    async def probe() -> dict[str, Any]:
        response = await api.get(path, params=params)
        return response.json() if response.status_code == 200 else {}

    return await eventually(probe, lambda body: bool(body) and accept(body), what=f"{path} {params}")


def fridge(minute: float, celsius: float) -> Telemetry:
    return Telemetry(
        site=SITE,
        edge=EDGE,
        device="cabinet-1",
        at=T0 + timedelta(minutes=minute),
        readings=[
            Reading(metric="fridge_temperature", value=celsius, unit="°C"),
            Reading(metric="fridge_setpoint", value=5),
        ],
    )
