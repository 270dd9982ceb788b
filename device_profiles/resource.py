"""A device resource: one value at a Modbus address, with its protocol attributes and neutral properties."""

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

Table = Literal["holding", "input", "coil", "discrete"]
RawType = Literal["uint16", "int16", "uint32", "int32", "float32", "string", "bool"]
ValueType = Literal["int", "float", "str", "bool"]
ReadWrite = Literal["R", "RW", "W"]

REGISTER_TABLES: tuple[Table, ...] = ("holding", "input")
BIT_TABLES: tuple[Table, ...] = ("coil", "discrete")
WIDTH: dict[RawType, int] = {"uint16": 1, "int16": 1, "uint32": 2, "int32": 2, "float32": 2, "bool": 1}
"""Registers per value; strings take `length` registers."""
INTEGER_RAW_TYPES: tuple[RawType, ...] = ("uint16", "int16", "uint32", "int32")

_NAME = re.compile(r"[a-z][a-z0-9_]*")


def _resource_name(value: str) -> str:
    if not _NAME.fullmatch(value):
        raise ValueError(f"{value!r} is not a resource name: use lower_snake_case (letters, digits, _)")
    return value


ResourceName = Annotated[str, AfterValidator(_resource_name)]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Resource(_Strict):
    """One value of a device (EdgeX: a device resource) and where it lives in the Modbus tables."""

    name: ResourceName
    description: str = ""
    # protocol attributes
    table: Table
    address: int = Field(ge=0, le=65535, description="Zero-based address of the first register or bit.")
    raw_type: RawType
    length: int | None = Field(default=None, ge=1, le=123, description="Registers of a string (2 bytes each).")
    word_order: Literal["big", "little"] = Field(default="big", description="Order of the words of 32-bit values.")
    byte_order: Literal["big", "little"] = Field(
        default="big", description="Order of the two bytes within each register; little swaps them (BADC, DCBA)."
    )
    # neutral properties
    value_type: ValueType
    read_write: ReadWrite = "R"
    scale: float = 1.0
    offset: float = 0.0
    units: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    mappings: dict[int, str] | None = Field(default=None, description="Raw integer -> name, for enumerations.")

    @property
    def order(self) -> str:
        """The byte order of the value's registers as installers write it: AB, BA, ABCD, CDAB, BADC or DCBA."""
        if self.raw_type == "bool":
            return ""
        if WIDTH.get(self.raw_type) != 2:
            return "BA" if self.byte_order == "little" else "AB"
        words = ["AB", "CD"] if self.word_order == "big" else ["CD", "AB"]
        return "".join(word[::-1] if self.byte_order == "little" else word for word in words)

    @property
    def size(self) -> int:
        """Registers (or bits) the resource occupies."""
        return self.length if self.raw_type == "string" and self.length else WIDTH.get(self.raw_type, 1)

    @property
    def last_address(self) -> int:
        return self.address + self.size - 1

    @property
    def where(self) -> str:
        """`input 104` or `input 113-128`, for messages."""
        span = f"{self.address}" if self.size == 1 else f"{self.address}-{self.last_address}"
        return f"{self.table} {span}"

    @model_validator(mode="after")
    def _consistent(self) -> "Resource":
        problems = list(_problems(self))
        if problems:
            raise ValueError("; ".join(problems))
        return self


def _problems(r: Resource) -> list[str]:
    out: list[str] = []
    if r.raw_type == "string" and r.length is None:
        out.append("a string resource needs `length` (registers, 2 characters each)")
    if r.raw_type != "string" and r.length is not None:
        out.append(f"`length` applies to strings only, not {r.raw_type}")
    if r.table in BIT_TABLES and r.raw_type != "bool":
        out.append(f"a {r.table} holds one bit: raw_type must be bool, not {r.raw_type}")
    if r.table in ("input", "discrete") and r.read_write != "R":
        out.append(f"{r.table} {'registers' if r.table == 'input' else 'inputs'} are read-only: read_write must be R")
    if r.last_address > 65535:
        out.append(f"ends at {r.last_address}, beyond the last Modbus address 65535")
    if r.word_order == "little" and WIDTH.get(r.raw_type, 0) != 2:
        out.append(f"word_order applies to 32-bit values only, not {r.raw_type}")
    if r.byte_order == "little" and r.raw_type == "bool":
        out.append("byte_order applies to register values (numbers and strings), not bool")
    numeric = r.raw_type not in ("string", "bool")
    if not numeric and (r.scale != 1.0 or r.offset != 0.0):
        out.append(f"scale and offset apply to numbers only, not {r.raw_type}")
    if r.scale == 0:
        out.append("scale must not be 0")
    if r.mappings is not None:
        if r.raw_type not in INTEGER_RAW_TYPES:
            out.append(f"mappings need an integer raw_type, not {r.raw_type}")
        if r.value_type != "str":
            out.append("a resource with mappings has value_type str (the mapped name)")
        if r.scale != 1.0 or r.offset != 0.0:
            out.append("a resource with mappings cannot have scale or offset")
        if not r.mappings:
            out.append("mappings must not be empty")
        names = list(r.mappings.values())
        if duplicates := sorted({n for n in names if names.count(n) > 1}):
            out.append(f"mappings repeat the name(s) {', '.join(duplicates)}")
    else:
        expected = _natural_value_type(r)
        if expected and r.value_type not in expected:
            out.append(f"value_type {r.value_type} does not fit raw_type {r.raw_type} (use {' or '.join(expected)})")
    if r.value_type == "int" and numeric and (not float(r.scale).is_integer() or not float(r.offset).is_integer()):
        out.append(f"scale {r.scale:g} and offset {r.offset:g} give fractions: use value_type float")
    if r.minimum is not None and r.maximum is not None and r.minimum > r.maximum:
        out.append(f"minimum {r.minimum:g} is greater than maximum {r.maximum:g}")
    return out


def _natural_value_type(r: Resource) -> tuple[ValueType, ...]:
    if r.raw_type == "string":
        return ("str",)
    if r.raw_type == "bool":
        return ("bool",)
    if r.raw_type == "float32":
        return ("float",)
    return ("int", "float")
