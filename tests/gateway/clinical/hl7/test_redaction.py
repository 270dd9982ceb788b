"""What may be kept of a message: the fields the mapping reads; every other segment becomes `NAME|<redacted>`."""

import pytest

from gateway.clinical.hl7.mapping import load_mapping
from gateway.clinical.hl7.redaction import Redactor, redact_unparsed
from tests.gateway.clinical.hl7.rig import MESSAGES, PATIENT_DATA, message


@pytest.mark.parametrize("name", sorted(p.stem for p in MESSAGES.glob("*.hl7")))
def test_no_patient_detail_survives_redaction(name: str) -> None:
    redacted = Redactor(load_mapping()).redact(message(name))

    assert [detail for detail in PATIENT_DATA if detail in redacted] == []
    assert redacted.startswith("MSH|^~\\&|")


def test_an_order_keeps_its_ids_and_codes_and_loses_everything_else() -> None:
    lines = Redactor(load_mapping()).redact(message("oml_o21_collected")).split("\r")

    assert lines == [
        "MSH|^~\\&|LIS|GHH|WARDLINK|GHH|20261206101500+0000||OML^O21^OML_O21|OML-0001|P|2.5.1|||AL|NE",
        "PID|<redacted>",
        "PV1|||ward-4b",  # the ward only: not the bed, not the attending doctor
        "ORC|NW|ORD-7721",
        "TQ1|||||||||S",
        "OBR||ORD-7721||58410-2|||20261206101000|||rn-0421",  # the collector's badge, not the nurse's name
        "NTE|<redacted>",
        "SPM||BC-100231|||||||||||||||20261206101000",
        "",
    ]


def test_a_persons_name_beside_a_badge_is_dropped() -> None:
    redacted = Redactor(load_mapping()).redact(message("oru_r01_final"))

    assert "bms-0113" in redacted
    assert "Scientist" not in redacted
    assert "Primary" not in redacted  # OBR-16, the ordering provider, is never read
    assert "OBX|<redacted>" in redacted.split("\r")


def test_a_segment_nobody_thought_of_is_redacted() -> None:
    oml = message("oml_o21_collected")
    oml.append(oml.create_segment([oml.create_field(["ZPI"]), oml.create_field(["Testpatient"])]))

    assert "ZPI|<redacted>" in Redactor(load_mapping()).redact(oml).split("\r")


@pytest.mark.parametrize(
    "line",
    [
        "Springfield^^^^12345|x",
        "Fictitia^^^^^L",
        "Testpatient Fictitia is anxious",
        "pv1|x",
        "SPM~1|1|BC-9",
        "ZP|x",
        "LEE",  # a surname after a line break looks like a segment id, but HL7 defines no LEE segment
        "USA|x",
    ],
)
def test_a_line_that_is_no_segment_is_redacted_whole(line: str) -> None:
    """What follows a line break inside a field: its first field is patient data, not a segment name."""
    oml = message("oml_o21_collected")
    fields = line.split("|")
    oml.append(oml.create_segment([oml.create_field([text]) for text in fields]))

    lines = Redactor(load_mapping()).redact(oml).split("\r")

    assert lines[-2:] == ["<redacted>", ""]
    assert "BC-9" not in "\r".join(lines)


def test_bytes_that_are_not_hl7_keep_only_their_size() -> None:
    assert redact_unparsed(b"Testpatient Fictitia 19700101") == "<redacted> 29 bytes that are not an HL7 message"
