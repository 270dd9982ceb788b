"""The simulated lab system speaks HL7 v2.5.1 over MLLP: what it sends, and how it keeps a message until answered."""

from datetime import UTC, datetime

import hl7
import pytest

from simulators.clinical.hl7_messages import TEST_CODES, segment
from simulators.clinical.hl7_system import Hl7LabSystem, MllpAddress
from simulators.clinical.journey import CATEGORIES
from tests.mllp_peer import MllpPeer, Refusal, control_id

AT = datetime(2026, 3, 2, 8, 15, 30, 250_000, tzinfo=UTC)
COLLECTED = {"category": "cbc", "ward": "icu", "priority": "stat", "badge": "rn-0421", "order_id": "LO-00000042"}


def kind(message: hl7.Message) -> str:
    """MSH-9 whole: type^trigger^structure."""
    return str(message.segment("MSH")(9))


def lab(peer: MllpPeer, **options: float) -> Hl7LabSystem:
    return Hl7LabSystem(peer.url, clock=lambda: AT, **{"resend_after_s": 5.0, "max_backoff_s": 0.2, **options})


async def test_a_collection_arrives_as_an_oml_o21_with_the_mapped_fields() -> None:
    async with MllpPeer() as peer, lab(peer) as lis:
        lis.report("specimen.collected", "specimen", "S123456789", COLLECTED, occurred_at=AT)
        await lis.acknowledged(timeout_s=10)
    [message] = peer.received
    assert kind(message) == "OML^O21^OML_O21"
    assert (message["MSH.3"], message["MSH.4"], message["MSH.12"]) == ("LIS", "general-hospital", "2.5.1")
    assert message["MSH.18"] == "UNICODE UTF-8"
    assert message["SPM.2"] == message["OBR.3"] == "S123456789"
    assert message["TQ1.9"] == message["OBR.27.1.6"] == "S"
    assert message["OBR.4.1.1"] == "58410-2"
    assert message["PV1.3.1.1"] == "icu"
    assert message["OBR.10.1.1"] == "rn-0421"
    assert message["ORC.2"] == "LO-00000042"
    assert hl7.parse_datetime(message["OBR.7"]) == hl7.parse_datetime(message["SPM.17"]) == AT
    assert message["PID.5.1.1"] == "FICTIONAL"  # a real LIS sends a patient: this one is nobody


@pytest.mark.parametrize(("priority", "code"), [("stat", "S"), ("urgent", "A"), ("routine", "R")])
async def test_priority_goes_to_tq1_9_and_obr_27(priority: str, code: str) -> None:
    async with MllpPeer() as peer, lab(peer) as lis:
        lis.report("specimen.collected", "specimen", "S123456789", {**COLLECTED, "priority": priority})
        await lis.acknowledged(timeout_s=10)
    assert peer.received[0]["TQ1.9"] == peer.received[0]["OBR.27.1.6"] == code


def test_every_demo_category_has_its_loinc_test_code() -> None:
    assert set(TEST_CODES) == set(CATEGORIES)
    assert TEST_CODES["blood-gas"][0] == "24336-0"
    assert TEST_CODES["serology"][0] == "5196-1"


async def test_receipt_is_an_ssu_u03_container_identified_at_the_bench() -> None:
    async with MllpPeer() as peer, lab(peer) as lis:
        data = {"location": "haematology-analyser-1", "badge": "bms-0113"}
        lis.report("specimen.received", "specimen", "S123456789", data, occurred_at=AT)
        await lis.acknowledged(timeout_s=10)
    [message] = peer.received
    assert kind(message) == "SSU^U03^SSU_U03"
    assert (message["SAC.3"], message["SAC.8.1.1"]) == ("S123456789", "I")
    assert message["EQU.1"] == "haematology-analyser-1"
    assert hl7.parse_datetime(message["EQU.2"]) == AT


async def test_a_result_is_an_oru_r01_final_with_its_time_and_the_order_it_answers() -> None:
    async with MllpPeer() as peer, lab(peer) as lis:
        lis.report("specimen.collected", "specimen", "S123456789", COLLECTED, occurred_at=AT)
        lis.report("specimen.resulted", "specimen", "S123456789", {"badge": "bms-0113"}, occurred_at=AT)
        await lis.acknowledged(timeout_s=10)
    result = peer.received[1]
    assert kind(result) == "ORU^R01^ORU_R01"
    assert result["OBR.25"] == "F"
    assert hl7.parse_datetime(result["OBR.22"]) == AT
    assert result["OBR.3"] == result["SPM.2"] == "S123456789"
    assert result["OBR.32.1.1"] == "bms-0113"
    assert (result["OBR.4.1.1"], result["ORC.2"]) == ("58410-2", "LO-00000042")


async def test_messages_go_in_order_with_unique_control_ids() -> None:
    async with MllpPeer() as peer, lab(peer) as lis:
        for n in range(5):
            lis.report("specimen.collected", "specimen", f"S1234567{n}9", COLLECTED)
        await lis.acknowledged(timeout_s=10)
    assert [m["SPM.2"] for m in peer.received] == [f"S1234567{n}9" for n in range(5)]
    assert len({control_id(m) for m in peer.received}) == 5
    assert [control_id(m) for m in peer.received] == [r.control_id for r in lis.reported]


