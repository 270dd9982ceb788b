"""The register codec, as tables: register words -> value, and value -> register words."""

import math
from typing import Any

import pytest

from device_profiles import CodecError, Resource, decode, encode


def resource(**overrides: Any) -> Resource:
    """An input-register resource with knobs; each test overrides only what it is about."""
    fields: dict[str, Any] = {
        "name": "value",
        "table": "input",
        "address": 10,
        "raw_type": "uint16",
        "value_type": "int",
    }
    return Resource.model_validate(fields | overrides)


@pytest.mark.parametrize(
    ("overrides", "registers", "expected"),
    [
        pytest.param({}, [0], 0, id="uint16 zero"),
        pytest.param({}, [65535], 65535, id="uint16 max"),
        pytest.param({"raw_type": "int16"}, [0xFFFF], -1, id="int16 negative"),
        pytest.param({"raw_type": "int16"}, [0x7FFF], 32767, id="int16 max"),
        pytest.param({"raw_type": "uint32"}, [0x0001, 0x0002], 65538, id="uint32 big word order"),
        pytest.param({"raw_type": "uint32", "word_order": "little"}, [0x0002, 0x0001], 65538, id="uint32 little"),
        pytest.param({"raw_type": "uint32"}, [0xFFFF, 0xFFFF], 4294967295, id="uint32 max"),
        pytest.param({"raw_type": "int32"}, [0xFFFF, 0xFFFE], -2, id="int32 negative"),
        pytest.param({"raw_type": "int32", "word_order": "little"}, [0xFFFE, 0xFFFF], -2, id="int32 little"),
        pytest.param({"raw_type": "float32", "value_type": "float"}, [0x41AC, 0x0000], 21.5, id="float32"),
        pytest.param(
            {"raw_type": "float32", "value_type": "float", "word_order": "little"},
            [0x0000, 0x41AC],
            21.5,
            id="float32 lt",
        ),
        pytest.param(
            {"raw_type": "float32", "value_type": "float"}, [0x41AA, 0x6666], 21.3, id="float32 noise dropped"
        ),
        pytest.param({"raw_type": "int16", "value_type": "float", "scale": 0.1}, [215], 21.5, id="scale 0.1"),
        pytest.param({"raw_type": "int16", "value_type": "float", "scale": 0.1}, [0xFF9C], -10.0, id="scale negative"),
        pytest.param({"value_type": "float", "scale": 0.5, "offset": -40}, [100], 10.0, id="scale and offset"),
        pytest.param({"scale": 10}, [7], 70, id="integer scale stays int"),
        pytest.param({"value_type": "str", "mappings": {0: "idle", 2: "jam"}}, [2], "jam", id="mapping"),
        pytest.param(
            {"raw_type": "string", "length": 3, "value_type": "str"}, [0x5331, 0x3233, 0x0000], "S123", id="string NUL"
        ),
        pytest.param(
            {"raw_type": "string", "length": 2, "value_type": "str"}, [0x4142, 0x2020], "AB", id="string spaces"
        ),
        pytest.param({"raw_type": "string", "length": 2, "value_type": "str"}, [0, 0], "", id="string blank"),
        pytest.param({"raw_type": "bool", "value_type": "bool"}, [1], True, id="bool register"),
        pytest.param({"table": "discrete", "raw_type": "bool", "value_type": "bool"}, [0], False, id="discrete bit"),
    ],
)
def test_decode(overrides: dict[str, Any], registers: list[int], expected: Any) -> None:
    value = decode(resource(**overrides), registers)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("overrides", "value", "expected"),
    [
        pytest.param({}, 513, [513], id="uint16"),
        pytest.param({"raw_type": "int16"}, -1, [0xFFFF], id="int16 negative"),
        pytest.param({"raw_type": "uint32"}, 65538, [0x0001, 0x0002], id="uint32 big"),
        pytest.param({"raw_type": "uint32", "word_order": "little"}, 65538, [0x0002, 0x0001], id="uint32 little"),
        pytest.param({"raw_type": "int32"}, -2, [0xFFFF, 0xFFFE], id="int32"),
        pytest.param({"raw_type": "float32", "value_type": "float"}, 21.5, [0x41AC, 0x0000], id="float32"),
        pytest.param({"raw_type": "int16", "value_type": "float", "scale": 0.1}, 21.5, [215], id="scale"),
        pytest.param({"raw_type": "int16", "value_type": "float", "scale": 0.1}, -10.0, [0xFF9C], id="scale negative"),
        pytest.param({"value_type": "float", "scale": 0.5, "offset": -40}, 10.0, [100], id="scale and offset"),
        pytest.param({"value_type": "str", "mappings": {0: "idle", 2: "jam"}}, "jam", [2], id="mapping"),
        pytest.param(
            {"raw_type": "string", "length": 3, "value_type": "str"}, "S123", [0x5331, 0x3233, 0], id="string"
        ),
        pytest.param(
            {"raw_type": "string", "length": 2, "value_type": "str"}, "ABC", [0x4142, 0x4300], id="odd string"
        ),
        pytest.param({"raw_type": "string", "length": 2, "value_type": "str"}, "", [0, 0], id="blank string"),
        pytest.param({"raw_type": "bool", "value_type": "bool"}, True, [1], id="bool"),
    ],
)
def test_encode_is_the_inverse(overrides: dict[str, Any], value: Any, expected: list[int]) -> None:
    r = resource(**overrides)
    assert encode(r, value) == expected
    assert decode(r, expected) == value


