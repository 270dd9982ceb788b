"""Names beside ids: response models mark the id fields people read, and `named` fills the names beside them.

A model says once where each id's name lives in the reference data, next to the field that receives it:

    ward: Annotated[str | None, Named("location")]
    ward_name: str | None = None

and every route hands its response through `named(response, reference)`, which walks nested models and lists.
An id the reference data does not know (or no reference data at all, version 0) gets None: screens then show the
id itself, marked as unknown to the reference data.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal, Protocol, TypeVar

from pydantic import BaseModel

from gateway.reference.model import ReferenceData

Kind = Literal["location", "staff", "device"]
"""Where an id's name may be: locations (wards, stations, labs, cabinets, map nodes), staff (badges), devices."""

_LOOKUP: dict[Kind, Callable[[ReferenceData, str], str | None]] = {
    "location": ReferenceData.location_name,
    "staff": ReferenceData.staff_name,
    "device": ReferenceData.device_name,
}

PLACE: tuple[Kind, ...] = ("location", "device")
"""A place that is a location, or a device people name as one (a sorter, a cabinet)."""
HOLDER: tuple[Kind, ...] = ("staff", "device", "location")
"""Who holds something: a badge, a device (a sorter, a robot) or a system."""

REF_KINDS: Mapping[str, tuple[Kind, ...]] = {
    "ward": ("location",),
    "station": ("location",),
    "lab": PLACE,
    "cabinet": PLACE,
    "person": ("staff",),
    "device": ("device", "location"),
    "carrier": ("device",),
    "system": ("device",),
    "edge": ("device",),
}
"""What a (kind, id) pair's kind says about where to look (specimen custody refs, alert subjects)."""

DATA_KEYS: Mapping[str, tuple[Kind, ...]] = {
    "badge": ("staff",),
    "ward": ("location",),
    "station": ("location",),
    "from_station": ("location",),
    "to_station": ("location",),
    "location": PLACE,
    "destination": PLACE,
    "node": PLACE,
    "cabinet": PLACE,
    "robot": ("device",),
}
"""The keys of an event's data that hold ids people read, and where their names are."""


def name_of(reference: ReferenceData, kinds: tuple[Kind, ...], value: object) -> str | None:
    """The first name the reference data has for `value` among `kinds`; None for an unknown id or no id."""
    if not isinstance(value, str) or not value:
        return None
    for kind in kinds:
        if (found := _LOOKUP[kind](reference, value)) is not None:
            return found
    return None


def subject_name(reference: ReferenceData, kind: str, subject_id: str) -> str | None:
    """A subject's name by its kind (a cabinet's, a device's); None for kinds that have none (specimen, delivery)."""
    return name_of(reference, REF_KINDS.get(kind, ()), subject_id)


class Marker(Protocol):
    """Field metadata saying which names to fill from the field's value, and into which sibling fields."""

    def targets(self, field: str) -> tuple[str, ...]: ...

    def names(self, reference: ReferenceData, field: str, model: BaseModel) -> dict[str, object]: ...


@dataclass(frozen=True, slots=True)
class Named:
    """An id whose name is looked up among `kinds`, in turn; it goes in `into` (default: `<field>_name`)."""

    kinds: tuple[Kind, ...]
    into: str | None = None

    def __init__(self, *kinds: Kind, into: str | None = None) -> None:
        object.__setattr__(self, "kinds", kinds)
        object.__setattr__(self, "into", into)

    def targets(self, field: str) -> tuple[str, ...]:
        return (self.into or f"{field}_name",)

    def names(self, reference: ReferenceData, field: str, model: BaseModel) -> dict[str, object]:
        return {self.targets(field)[0]: name_of(reference, self.kinds, getattr(model, field))}


@dataclass(frozen=True, slots=True)
class NamedByKind:
    """The id of a (kind, id) pair: its sibling `kind_field` says where to look (`REF_KINDS`)."""

    kind_field: str = "kind"
    into: str = "name"

    def targets(self, field: str) -> tuple[str, ...]:
        return (self.into, self.kind_field)

    def names(self, reference: ReferenceData, field: str, model: BaseModel) -> dict[str, object]:
        kinds = REF_KINDS.get(getattr(model, self.kind_field), ())
        return {self.into: name_of(reference, kinds, getattr(model, field))}


