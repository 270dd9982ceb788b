"""Registers <-> values of one resource: pymodbus does the raw conversion, the profile adds scale and mappings."""

import math
from typing import Any

from pymodbus.client.mixin import ModbusClientMixin

from device_profiles.errors import CodecError
from device_profiles.resource import Resource

_DATATYPE = ModbusClientMixin.DATATYPE
_PYMODBUS_TYPES = {
    "uint16": _DATATYPE.UINT16,
    "int16": _DATATYPE.INT16,
    "uint32": _DATATYPE.UINT32,
    "int32": _DATATYPE.INT32,
    "float32": _DATATYPE.FLOAT32,
    "string": _DATATYPE.STRING,
}
_INT_RANGE = {
    "uint16": (0, 0xFFFF),
    "int16": (-0x8000, 0x7FFF),
    "uint32": (0, 0xFFFFFFFF),
    "int32": (-(2**31), 2**31 - 1),
}
STRING_ENCODING = "ascii"


def decode(resource: Resource, registers: list[int]) -> Any:
    """The resource's value from exactly its registers (one 0/1 per bit for coils and discrete inputs)."""
    if len(registers) != resource.size:
        raise CodecError(f"{_name(resource)}: expected {resource.size} register(s), got {len(registers)}")
    if any(not 0 <= word <= 0xFFFF for word in registers):
        raise CodecError(f"{_name(resource)}: registers must be 0..65535, got {registers}")
    registers = _device_bytes(resource, registers)
    if resource.raw_type == "bool":
        return registers[0] != 0
    if resource.raw_type == "string":
        try:
            text = ModbusClientMixin.convert_from_registers(registers, _DATATYPE.STRING, "big", STRING_ENCODING)
        except UnicodeDecodeError:
            raise CodecError(f"{_name(resource)}: registers {registers} are not {STRING_ENCODING} text") from None
        return str(text).rstrip(" \x00")  # devices pad with NULs or spaces
    raw = ModbusClientMixin.convert_from_registers(registers, _PYMODBUS_TYPES[resource.raw_type], resource.word_order)
    if resource.raw_type == "float32":
        raw = float(f"{raw:.7g}")  # float32 carries ~7 significant digits; drop the binary noise beyond them
    if resource.mappings is not None:
        try:
            return resource.mappings[int(raw)]  # type: ignore[arg-type]  # numeric raw types decode to one number
        except KeyError:
            known = ", ".join(f"{key}: {name}" for key, name in sorted(resource.mappings.items()))
            raise CodecError(f"{_name(resource)}: value {raw} is not in its mappings {{{known}}}") from None
    value = raw * resource.scale + resource.offset  # type: ignore[operator]  # as above: a number, not a list
    if resource.value_type == "int":
        return round(value)
    if resource.value_type == "float":
        return round(float(value), 9)  # 215 * 0.1 is 21.500000000000004; the device meant 21.5
    return value  # pragma: no cover - value types are checked by the resource model


def encode(resource: Resource, value: Any) -> list[int]:
    """The registers that make `decode` return `value` (the inverse, for writes and simulators)."""
    if resource.raw_type == "bool":
        if not isinstance(value, bool):
            raise CodecError(f"{_name(resource)}: expected true or false, got {value!r}")
        return [int(value)]
    return _device_bytes(resource, _encode_words(resource, value))


def _device_bytes(resource: Resource, registers: list[int]) -> list[int]:
    """Big-endian registers <-> the device's: a `byte_order: little` device has the two bytes of each swapped.

    The swap is its own inverse, so decode and encode share it; `word_order` is pymodbus's to apply.
    """
    if resource.byte_order == "big":
        return registers
    return [((word & 0xFF) << 8) | (word >> 8) for word in registers]


def _encode_words(resource: Resource, value: Any) -> list[int]:
    """`value` as big-endian registers (bytes within each register high first), in the resource's word order."""
    if resource.raw_type == "string":
        return _encode_string(resource, value)
    if resource.mappings is not None:
        raw: float | int = _unmap(resource, value)
    else:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise CodecError(f"{_name(resource)}: expected a number, got {value!r}")
        _check_bounds(resource, value)
        raw = (value - resource.offset) / resource.scale
    if resource.raw_type == "float32":
        return ModbusClientMixin.convert_to_registers(float(raw), _DATATYPE.FLOAT32, resource.word_order)
    integer = round(raw)
    low, high = _INT_RANGE[resource.raw_type]
    if not low <= integer <= high:
        raise CodecError(f"{_name(resource)}: {value!r} is raw {integer}, outside {resource.raw_type} ({low}..{high})")
    return ModbusClientMixin.convert_to_registers(integer, _PYMODBUS_TYPES[resource.raw_type], resource.word_order)


def _encode_string(resource: Resource, value: Any) -> list[int]:
    if not isinstance(value, str):
        raise CodecError(f"{_name(resource)}: expected text, got {value!r}")
    try:
        data = value.encode(STRING_ENCODING)
    except UnicodeEncodeError:
        raise CodecError(f"{_name(resource)}: {value!r} is not {STRING_ENCODING} text") from None
    capacity = resource.size * 2
    if len(data) > capacity:
        raise CodecError(f"{_name(resource)}: {value!r} is {len(data)} characters, the resource holds {capacity}")
    words = ModbusClientMixin.convert_to_registers(value, _DATATYPE.STRING, "big", STRING_ENCODING) if data else []
    return words + [0] * (resource.size - len(words))  # NUL padding


def _unmap(resource: Resource, value: Any) -> int:
    assert resource.mappings is not None
    for key, name in resource.mappings.items():
        if name == value:
            return key
    raise CodecError(f"{_name(resource)}: {value!r} is not one of {', '.join(resource.mappings.values())}")


def _check_bounds(resource: Resource, value: float) -> None:
    if resource.minimum is not None and value < resource.minimum:
        raise CodecError(f"{_name(resource)}: {value!r} is below the minimum {resource.minimum:g}")
    if resource.maximum is not None and value > resource.maximum:
        raise CodecError(f"{_name(resource)}: {value!r} is above the maximum {resource.maximum:g}")


def _name(resource: Resource) -> str:
    return f"resource {resource.name!r} ({resource.where})"
