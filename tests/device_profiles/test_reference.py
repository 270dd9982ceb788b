"""The generated register tables say how each value's bytes lie in its registers, the way installers write it."""

from typing import Any

import pytest

from device_profiles import ModbusProfile, load_profiles
from device_profiles.reference import render


def _profile_with(**resource: Any) -> ModbusProfile:
    data = load_profiles()["acme-sorter-s100"].model_dump(exclude_defaults=True)
    data["resources"].append({"name": "extra", "table": "holding", "address": 300, "value_type": "float", **resource})
    return ModbusProfile.model_validate(data)


def _row(profile: ModbusProfile, name: str) -> list[str]:
    line = next(line for line in render({profile.name: profile}).splitlines() if f"| {name} |" in line)
    return [cell.strip() for cell in line.strip("|").split("|")]


@pytest.mark.parametrize(
    ("resource", "order"),
    [
        pytest.param({"raw_type": "float32"}, "ABCD", id="big-endian"),
        pytest.param({"raw_type": "float32", "word_order": "little"}, "CDAB", id="word swap"),
        pytest.param({"raw_type": "float32", "byte_order": "little"}, "BADC", id="byte swap"),
        pytest.param({"raw_type": "float32", "word_order": "little", "byte_order": "little"}, "DCBA", id="both"),
        pytest.param({"raw_type": "int16"}, "AB", id="16 bits"),
        pytest.param({"raw_type": "int16", "byte_order": "little"}, "BA", id="16 bits swapped"),
    ],
)
def test_the_register_table_shows_word_and_byte_order(resource: dict[str, Any], order: str) -> None:
    profile = _profile_with(**resource)
    header = _row(profile, "resource")
    assert header[3] == "byte order"
    assert _row(profile, "extra")[3] == order


def test_a_bit_has_no_byte_order() -> None:
    profile = load_profiles()["acme-sorter-s100"]
    assert _row(profile, "induction_paused")[3] == ""
