"""The gateway's MLLP listener, over real sockets: a laboratory system's orders, container states and results
become specimen events; each message is answered AA, AE (with an ERR naming segment and field) or AR; a message
sent again changes nothing and raises no alert; a bad frame or non-HL7 bytes never end the connection."""

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from hl7.mllp import open_hl7_connection
from prometheus_client.parser import text_string_to_metric_families

from gateway.service import Gateway, GatewayStartError
from gateway.settings import GatewaySettings
from gateway.storage.clinical_tables import clinical_dead_letters, hl7_messages, hl7_orders
from gateway.storage.tables import events
from tests.auth import authorised
from tests.gateway.clinical.hl7.rig import ack_code, acked_id, err, exchange, message, mllp, send
from tests.polling import eventually


def _url(gateway: Gateway) -> str:
    assert gateway.hl7_url is not None
    return gateway.hl7_url


async def specimen(api: httpx.AsyncClient, barcode: str) -> dict[str, Any] | None:
    response = await api.get(f"/api/v1/specimens/{barcode}")
    return response.json() if response.status_code == 200 else None


async def rows(gateway: Gateway, table: sa.Table) -> list[dict[str, Any]]:
    assert gateway.store is not None
    async with gateway.store.db.engine.connect() as connection:
        return [dict(row) for row in (await connection.execute(sa.select(table))).mappings()]


async def test_the_listener_is_off_unless_a_port_is_set(gateway: Gateway) -> None:
    assert gateway.hl7_url is None


async def test_a_collected_order_is_acknowledged_and_the_specimen_is_collected_with_its_priority(
    hl7_gateway: Gateway, hl7_api: httpx.AsyncClient
) -> None:
    assert _url(hl7_gateway).startswith("mllp://127.0.0.1:")
    reply = await send(_url(hl7_gateway), message("oml_o21_collected"))

    assert (ack_code(reply), acked_id(reply)) == ("AA", "OML-0001")
    assert str(reply.extract_field("MSH", 1, 9, 1, 1)) == "ACK"
    found = await specimen(hl7_api, "BC-100231")
    assert found is not None
    assert (found["status"], found["priority"], found["category"], found["ward"]) == (
        "collected",
        "stat",
        "cbc",
        "ward-4b",
    )
    assert found["collected_at"] == "2026-12-06T10:10:00Z"
    [event] = await rows(hl7_gateway, events)
    assert (event["edge"], event["device"], event["site"]) == ("integration", "LIS", "general-hospital")
    assert event["body"]["data"] == {
        "priority": "stat",
        "category": "cbc",
        "ward": "ward-4b",
        "badge": "rn-0421",
        "order_id": "ORD-7721",
    }


async def test_the_same_message_again_is_answered_aa_stores_nothing_new_and_raises_no_alert(
    hl7_gateway: Gateway, hl7_api: httpx.AsyncClient
) -> None:
    first = await send(_url(hl7_gateway), message("oml_o21_collected"))
    before = await rows(hl7_gateway, events)
    async with mllp(_url(hl7_gateway)) as (reader, writer):  # the LIS retries after a timeout, twice
        again = [await exchange(reader, writer, message("oml_o21_collected")) for _ in range(2)]

    assert [ack_code(r) for r in (first, *again)] == ["AA", "AA", "AA"]
    assert [acked_id(r) for r in again] == ["OML-0001", "OML-0001"]
    assert await rows(hl7_gateway, events) == before
    [handled] = await rows(hl7_gateway, hl7_messages)
    assert (handled["sender"], handled["control_id"], handled["ack_code"]) == ("LIS^GHH", "OML-0001", "AA")
    assert handled["event_ids"] == [str(before[0]["id"])]
    assert hl7_gateway.alerts is not None
    await hl7_gateway.alerts.evaluate()
    assert (await hl7_api.get("/api/v1/alerts", params={"state": "open"})).json()["data"] == []
    assert await rows(hl7_gateway, clinical_dead_letters) == []


async def test_an_order_without_a_collection_time_waits_for_the_status_update_that_brings_it(
    hl7_gateway: Gateway, hl7_api: httpx.AsyncClient
) -> None:
    ordered = await send(_url(hl7_gateway), message("orm_o01_ordered"))

    assert ack_code(ordered) == "AA"
    assert await specimen(hl7_api, "BC-200417") is None  # an order only: nothing collected yet
    [order] = await rows(hl7_gateway, hl7_orders)
    assert (order["barcode"], order["status"], order["priority"], order["category"], order["ward"]) == (
        "BC-200417",
        "ordered",
        "routine",
        "biochemistry",
        "ward-2a",
    )

    collected = await send(_url(hl7_gateway), message("orm_o01_collected"))  # ORC-1 SC, OBR-7: no PV1, no priority

    assert ack_code(collected) == "AA"
    found = await specimen(hl7_api, "BC-200417")
    assert found is not None
    assert (found["status"], found["priority"], found["category"], found["ward"]) == (
        "collected",
        "routine",
        "biochemistry",
        "ward-2a",
    )
    assert found["collected_at"] == "2026-12-06T10:00:00Z"
    [order] = await rows(hl7_gateway, hl7_orders)
    assert (order["status"], order["collector"]) == ("collected", "rn-0777")


