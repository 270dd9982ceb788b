"""Tests the mapping has no category for: a laboratory system sends orders and results for every test, wardlink
tracks the tubes of the tests its `categories` name. Under `unmapped_tests: skip` (the default) the others are
answered AA and left out, the code logged once; under `reject` the message is answered AE (table value not found).
"""

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from gateway.service import Gateway
from gateway.settings import GatewaySettings
from gateway.storage.clinical_tables import clinical_dead_letters, hl7_messages, hl7_orders
from gateway.storage.tables import events
from tests.auth import authorised
from tests.clock import SteppedClock
from tests.gateway.clinical.hl7.conftest import MAPPING
from tests.gateway.clinical.hl7.rig import ack_code, err, message, send, text

UNMAPPED = "0000-0^Unknown panel^LN"
SECOND_TUBE = (
    "\rORC|NW|ORD-7722^LIS"
    "\rOBR|2|ORD-7722^LIS||0000-0^Unknown panel^LN|||20261206101000|||rn-0421^Nurse^Nina"
    "\rSPM|2|BC-100232&LIS||119297000^Blood specimen^SCT|||||||||||||20261206101000"
)
"""A second order of the same message, for a test the mapping does not name, with its own tube."""


def _url(gateway: Gateway) -> str:
    assert gateway.hl7_url is not None
    return gateway.hl7_url


async def rows(gateway: Gateway, table: sa.Table) -> list[dict[str, Any]]:
    assert gateway.store is not None
    async with gateway.store.db.engine.connect() as connection:
        return [dict(row) for row in (await connection.execute(sa.select(table))).mappings()]


async def metric(gateway: Gateway, name: str) -> float | None:
    async with authorised(gateway, "engineer") as engineer:
        response = await engineer.get("/metrics")
    found = [s.value for f in text_string_to_metric_families(response.text) for s in f.samples if s.name == name]
    return found[0] if found else None


@pytest.fixture
async def rejecting_gateway(
    gateway_settings: GatewaySettings, tmp_path: Path, clock: SteppedClock
) -> AsyncIterator[Gateway]:
    path = tmp_path / "rejecting.yaml"
    path.write_text(MAPPING + "unmapped_tests: reject\n")
    settings = gateway_settings.model_copy(
        update={"hl7_port": 0, "hl7_mapping": path, "alerts_every_s": 3600, "ingest_batch_wait_ms": 5}
    )
    async with Gateway(settings, clock=clock) as running:
        yield running


async def test_an_order_for_an_unmapped_test_is_answered_aa_and_tracks_nothing(
    hl7_gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.clinical.hl7")
    first = await send(_url(hl7_gateway), message("oml_o21_collected", OBR_F4=UNMAPPED))
    second = await send(_url(hl7_gateway), message("oml_o21_collected", OBR_F4=UNMAPPED, MSH_F10="OML-0002"))

    assert [ack_code(first), ack_code(second)] == ["AA", "AA"]
    assert await rows(hl7_gateway, events) == []
    assert await rows(hl7_gateway, hl7_orders) == []
    assert await rows(hl7_gateway, clinical_dead_letters) == []
    assert sorted(row["ack_code"] for row in await rows(hl7_gateway, hl7_messages)) == ["AA", "AA"]
    assert len([r for r in caplog.records if "'0000-0'" in r.getMessage()]) == 1  # once per code
    assert await metric(hl7_gateway, "wardlink_hl7_unmapped_tests_total") == 2


async def test_a_tracked_tube_is_kept_when_the_same_message_orders_an_unmapped_test(
    hl7_gateway: Gateway, hl7_api: httpx.AsyncClient
) -> None:
    reply = await send(_url(hl7_gateway), (text("oml_o21_collected").rstrip("\r") + SECOND_TUBE).encode())

    assert ack_code(reply) == "AA"
    assert [order["barcode"] for order in await rows(hl7_gateway, hl7_orders)] == ["BC-100231"]
    assert (await hl7_api.get("/api/v1/specimens/BC-100231")).json()["status"] == "collected"
    assert (await hl7_api.get("/api/v1/specimens/BC-100232")).status_code == 404


async def test_the_result_of_an_unmapped_test_does_not_result_the_tracked_tube(
    hl7_gateway: Gateway, hl7_api: httpx.AsyncClient
) -> None:
    """The same tube may carry a tracked and an untracked test: only the tracked test's result releases it."""
    assert ack_code(await send(_url(hl7_gateway), message("oml_o21_collected"))) == "AA"
    other = await send(_url(hl7_gateway), message("oru_r01_final", OBR_F4=UNMAPPED))

    assert ack_code(other) == "AA"
    found = (await hl7_api.get("/api/v1/specimens/BC-100231")).json()
    assert (found["status"], found["resulted_at"]) == ("collected", None)
    assert [e["type"] for e in await rows(hl7_gateway, events)] == ["specimen.collected"]
    [order] = await rows(hl7_gateway, hl7_orders)
    assert order["result_status"] is None


@pytest.mark.parametrize("name", ["oml_o21_collected", "orm_o01_ordered", "oru_r01_final", "oul_r22_preliminary"])
async def test_under_reject_an_unmapped_test_is_answered_ae(rejecting_gateway: Gateway, name: str) -> None:
    reply = await send(_url(rejecting_gateway), message(name, OBR_F4=UNMAPPED))

    assert ack_code(reply) == "AE"
    assert (err(reply)["location"], err(reply)["code"]) == ("OBR^1^4", "103")
    assert "test code '0000-0' is not in the mapping" in err(reply)["message"]
    assert await rows(rejecting_gateway, events) == []
    assert await rows(rejecting_gateway, hl7_orders) == []
    [letter] = await rows(rejecting_gateway, clinical_dead_letters)
    assert letter["ack_code"] == "AE"


async def test_under_reject_a_mapped_test_is_taken(rejecting_gateway: Gateway) -> None:
    assert ack_code(await send(_url(rejecting_gateway), message("oml_o21_collected"))) == "AA"
    assert [e["type"] for e in await rows(rejecting_gateway, events)] == ["specimen.collected"]
