"""Field choices where hospitals differ: which field holds the barcode, priority codes, test codes → categories.

The shipped `default_mapping.yaml` fits the demo's laboratory system and the HL7 v2.5.1 conventions;
`WARDLINK_HL7_MAPPING` names a file that replaces it. A field is written `SEG-field[.component[.subcomponent]]`.
Only segments without patient data may be named (and of PV1 only the ward, PV1-3): what the mapping reads is also
all that the redacted copy of a dead letter keeps (`gateway.clinical.hl7.redaction`).
"""

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from contract.events.specimen import SpecimenPriority
from contract.ids import Identifier

DEFAULT_MAPPING = Path(__file__).with_name("default_mapping.yaml")
READABLE_SEGMENTS: dict[str, frozenset[int] | None] = {
    "MSH": None,
    "ORC": None,
    "OBR": None,
    "TQ1": None,
    "SPM": None,
    "SAC": None,
    "EQU": None,
    "PV1": frozenset({3}),
}
"""Segments a mapping may read, and of each the fields (None: any). PID, NK1, OBX, NTE and the like never."""
_PATH = re.compile(r"([A-Z][A-Z0-9]{2})-([1-9][0-9]*)(?:\.([1-9][0-9]*))?(?:\.([1-9][0-9]*))?")


class MappingError(ValueError):
    """A mapping file that cannot be used; the message names the file, the field and the reason."""


@dataclass(frozen=True, slots=True)
class FieldPath:
    """Where a value is: segment, field, component and subcomponent (1-based, as HL7 counts)."""

    segment: str
    field: int
    component: int = 1
    subcomponent: int = 1

    @classmethod
    def parse(cls, text: str) -> "FieldPath":
        match = _PATH.fullmatch(text.strip())
        if match is None:
            raise ValueError(f"{text!r} is not a field: write SEG-field[.component[.subcomponent]], e.g. SPM-2.1")
        segment, field, component, subcomponent = match.groups()
        allowed = READABLE_SEGMENTS.get(segment, frozenset())
        if allowed is not None and int(field) not in allowed:
            raise ValueError(
                f"{text} is not readable: only {', '.join(s for s in READABLE_SEGMENTS if s != 'PV1')} and PV1-3 "
                "may be read, never a segment or field that can hold patient data"
            )
        return cls(segment, int(field), int(component or 1), int(subcomponent or 1))

    def __str__(self) -> str:
        parts = f"{self.segment}-{self.field}"
        if self.component != 1 or self.subcomponent != 1:
            parts += f".{self.component}"
        if self.subcomponent != 1:
            parts += f".{self.subcomponent}"
        return parts


def _path(value: Any) -> FieldPath:
    if isinstance(value, FieldPath):
        return value
    if not isinstance(value, str):
        raise ValueError("a field is written as text, e.g. SPM-2.1")
    return FieldPath.parse(value)


def _one_or_more(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _nonempty(value: list[FieldPath]) -> list[FieldPath]:
    if not value:
        raise ValueError("name at least one field")
    return value


Path_ = Annotated[FieldPath, BeforeValidator(_path)]
Choices = Annotated[list[Path_], BeforeValidator(_one_or_more), AfterValidator(_nonempty)]
"""Fields tried in order: the first that is not empty gives the value."""
Codes = Annotated[list[str], BeforeValidator(_one_or_more)]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)


class ContainerFields(_Strict):
    """SSU^U03 (IHE LAW container status): which container, its state (HL7 table 0370), where and when."""

    barcode: Choices
    status: Choices
    received: Codes = Field(min_length=1)
    """SAC-8 states that mean the laboratory took the specimen in; any other state is kept, not an event."""
    location: Choices
    at: Choices


class ResultFields(_Strict):
    """ORU^R01 and OUL^R22: the result status (HL7 table 0123), when, and who released it."""

    status: Choices
    final: Codes = Field(min_length=1)
    """OBR-25 codes that release the result (`specimen.resulted`); any other status is kept as it is, not an event."""
    at: Choices
    badge: Choices


class Hl7Mapping(_Strict):
    timezone: str = "UTC"
    processing_ids: Codes = Field(min_length=1)
    versions: Codes = Field(min_length=1)
    sender: Path_
    devices: dict[str, Identifier] = Field(default_factory=dict)
    barcode: Choices
    order_id: Choices
    priority: Choices
    priorities: dict[str, SpecimenPriority] = Field(min_length=1)
    category: Choices
    categories: dict[str, Identifier] = Field(min_length=1)
    unmapped_tests: Literal["skip", "reject"] = "skip"
    """A specimen or result of a test code not in `categories`: `skip` answers AA and tracks nothing of it (a
    laboratory system sends every test; wardlink tracks the tubes of some); `reject` answers AE."""
    ward: Choices
    collector: Choices
    collected_at: Choices
    cancelled: Codes = Field(default_factory=list)
    container: ContainerFields
    result: ResultFields

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. Europe/Berlin, UTC)") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def paths(self) -> set[FieldPath]:
        """Every field this mapping reads: what the redacted copy of a message keeps."""
        found: set[FieldPath] = {self.sender}
        for model in (self, self.container, self.result):
            for name in type(model).model_fields:
                value = getattr(model, name)
                if isinstance(value, list) and value and isinstance(value[0], FieldPath):
                    found.update(value)
        return found


def _problems(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or '(file)'}: {error['msg']}"
        for error in exc.errors(include_url=False, include_input=False)
    )


def _read(source: Path) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise MappingError(f"{source}: cannot read the HL7 mapping ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise MappingError(f"{source}: not YAML ({exc})") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise MappingError(f"{source}: the HL7 mapping is a YAML mapping of field choices (see default_mapping.yaml)")
    return raw


def load_mapping(path: Path | None = None) -> Hl7Mapping:
    """The shipped mapping with what `path` sets laid over it, or `MappingError` naming file, field and reason.

    A key set in the file replaces the default's (a table such as `categories` as a whole, so a code can be left
    out); `container` and `result` are laid over key by key.
    """
    merged = _read(DEFAULT_MAPPING)
    source = DEFAULT_MAPPING
    if path is not None:
        source = path
        for key, value in _read(path).items():
            default = merged.get(key)
            if isinstance(default, dict) and isinstance(value, dict) and key in ("container", "result"):
                merged[key] = {**default, **value}
            else:
                merged[key] = value
    try:
        return Hl7Mapping.model_validate(merged)
    except ValidationError as exc:
        raise MappingError(f"{source}: {_problems(exc)}") from None
