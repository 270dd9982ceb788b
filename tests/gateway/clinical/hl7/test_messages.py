"""What each message means under the default mapping, read without a database or a socket; and the ACKs."""

from datetime import UTC, datetime
from pathlib import Path

import hl7
import pytest

from gateway.clinical.hl7.acks import ack
from gateway.clinical.hl7.mapping import Hl7Mapping, load_mapping
from gateway.clinical.hl7.messages import (
    ContainerSeen,
    Known,
    OrderSeen,
    ResultSeen,
    read_header,
    read_specimens,
)
from gateway.clinical.hl7.problems import Hl7MessageError, Location
from tests.gateway.clinical.hl7.conftest import MAPPING
from tests.gateway.clinical.hl7.rig import err, message


@pytest.fixture
def mapping(tmp_path: Path) -> Hl7Mapping:
    path = tmp_path / "mapping.yaml"
    path.write_text(MAPPING)
    return load_mapping(path)


def specimens(msg: hl7.Message, mapping: Hl7Mapping) -> list[OrderSeen | ContainerSeen | ResultSeen]:
    return read_specimens(msg, read_header(msg, mapping), mapping).seen


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_an_oml_o21_is_an_order_collected_at_spm_17(mapping: Hl7Mapping) -> None:
    msg = message("oml_o21_collected")
    header = read_header(msg, mapping)

    assert (header.sender, header.device, header.control_id, header.message_type, header.version) == (
        "LIS^GHH",
        "LIS",
        "OML-0001",
        "OML^O21",
        "2.5.1",
    )
    [order] = specimens(msg, mapping)
    assert isinstance(order, OrderSeen)
    assert order.control == "NW"
    assert (order.known.barcode, order.known.priority, order.known.category, order.known.ward) == (
        "BC-100231",
        "stat",
        "cbc",
        "ward-4b",
    )
    assert (order.known.collector, order.known.order_id, order.known.collected_at) == (
        "rn-0421",
        "ORD-7721",
        at(2026, 12, 6, 10, 10),
    )


def test_an_orm_o01_without_spm_takes_the_filler_number_and_the_obr_27_priority(mapping: Hl7Mapping) -> None:
    [order] = specimens(message("orm_o01_ordered"), mapping)

    assert isinstance(order, OrderSeen)
    assert (order.known.barcode, order.known.priority, order.known.collected_at) == ("BC-200417", "routine", None)


def test_an_ssu_u03_is_one_container_state_per_sac_at_the_equipment(mapping: Hl7Mapping) -> None:
    seen = specimens(message("ssu_u03_received"), mapping)

    assert [(s.known.barcode, s.status, s.location, s.at) for s in seen if isinstance(s, ContainerSeen)] == [
        ("BC-200417", "I", "chemistry-analyser-1", at(2026, 12, 6, 10, 29, 55)),
        ("BC-300555", "L", "chemistry-analyser-1", at(2026, 12, 6, 10, 29, 55)),
    ]


def test_results_carry_their_status_time_and_releasing_badge(mapping: Hl7Mapping) -> None:
    [final] = specimens(message("oru_r01_final"), mapping)
    [preliminary] = specimens(message("oul_r22_preliminary"), mapping)

    assert final == ResultSeen(Known("BC-100231"), "F", at(2026, 12, 6, 10, 55), "bms-0113")
    assert preliminary == ResultSeen(Known("BC-100231"), "P", at(2026, 12, 6, 10, 44), None)


def test_a_result_without_a_result_time_is_resulted_at_msh_7(mapping: Hl7Mapping) -> None:
    [final] = specimens(message("oru_r01_final", OBR_F22=""), mapping)

    assert isinstance(final, ResultSeen)
    assert final.at == at(2026, 12, 6, 11, 0)


def test_a_time_without_an_offset_is_in_the_zone_msh_7_states(mapping: Hl7Mapping) -> None:
    [order] = specimens(message("oml_o21_collected", MSH_F7="20261206111500+0100"), mapping)

    assert order.known.collected_at == at(2026, 12, 6, 9, 10)


