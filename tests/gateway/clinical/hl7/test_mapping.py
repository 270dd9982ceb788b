"""The field mapping: the shipped default fits the demo, a hospital's file lays its choices over it, and a broken
file is refused naming the file, the field and the reason — including any attempt to read patient data."""

from pathlib import Path

import pytest

from gateway.clinical.hl7.mapping import FieldPath, MappingError, load_mapping
from simulators.clinical.journey import CATEGORIES


def test_the_default_maps_a_test_code_to_every_category_of_the_demo() -> None:
    assert set(load_mapping().categories.values()) >= set(CATEGORIES)


def test_the_default_reads_the_fields_of_the_v251_conventions() -> None:
    mapping = load_mapping()

    assert [str(p) for p in mapping.barcode] == ["SPM-2", "SPM-2.2", "OBR-3", "ORC-3"]
    assert [str(p) for p in mapping.priority] == ["TQ1-9", "OBR-27.6", "OBR-5"]
    assert dict(mapping.priorities) == {"S": "stat", "A": "urgent", "R": "routine"}
    assert [str(p) for p in mapping.collected_at] == ["SPM-17", "OBR-7"]
    assert mapping.container.received == ["I", "P", "O"]
    assert mapping.result.final == ["F", "C"]


def test_a_hospital_file_replaces_what_it_sets_and_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "ours.yaml"
    path.write_text(
        "barcode: SAC-3.1\n"
        "priorities: {S: stat, A: urgent, R: routine, T: urgent}\n"
        "categories: {GLU: biochemistry}\n"
        "timezone: Europe/Berlin\n"
        "container: {received: [I]}\n"
    )

    mapping = load_mapping(path)

    assert mapping.barcode == [FieldPath("SAC", 3)]
    assert mapping.priorities["T"] == "urgent"
    assert mapping.categories == {"GLU": "biochemistry"}  # a table is replaced whole: a code can be left out
    assert mapping.container.received == ["I"]
    assert [str(p) for p in mapping.container.location] == ["EQU-1"]  # the rest of `container` stays
    assert mapping.zone.key == "Europe/Berlin"


@pytest.mark.parametrize(
    ("content", "field", "reason"),
    [
        ("barcode: [PID-3.1]", "barcode.0", "PID-3.1 is not readable"),
        ("ward: PV1-7.1", "ward.0", "PV1-7.1 is not readable"),
        ("collector: NK1-2", "collector.0", "NK1-2 is not readable"),
        ("order_id: ORC_2", "order_id.0", "'ORC_2' is not a field"),
        ("priorities: {S: asap}", "priorities.S", "Input should be 'stat', 'urgent' or 'routine'"),
        ("categories: {X1: blood gas}", "categories.X1", "contains ' '"),
        ("timezone: Mars/Olympus_Mons", "timezone", "not an IANA time zone"),
        ("barcode: []", "barcode", "name at least one field"),
        ("barcodes: [SPM-2]", "barcodes", "Extra inputs are not permitted"),
        ("result: {final: []}", "result.final", "at least 1 item"),
        ("unmapped_tests: ignore", "unmapped_tests", "Input should be 'skip' or 'reject'"),
    ],
)
def test_a_broken_file_is_refused_naming_file_field_and_reason(
    tmp_path: Path, content: str, field: str, reason: str
) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(content + "\n")

    with pytest.raises(MappingError) as raised:
        load_mapping(path)

    message = str(raised.value)
    assert message.startswith(f"{path}: ")
    assert f"{field}: " in message
    assert reason in message


@pytest.mark.parametrize(
    ("content", "reason"), [("barcode: [SPM-2", "not YAML"), ("- SPM-2\n", "a YAML mapping of field choices")]
)
def test_a_file_that_is_not_a_mapping_is_refused(tmp_path: Path, content: str, reason: str) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(content)

    with pytest.raises(MappingError, match=reason):
        load_mapping(path)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match=r"nowhere\.yaml: cannot read the HL7 mapping"):
        load_mapping(tmp_path / "nowhere.yaml")