@dataclass(frozen=True, slots=True)
class Formulary:
    """A GTIN: the formulary's name and strength go in `medication_name` and `medication_strength`."""

    def targets(self, field: str) -> tuple[str, ...]:
        return ("medication_name", "medication_strength")

    def names(self, reference: ReferenceData, field: str, model: BaseModel) -> dict[str, object]:
        gtin = getattr(model, field)
        found = reference.medications.get(gtin) if gtin else None
        return {
            "medication_name": found.name if found else None,
            "medication_strength": found.strength if found else None,
        }


@dataclass(frozen=True, slots=True)
class DevicePlace:
    """A device id: its name, and where the reference data places it, go in `<field>_name`, `location(_name)`."""

    def targets(self, field: str) -> tuple[str, ...]:
        return (f"{field}_name", "location", "location_name")

    def names(self, reference: ReferenceData, field: str, model: BaseModel) -> dict[str, object]:
        found = reference.devices.get(getattr(model, field))
        place = found.location if found else None
        return {
            f"{field}_name": found.name if found else None,
            "location": place,
            "location_name": reference.location_name(place),
        }


@dataclass(frozen=True, slots=True)
class DataNames:
    """An event's data: the names of the ids it holds (`DATA_KEYS`) go in `into`, by key."""

    into: str = "data_names"

    def targets(self, field: str) -> tuple[str, ...]:
        return (self.into,)

    def names(self, reference: ReferenceData, field: str, model: BaseModel) -> dict[str, object]:
        data: Mapping[str, Any] = getattr(model, field)
        found = {key: name_of(reference, kinds, data[key]) for key, kinds in DATA_KEYS.items() if key in data}
        return {self.into: found}


DETAIL_KEYS: Mapping[str, tuple[Kind, ...]] = {**DATA_KEYS, "device": ("device", "location")}
"""The keys of an alert's details that hold ids people read (the device at fault besides an event's keys)."""


@dataclass(frozen=True, slots=True)
class DetailNames:
    """An alert's details: the name of every id its `DETAIL_KEYS` hold, by id, go in `into` (a screen that writes an
    alert's text in its own language puts the name where the id would be)."""

    into: str = "details_names"

    def targets(self, field: str) -> tuple[str, ...]:
        return (self.into,)

    def names(self, reference: ReferenceData, field: str, model: BaseModel) -> dict[str, object]:
        details: Mapping[str, Any] = getattr(model, field)
        found: dict[str, str] = {}
        for key, kinds in DETAIL_KEYS.items():
            value = details.get(key)
            if isinstance(value, str) and (name := name_of(reference, kinds, value)) is not None:
                found[value] = name
        return {self.into: found}


MARKERS = (Named, NamedByKind, Formulary, DevicePlace, DataNames, DetailNames)


@cache
def marks(model: type[BaseModel]) -> tuple[tuple[str, Marker], ...]:
    """The model's marked fields; a marker whose target fields the model lacks is a programming error."""
    found = []
    for name, info in model.model_fields.items():
        for marker in info.metadata:
            if not isinstance(marker, MARKERS):
                continue
            missing = [t for t in marker.targets(name) if t not in model.model_fields]
            if missing:
                raise TypeError(f"{model.__name__}.{name} is marked for names but has no field {', '.join(missing)}")
            found.append((name, marker))
    return tuple(found)


M = TypeVar("M", bound=BaseModel)


def named(model: M, reference: ReferenceData) -> M:
    """A copy of `model` with every `*_name` field filled from `reference`, through nested models and lists."""
    updates: dict[str, object] = {}
    for name, marker in marks(type(model)):
        updates.update(marker.names(reference, name, model))
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            updates[name] = named(value, reference)
        elif isinstance(value, list) and any(isinstance(item, BaseModel) for item in value):
            updates[name] = [named(item, reference) if isinstance(item, BaseModel) else item for item in value]
    return model.model_copy(update=updates) if updates else model