async def test_an_unanswered_message_is_sent_again_until_accepted_then_no_more() -> None:
    async with MllpPeer(lambda _m, times: "AA" if times >= 2 else None) as peer, lab(peer, resend_after_s=2.0) as lis:
        first = lis.report("specimen.collected", "specimen", "S123456789", COLLECTED)
        await lis.acknowledged(timeout_s=20)
        sent = peer.times(first.control_id)  # twice, or more if a loaded machine held an answer past 2 s
        assert (sent >= 2, first.answer, lis.pending) == (True, "AA", 0)
        lis.report("specimen.received", "specimen", "S123456789")
        await lis.acknowledged(timeout_s=10)
    assert peer.times(first.control_id) == sent  # the next message went, the accepted one never again
    assert str(peer.received[-1]["MSH.9.1.1"]) == "SSU"


@pytest.mark.parametrize("refusal", ["AE", Refusal("AE", error="207"), Refusal("AR", error="200")])
async def test_a_refused_message_is_counted_and_not_sent_again(
    refusal: str | Refusal, caplog: pytest.LogCaptureFixture
) -> None:
    def answer(message: hl7.Message, _times: int) -> str | Refusal:
        return refusal if message["MSH.9.1.1"] == "OML" else "AA"

    async with MllpPeer(answer) as peer, lab(peer) as lis:
        refused = lis.report("specimen.collected", "specimen", "S123456789", COLLECTED)
        lis.report("specimen.received", "specimen", "S123456789")
        await lis.acknowledged(timeout_s=10)
    assert lis.rejected == [refused]
    assert refused.answer == (refusal if isinstance(refusal, str) else refusal.code)
    assert (peer.times(refused.control_id), len(peer.received), lis.acked, lis.deferred) == (1, 2, 1, 0)
    assert "S123456789" not in caplog.text
    assert "FICTIONAL" not in caplog.text


@pytest.mark.parametrize(
    "asked_again",
    [Refusal("AR", "database away: send it again", error="207"), Refusal("AR", error=None)],
    ids=["AR-207", "AR-without-ERR"],
)
async def test_ar_for_an_internal_error_is_sent_again_after_a_backoff(asked_again: Refusal) -> None:
    async with MllpPeer(lambda _m, times: asked_again if times <= 2 else "AA") as peer, lab(peer) as lis:
        report = lis.report("specimen.collected", "specimen", "S123456789", COLLECTED)
        await lis.acknowledged(timeout_s=10)
    assert (report.answer, lis.rejected, lis.deferred, lis.acked) == ("AA", [], 2, 1)
    assert peer.times(report.control_id) == 3


async def test_an_answer_in_utf_8_with_an_umlaut_is_read() -> None:
    peer = MllpPeer(lambda _m, _t: Refusal("AE", "Auftrag für Müller unbekannt", error="103"))
    async with peer, lab(peer) as lis:
        report = lis.report("specimen.collected", "specimen", "S123456789", COLLECTED)
        await lis.acknowledged(timeout_s=10)
    assert (lis.rejected, peer.times(report.control_id)) == ([report], 1)


async def test_a_receiver_that_comes_up_later_gets_everything_in_order() -> None:
    peer = MllpPeer()  # its port is held, but nothing listens yet
    lis = Hl7LabSystem(peer.url, max_backoff_s=0.2)
    async with lis:
        for n in range(3):
            lis.report("specimen.collected", "specimen", f"S1234567{n}9", COLLECTED)
        assert lis.pending == 3
        assert not lis.connected.is_set()
        async with peer:
            await lis.acknowledged(timeout_s=15)
    assert [m["SPM.2"] for m in peer.unique()] == ["S123456709", "S123456719", "S123456729"]


async def test_a_dropped_link_is_reconnected_and_the_unanswered_message_resent() -> None:
    async with MllpPeer(lambda _m, times: "AA" if times >= 2 else None) as peer, lab(peer) as lis:
        report = lis.report("specimen.collected", "specimen", "S123456789", COLLECTED)
        await peer.wait_for(1)
        peer.drop_connections()  # the link drops before an answer
        await lis.acknowledged(timeout_s=15)
    assert peer.times(report.control_id) == 2
    assert report.answer == "AA"


def test_values_are_escaped_so_separators_survive() -> None:
    text = "MSH|^~\\&|LIS|H|W|H|20260302||OML^O21|1|P|2.5.1\r" + segment("NTE", "1", None, "a|b^c~d&e\\f")
    assert hl7.parse(text)["NTE.3"] == "a|b^c~d&e\\f"


def test_only_lab_events_and_mllp_addresses() -> None:
    lis = Hl7LabSystem("mllp://127.0.0.1:2575")
    with pytest.raises(ValueError, match=r"specimen\.collected"):
        lis.report("specimen.sorted", "specimen", "S123456789", {"lane": 1, "rack": 1, "position": 1})
    with pytest.raises(ValueError, match=r"mllp://host:port"):
        MllpAddress.parse("tcp://127.0.0.1:2575")
    assert str(MllpAddress.parse("mllp://[::1]:2575")) == "mllp://[::1]:2575"
