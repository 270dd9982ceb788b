"""Ids as FHIR allows them and back; instants in UTC."""

from datetime import datetime, timedelta, timezone

import pytest

from gateway.clinical.fhir.datatypes import instant, logical_id, wardlink_id


@pytest.mark.parametrize(
    ("ours", "fhir"),
    [
        ("S-1001", "S-1001"),
        ("LAB:2026_11.A", "LAB.3A2026.5F11.2EA"),
        ("00614141001019", "00614141001019"),
    ],
)
def test_every_wardlink_id_has_one_fhir_id_and_back(ours: str, fhir: str) -> None:
    assert logical_id(ours) == fhir
    assert wardlink_id(fhir) == ours


@pytest.mark.parametrize("fhir", ["a_b", "S.1", "S.ZZ1", "x" * 65, ""])
def test_a_fhir_id_no_wardlink_id_makes_stands_for_none(fhir: str) -> None:
    assert wardlink_id(fhir) is None


def test_instants_are_utc_with_a_z() -> None:
    plus_one = timezone(timedelta(hours=1))
    assert instant(datetime(2026, 11, 23, 9, 0, tzinfo=plus_one)) == "2026-11-23T08:00:00Z"
    assert instant(datetime(2026, 11, 23, 8, 0, 0, 1500, tzinfo=plus_one)) == "2026-11-23T07:00:00.001500Z"
    with pytest.raises(ValueError, match="naive"):
        instant(datetime(2026, 11, 23, 8, 0))  # the point of the test
