"""The laboratory system's side of a chaos run: what it reports, drawn from the run's seed alone, and the state
every specimen must end in. The plan does not depend on timing, so an undisturbed run of the same seed ends in
exactly `expected_end`; a disturbed run must end there too.
"""

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from simulators.clinical.barcode import lab_barcode
from simulators.clinical.journey import CATEGORIES, lab_order_id

STEPS = ("specimen.collected", "specimen.received", "specimen.resulted")
"""A specimen's journey as the lab system tells it, in order; each specimen stops after a drawn step."""
STATUS_AFTER = {"specimen.collected": "collected", "specimen.received": "received", "specimen.resulted": "resulted"}
WARDS = ("icu", "ward-3a", "ward-4b", "emergency")
PRIORITIES = ("stat", "urgent", "routine")
PLAN_START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
"""Fixed event times: the same step of the same seed has the same content, so the gateway's content id is stable."""


@dataclass(frozen=True)
class LabStep:
    type: str
    barcode: str
    data: dict[str, Any]
    occurred_at: datetime


def lab_plan(seed: int, specimens: int) -> list[LabStep]:
    """The reports of a run: `specimens` specimens, each collected and then received and resulted or not, the
    specimens' steps interleaved at random but each specimen's in order."""
    rng = random.Random(seed)
    first = rng.randrange(1, 90_000_000)
    journeys: list[list[str]] = []
    for number in range(first, first + specimens):
        steps = STEPS[: rng.choice((1, 2, 3, 3))]
        journeys.append([f"{number}:{step}" for step in steps])
    order: list[str] = []
    cursors = [0] * len(journeys)
    while any(cursor < len(journey) for cursor, journey in zip(cursors, journeys, strict=True)):
        open_ = [i for i, journey in enumerate(journeys) if cursors[i] < len(journey)]
        pick = rng.choice(open_)
        order.append(journeys[pick][cursors[pick]])
        cursors[pick] += 1
    plan = []
    for index, item in enumerate(order):
        number, step = item.split(":")
        barcode = lab_barcode(int(number))
        at = PLAN_START + timedelta(seconds=index, milliseconds=rng.randrange(1000))
        plan.append(LabStep(step, barcode, _data(step, int(number), rng), at))
    return plan


def _data(step: str, number: int, rng: random.Random) -> dict[str, Any]:
    badge = f"bms-{rng.randrange(1, 9999):04d}"
    if step == "specimen.collected":
        return {
            "category": rng.choice(sorted(CATEGORIES)),
            "ward": rng.choice(WARDS),
            "priority": rng.choice(PRIORITIES),
            "badge": f"rn-{rng.randrange(1, 9999):04d}",
            "order_id": lab_order_id(number),
        }
    if step == "specimen.received":
        return {"location": "haematology-analyser-1", "badge": badge}
    return {"badge": badge}


def expected_end(plan: list[LabStep]) -> dict[str, str]:
    """barcode -> the status its last planned step leaves it in."""
    end: dict[str, str] = {}
    for step in plan:
        end[step.barcode] = STATUS_AFTER[step.type]
    return end