@pytest.mark.parametrize(
    ("overrides", "registers", "reason"),
    [
        pytest.param(
            {"value_type": "str", "mappings": {0: "idle", 2: "jam"}}, [7], "value 7 is not in its mappings", id="enum"
        ),
        pytest.param({}, [1, 2], "expected 1 register(s), got 2", id="too many registers"),
        pytest.param({"raw_type": "uint32"}, [1], "expected 2 register(s), got 1", id="too few registers"),
        pytest.param({}, [70000], "registers must be 0..65535", id="not a register"),
        pytest.param({"raw_type": "string", "length": 1, "value_type": "str"}, [0xC3A9], "not ascii", id="not ascii"),
    ],
)
def test_decode_refuses_with_a_reason(overrides: dict[str, Any], registers: list[int], reason: str) -> None:
    with pytest.raises(CodecError, match="resource 'value' \\(input 10") as caught:
        decode(resource(**overrides), registers)
    assert reason in str(caught.value)


@pytest.mark.parametrize(
    ("overrides", "value", "reason"),
    [
        pytest.param({}, 65536, "outside uint16 (0..65535)", id="overflow"),
        pytest.param({}, -1, "outside uint16", id="negative unsigned"),
        pytest.param({"minimum": 0, "maximum": 8}, 9, "above the maximum 8", id="maximum"),
        pytest.param({"minimum": 1}, 0, "below the minimum 1", id="minimum"),
        pytest.param({}, "7", "expected a number", id="text for a number"),
        pytest.param({}, True, "expected a number", id="bool for a number"),
        pytest.param({"value_type": "float"}, math.nan, "expected a number", id="nan"),
        pytest.param({"value_type": "str", "mappings": {0: "idle"}}, "busy", "'busy' is not one of idle", id="enum"),
        pytest.param(
            {"raw_type": "string", "length": 1, "value_type": "str"}, "ABC", "the resource holds 2", id="long"
        ),
        pytest.param({"raw_type": "string", "length": 2, "value_type": "str"}, "é", "not ascii", id="non-ascii"),
        pytest.param({"raw_type": "bool", "value_type": "bool"}, 1, "expected true or false", id="int for bool"),
    ],
)
def test_encode_refuses_with_a_reason(overrides: dict[str, Any], value: Any, reason: str) -> None:
    with pytest.raises(CodecError) as caught:
        encode(resource(**overrides), value)
    assert reason in str(caught.value)


# -- word and byte order: the four ways devices lay out a 32-bit value ---------------------------------------------
ORDERS = [
    pytest.param("big", "big", "ABCD", id="ABCD big-endian"),
    pytest.param("little", "big", "CDAB", id="CDAB word swap"),
    pytest.param("big", "little", "BADC", id="BADC byte swap"),
    pytest.param("little", "little", "DCBA", id="DCBA both swapped"),
]


@pytest.mark.parametrize(("word_order", "byte_order", "order"), ORDERS)
@pytest.mark.parametrize(
    ("raw_type", "value"),
    [("float32", 123.456), ("float32", -0.015625), ("int32", -123456789), ("uint32", 0xDEADBEEF)],
)
def test_a_value_encoded_in_each_order_decodes_back(
    word_order: str, byte_order: str, order: str, raw_type: str, value: float
) -> None:
    r = resource(
        raw_type=raw_type,
        value_type="float" if raw_type == "float32" else "int",
        word_order=word_order,
        byte_order=byte_order,
    )
    assert r.order == order
    assert decode(r, encode(r, value)) == value


@pytest.mark.parametrize(
    ("word_order", "byte_order", "registers"),
    [
        # 123.456 as IEEE 754 single precision is 0x42F6E979: bytes A=42 B=F6 C=E9 D=79.
        pytest.param("big", "big", [0x42F6, 0xE979], id="ABCD"),
        pytest.param("little", "big", [0xE979, 0x42F6], id="CDAB"),
        pytest.param("big", "little", [0xF642, 0x79E9], id="BADC"),
        pytest.param("little", "little", [0x79E9, 0xF642], id="DCBA"),
    ],
)
def test_a_known_register_pair_decodes_to_a_known_float(word_order: str, byte_order: str, registers: list[int]) -> None:
    r = resource(raw_type="float32", value_type="float", word_order=word_order, byte_order=byte_order)
    assert decode(r, registers) == 123.456
    assert encode(r, 123.456) == registers


@pytest.mark.parametrize(
    ("overrides", "registers", "expected"),
    [
        pytest.param({}, [0x3412], 0x1234, id="uint16 BA"),
        pytest.param({"raw_type": "int16"}, [0xFFFE], -257, id="int16 BA"),
        pytest.param({"raw_type": "string", "length": 2, "value_type": "str"}, [0x3153, 0x0032], "S12", id="text"),
        pytest.param({"value_type": "str", "mappings": {0x0200: "jam"}}, [0x0002], "jam", id="mapped"),
    ],
)
def test_byte_order_little_swaps_the_bytes_of_every_register(
    overrides: dict[str, Any], registers: list[int], expected: Any
) -> None:
    r = resource(byte_order="little", **overrides)
    assert decode(r, registers) == expected
    assert encode(r, expected) == registers


def test_byte_order_does_not_apply_to_a_bit() -> None:
    with pytest.raises(ValueError, match="byte_order applies to register values"):
        resource(table="coil", raw_type="bool", value_type="bool", byte_order="little")
