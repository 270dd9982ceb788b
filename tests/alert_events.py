"""Events as one edge of the general hospital reports them, stamped as received when they happened: what the alert
tests store directly (not through MQTT) to give the alert engine something to judge."""

import itertools
from datetime import datetime
from typing import Any

from contract import Event, Subject, new_event

SITE = "general-hospital"
_seq = itertools.count(1)


def event(kind: str, subject_kind: str, subject_id: str, at: datetime, device: str, **data: Any) -> Event:
    """`kind` about (`subject_kind`, `subject_id`) at `at` from `device`, with the next seq of hospital-edge."""
    built = new_event(
        kind,  # type: ignore[arg-type]
        seq=next(_seq),
        site=SITE,
        edge="hospital-edge",
        device=device,
        subject=Subject(kind=subject_kind, id=subject_id),  # type: ignore[arg-type]
        occurred_at=at,
        data=data,
    )
    return built.model_copy(update={"received_at": at})