def test_an_oml_with_two_specimens_for_one_request_is_two_orders(mapping: Hl7Mapping) -> None:
    second = "SPM|2|BC-100232&LIS||119297000^Blood specimen^SCT|||||||||||||20261206101100"
    msg = hl7.parse(str(message("oml_o21_collected")) + second)

    assert [s.known.barcode for s in specimens(msg, mapping)] == ["BC-100231", "BC-100232"]


@pytest.mark.parametrize(
    ("fields", "ack_code", "code", "where"),
    [
        ({"MSH_F9": "ADT^A01^ADT_A01"}, "AR", "200", Location("MSH", 1, 9)),
        ({"MSH_F9": "OML^O33"}, "AR", "201", Location("MSH", 1, 9, 2)),
        ({"MSH_F12": "2.6"}, "AR", "203", Location("MSH", 1, 12)),
        ({"MSH_F10": ""}, "AR", "101", Location("MSH", 1, 10)),
        ({"MSH_F3": "LIS 2"}, "AR", "102", Location("MSH", 1, 3)),
        ({"MSH_F7": "yesterday"}, "AE", "102", Location("MSH", 1, 7)),
    ],
)
def test_a_header_that_cannot_be_taken_is_named(
    mapping: Hl7Mapping, fields: dict[str, str], ack_code: str, code: str, where: Location
) -> None:
    with pytest.raises(Hl7MessageError) as raised:
        read_header(message("oml_o21_collected", **fields), mapping)

    assert (raised.value.ack, raised.value.code, raised.value.where) == (ack_code, code, where)


def test_a_processing_id_the_mapping_does_not_accept_is_answered_ar(tmp_path: Path) -> None:
    path = tmp_path / "production.yaml"
    path.write_text("processing_ids: [P]\n")

    with pytest.raises(Hl7MessageError) as raised:
        read_header(message("oml_o21_collected", MSH_F11="T"), load_mapping(path))

    assert (raised.value.ack, raised.value.code) == ("AR", "202")


def test_an_ack_answers_the_control_id_and_an_error_names_segment_field_code_and_reason(mapping: Hl7Mapping) -> None:
    msg = message("oml_o21_collected", SPM_F2="", MSH_F10="OML-77")
    with pytest.raises(Hl7MessageError) as raised:
        specimens(msg, mapping)

    reply = ack(msg, "AE", raised.value)

    assert str(reply.segment("MSA")) == "MSA|AE|OML-77"
    assert err(reply) == {
        "location": "SPM^1^2",
        "code": "101",
        "severity": "E",
        "message": "SPM-2: no specimen barcode: SPM-2, SPM-2.2, OBR-3, ORC-3 are all empty",
    }
    assert str(reply.extract_field("MSH", 1, 9, 1, 2)) == "O21"
    assert str(reply.extract_field("MSH", 1, 5)) == "LIS"


def test_a_receiver_before_v25_also_reads_the_error_in_msa_3_and_err_1(mapping: Hl7Mapping) -> None:
    msg = message("orm_o01_ordered", OBR_F4="0000-0^Unknown^LN")
    with pytest.raises(Hl7MessageError) as raised:
        specimens(msg, mapping.model_copy(update={"unmapped_tests": "reject"}))

    reply = ack(msg, "AE", raised.value)

    assert str(reply.extract_field("MSA", 1, 3)).startswith("OBR-4: test code '0000-0' is not in the mapping")
    assert str(reply.segment("ERR")(1)) == "OBR^1^4^103&Table value not found&HL70357"


def test_an_order_or_result_of_an_unmapped_test_is_left_out_and_its_code_told(mapping: Hl7Mapping) -> None:
    for name in ("orm_o01_ordered", "oru_r01_final"):
        msg = message(name, OBR_F4="0000-0^Unknown^LN")

        reading = read_specimens(msg, read_header(msg, mapping), mapping)

        assert (reading.seen, reading.unmapped) == ([], ["0000-0"])