async def test_a_container_identified_at_an_analyser_is_received_and_other_states_are_kept(
    hl7_gateway: Gateway, hl7_api: httpx.AsyncClient
) -> None:
    await send(_url(hl7_gateway), message("orm_o01_ordered"))
    await send(_url(hl7_gateway), message("orm_o01_collected"))

    reply = await send(_url(hl7_gateway), message("ssu_u03_received"))

    assert ack_code(reply) == "AA"
    found = await specimen(hl7_api, "BC-200417")
    assert found is not None
    assert (found["status"], found["lab_received_at"]) == ("received", "2026-12-06T10:29:55Z")
    assert await specimen(hl7_api, "BC-300555") is None  # "left equipment": kept, not an event
    kept = {row["barcode"]: row for row in await rows(hl7_gateway, hl7_orders)}
    assert (kept["BC-300555"]["status"], kept["BC-300555"]["container_status"]) == ("seen", "L")
    assert kept["BC-200417"]["container_status"] == "I"
    received = [e for e in await rows(hl7_gateway, events) if e["type"] == "specimen.received"]
    assert [(e["device"], e["body"]["data"]) for e in received] == [
        ("LAS", {"location": "chemistry-analyser-1", "badge": None})
    ]


async def test_a_final_result_is_resulted_and_a_preliminary_one_is_kept(
    hl7_gateway: Gateway, hl7_api: httpx.AsyncClient
) -> None:
    await send(_url(hl7_gateway), message("oml_o21_collected"))

    preliminary = await send(_url(hl7_gateway), message("oul_r22_preliminary"))

    assert ack_code(preliminary) == "AA"
    found = await specimen(hl7_api, "BC-100231")
    assert found is not None
    assert (found["status"], found["resulted_at"]) == ("collected", None)
    [order] = await rows(hl7_gateway, hl7_orders)
    assert order["result_status"] == "P"

    final = await send(_url(hl7_gateway), message("oru_r01_final"))  # the chapter 7 example, v2.4, from GHH LAB

    assert ack_code(final) == "AA"
    found = await specimen(hl7_api, "BC-100231")
    assert found is not None
    assert (found["status"], found["resulted_at"]) == ("resulted", "2026-12-06T10:55:00Z")
    [resulted] = [e for e in await rows(hl7_gateway, events) if e["type"] == "specimen.resulted"]
    assert (resulted["device"], resulted["body"]["data"]) == ("ghh-lab", {"badge": "bms-0113"})


@pytest.mark.parametrize(
    ("fields", "location", "code", "says"),
    [
        ({"SPM_F2": ""}, "SPM^1^2", "101", "no specimen barcode"),
        ({"TQ1_F9": "Q^Whenever^HL70485"}, "TQ1^1^9", "103", "priority code 'Q'"),
        ({"SPM_F17": "2026-12-06"}, "SPM^1^17", "102", "not a date and time"),
        ({"PV1_F3": ""}, "PV1^1^3", "101", "no ward"),
        ({"SPM_F2": "BC 1/2"}, "SPM^1^2", "102", "barcode 'BC 1/2' contains ' '"),
    ],
)
async def test_wrong_content_is_answered_ae_with_an_err_naming_segment_field_and_reason(
    hl7_gateway: Gateway, fields: dict[str, str], location: str, code: str, says: str
) -> None:
    reply = await send(_url(hl7_gateway), message("oml_o21_collected", **fields))

    assert (ack_code(reply), acked_id(reply)) == ("AE", "OML-0001")
    error = err(reply)
    assert (error["location"], error["code"], error["severity"]) == (location, code, "E")
    assert says in error["message"]
    assert await rows(hl7_gateway, events) == []
    [letter] = await rows(hl7_gateway, clinical_dead_letters)
    assert (letter["control_id"], letter["message_type"], letter["ack_code"]) == ("OML-0001", "OML^O21", "AE")
    assert says in letter["reason"]
    assert letter["message"].startswith("MSH|^~\\&|LIS|GHH|")
    assert "PID|<redacted>" in letter["message"]


async def test_a_message_fixed_after_an_ae_is_taken_under_the_same_control_id(hl7_gateway: Gateway) -> None:
    wrong = await send(_url(hl7_gateway), message("oml_o21_collected", PV1_F3=""))
    fixed = await send(_url(hl7_gateway), message("oml_o21_collected"))

    assert (ack_code(wrong), ack_code(fixed)) == ("AE", "AA")
    assert len(await rows(hl7_gateway, events)) == 1


