"""What the wire contract says about each event type a device can report: subject kind and data fields."""

from dataclasses import dataclass
from functools import cache
from typing import get_args

from pydantic import BaseModel

from contract.base import SubjectKind
from contract.envelope import Event


@dataclass(frozen=True)
class EventShape:
    event_type: str
    subject_kind: SubjectKind
    data_model: type[BaseModel]

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(self.data_model.model_fields)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(name for name, info in self.data_model.model_fields.items() if info.is_required())


@cache
def event_shapes() -> dict[str, EventShape]:
    """Event type -> shape, read from the contract's discriminated union so a new event type needs no code here."""
    union = get_args(Event)[0]
    shapes = {}
    for cls in get_args(union):
        event_type = cls.model_fields["type"].default
        shapes[event_type] = EventShape(event_type, cls.subject_kind, cls.model_fields["data"].annotation)
    return shapes
