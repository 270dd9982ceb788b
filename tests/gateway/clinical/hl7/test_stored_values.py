"""Every value the HL7 inbound keeps fits its column, on SQLite and PostgreSQL alike: a status code too long for
its column, or a value no database can hold (a NUL), is answered AE naming segment, sequence and field, or AR for
a header; never an internal error, which a sender takes as "send it again", for ever."""

from typing import Any

import pytest
import sqlalchemy as sa

from gateway.clinical.hl7.messages import MAX_STATUS
from gateway.service import Gateway
from gateway.storage.clinical_tables import clinical_dead_letters, hl7_messages, hl7_orders
from tests.gateway.clinical.hl7.rig import ack_code, err, message, send


def _url(gateway: Gateway) -> str:
    assert gateway.hl7_url is not None
    return gateway.hl7_url


async def rows(gateway: Gateway, table: sa.Table) -> list[dict[str, Any]]:
    assert gateway.store is not None
    async with gateway.store.db.engine.connect() as connection:
        return [dict(row) for row in (await connection.execute(sa.select(table))).mappings()]


def test_the_status_limit_is_the_width_of_the_status_columns() -> None:
    widths = {getattr(hl7_orders.c[name].type, "length", None) for name in ("container_status", "result_status")}
    assert widths == {MAX_STATUS}


@pytest.mark.parametrize(
    ("name", "fields", "location"),
    [
        ("ssu_u03_received", {"SAC_F8": "IDENTIFIED^Identified^HL70370"}, "SAC^1^8"),
        ("oru_r01_final", {"OBR_F25": "FINALISED"}, "OBR^1^25"),
        ("oul_r22_preliminary", {"OBR_F25": "P\x00"}, "OBR^1^25"),
    ],
    ids=["container status too long", "result status too long", "result status with a NUL"],
)
async def test_a_status_code_its_column_cannot_hold_is_answered_ae_every_time(
    hl7_gateway: Gateway, name: str, fields: dict[str, str], location: str
) -> None:
    first = await send(_url(hl7_gateway), message(name, **fields))
    again = await send(_url(hl7_gateway), message(name, **fields))

    assert [ack_code(first), ack_code(again)] == ["AE", "AE"]
    assert (err(first)["location"], err(first)["code"]) == (location, "102")
    assert await rows(hl7_gateway, hl7_orders) == []
    assert [row["ack_code"] for row in await rows(hl7_gateway, hl7_messages)] == ["AE"]
    assert [row["ack_code"] for row in await rows(hl7_gateway, clinical_dead_letters)] == ["AE", "AE"]


async def test_the_longest_status_codes_are_kept(hl7_gateway: Gateway) -> None:
    reply = await send(_url(hl7_gateway), message("oru_r01_final", OBR_F25="X" * MAX_STATUS))

    assert ack_code(reply) == "AA"
    [order] = await rows(hl7_gateway, hl7_orders)
    assert order["result_status"] == "X" * MAX_STATUS


async def test_a_control_id_with_a_nul_is_refused_and_its_dead_letter_kept(hl7_gateway: Gateway) -> None:
    reply = await send(_url(hl7_gateway), message("oml_o21_collected", MSH_F10="OML\x00-1"))

    assert (ack_code(reply), err(reply)["location"], err(reply)["code"]) == ("AR", "MSH^1^10", "102")
    [letter] = await rows(hl7_gateway, clinical_dead_letters)
    assert letter["control_id"] == "OML\\X00\\-1"  # as HL7 escapes it: any database holds that


async def test_a_nul_in_a_field_the_dead_letter_keeps_does_not_lose_the_dead_letter(hl7_gateway: Gateway) -> None:
    bad_sender = await send(_url(hl7_gateway), message("oml_o21_collected", MSH_F3="LIS\x00"))
    bad_facility = await send(_url(hl7_gateway), message("oml_o21_collected", MSH_F4="GHH\x00"))
    bad_barcode = await send(_url(hl7_gateway), message("oml_o21_collected", MSH_F10="OML-2", SPM_F2="BC-1\x00"))

    assert [ack_code(bad_sender), ack_code(bad_facility), ack_code(bad_barcode)] == ["AR", "AR", "AE"]
    assert (err(bad_facility)["location"], err(bad_facility)["code"]) == ("MSH^1^4", "102")
    letters = await rows(hl7_gateway, clinical_dead_letters)
    assert sorted(row["ack_code"] for row in letters) == ["AE", "AR", "AR"]
    assert all("\x00" not in row["message"] and "\\X" in row["message"] for row in letters)