@pytest.mark.parametrize(
    ("name", "fields", "location", "code"),
    [
        ("adt_a01", {}, "MSH^1^9", "200"),
        ("oml_o21_collected", {"MSH_F9": "OML^O33^OML_O33"}, "MSH^1^9", "201"),
        ("oml_o21_collected", {"MSH_F9": "OML"}, "MSH^1^9", "201"),  # no trigger event at all
        ("oml_o21_collected", {"MSH_F12": "2.6"}, "MSH^1^12", "203"),
        ("oml_o21_collected", {"MSH_F12": "2.2"}, "MSH^1^12", "203"),
    ],
)
async def test_an_unsupported_message_type_or_version_is_answered_ar(
    hl7_gateway: Gateway, name: str, fields: dict[str, str], location: str, code: str
) -> None:
    reply = await send(_url(hl7_gateway), message(name, **fields))

    assert (ack_code(reply), acked_id(reply)) == ("AR", str(message(name).extract_field("MSH", 1, 10)))
    assert (err(reply)["location"], err(reply)["code"]) == (location, code)
    assert await rows(hl7_gateway, events) == []
    [letter] = await rows(hl7_gateway, clinical_dead_letters)
    assert letter["ack_code"] == "AR"


NOT_HL7 = b"\x00\xff this is not HL7"


async def test_a_bad_frame_or_bytes_that_are_not_hl7_get_an_ar_and_the_connection_goes_on(hl7_gateway: Gateway) -> None:
    reader, writer = await open_hl7_connection(*_url(hl7_gateway).removeprefix("mllp://").split(":"))
    try:
        writer.write(b"GET / HTTP/1.1\r\n\x1c\r")  # no <VT>: not an MLLP block
        await writer.drain()
        unframed = await reader.readmessage()
        not_hl7 = await exchange(reader, writer, NOT_HL7)
        good = await exchange(reader, writer, message("oml_o21_collected"))
    finally:
        writer.close()
        await writer.wait_closed()

    assert (ack_code(unframed), err(unframed)["code"]) == ("AR", "100")
    assert (ack_code(not_hl7), acked_id(not_hl7), err(not_hl7)["code"]) == ("AR", "", "100")
    assert ack_code(good) == "AA"
    letters = await rows(hl7_gateway, clinical_dead_letters)
    assert [letter["message"] for letter in letters] == [f"<redacted> {len(NOT_HL7)} bytes that are not an HL7 message"]


async def test_messages_on_several_connections_at_once_are_each_answered(
    hl7_gateway: Gateway, hl7_api: httpx.AsyncClient
) -> None:
    barcodes = [f"BC-9{n:05d}" for n in range(6)]
    replies = await asyncio.gather(
        *(
            send(_url(hl7_gateway), message("oml_o21_collected", MSH_F10=f"OML-9{n}", SPM_F2=barcode))
            for n, barcode in enumerate(barcodes)
        )
    )

    assert sorted(acked_id(r) for r in replies) == [f"OML-9{n}" for n in range(6)]
    assert {ack_code(r) for r in replies} == {"AA"}
    for barcode in barcodes:
        assert await eventually(lambda b=barcode: specimen(hl7_api, b), what=f"{barcode} collected")


async def test_a_broken_mapping_file_stops_start_up_naming_the_file_field_and_reason(
    gateway_settings: GatewaySettings, tmp_path: Path
) -> None:
    broken = tmp_path / "mapping.yaml"
    broken.write_text("barcode: [PID-3.1]\n")
    settings = gateway_settings.model_copy(update={"hl7_port": 0, "hl7_mapping": broken})

    with pytest.raises(GatewayStartError, match=r"mapping\.yaml: barcode\.0: .*PID-3\.1 is not readable"):
        await Gateway(settings).start()


async def test_metrics_count_messages_by_type_and_ack_and_the_dead_letters(hl7_gateway: Gateway) -> None:
    await send(_url(hl7_gateway), message("oml_o21_collected"))
    await send(_url(hl7_gateway), message("oml_o21_collected"))  # again: answered AA, counted again
    await send(_url(hl7_gateway), message("adt_a01"))  # AR: a dead letter
    await send(_url(hl7_gateway), message("adt_a01", MSH_F9="X1^Y1", MSH_F10="ADT-2"))  # any type a peer makes up
    async with authorised(hl7_gateway, "engineer") as engineer:
        response = await engineer.get("/metrics")
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }
    assert samples[("wardlink_hl7_messages_total", (("ack", "AA"), ("message_type", "OML^O21")))] == 2
    assert samples[("wardlink_hl7_messages_total", (("ack", "AR"), ("message_type", "other")))] == 2
    assert {labels for name, labels in samples if name == "wardlink_hl7_messages_total"} == {
        (("ack", "AA"), ("message_type", "OML^O21")),
        (("ack", "AR"), ("message_type", "other")),
    }  # a label per supported type, never one per type a sender makes up
    assert samples[("wardlink_hl7_dead_letters_total", ())] == 2
