"""What a specimen's journey looks like: priorities, test categories, who handles it, how long each leg takes.

Shared by the live hospital (`simulators.hospital.hospital`) and the deterministic lab morning
(`simulators.hospital.lab_morning`) so both draw the same kind of traffic. Leg durations are drawn *below* the
expected leg times the gateway's rules hold (`gateway/rules/default.yaml` `expected_legs`, passed in as any object
with the same attributes, see `Legs`): an undisturbed specimen is then never predicted late. STAT specimens are
drawn from the categories whose STAT target is 30 minutes (blood gas, blood count, coagulation); the expected legs
of those add up to less than that, so only a real delay can put them at risk.
"""

import random
from dataclasses import dataclass, field
from typing import Protocol

ROUTINE, URGENT, STAT = "routine", "urgent", "stat"
URGENT_SHARE = 0.15


@dataclass(frozen=True)
class Category:
    lane: int
    """The sorter's output lane for the category."""
    weight: float
    bench: str
    """Where the lab takes it in (`specimen.received` location)."""


CATEGORIES: dict[str, Category] = {
    "biochemistry": Category(1, 30, "chemistry-analyser-1"),
    "cbc": Category(2, 20, "haematology-analyser-1"),
    "coagulation": Category(3, 15, "coagulation-analyser-1"),
    "immunology": Category(4, 10, "immunoassay-analyser-1"),
    "blood-gas": Category(5, 10, "blood-gas-analyser-1"),
    "urinalysis": Category(6, 5, "urinalysis-bench"),
    "microbiology": Category(7, 5, "microbiology-bench"),
    "serology": Category(8, 5, "serology-bench"),
}
"""Test categories (the ids the turnaround rules name) by share of the workload, sorted to lanes 1..8."""
STAT_CATEGORIES: dict[str, float] = {"blood-gas": 30, "cbc": 45, "coagulation": 25}
"""What STAT specimens are, by share: the tests with a 30-minute STAT target."""


class Legs(Protocol):
    """Expected leg times in minutes, as `gateway.rules.model.ExpectedLegs` has them."""

    @property
    def collection_to_dispatch(self) -> float: ...
    @property
    def transit(self) -> float: ...
    @property
    def arrival_to_sorted(self) -> float: ...
    def to_result(self, category: str | None) -> float: ...


@dataclass(frozen=True)
class DefaultLegs:
    """The shipped expected legs (`gateway/rules/default.yaml`), for simulators run without the gateway's rules."""

    collection_to_dispatch: float = 5
    transit: float = 5
    arrival_to_sorted: float = 3
    sorted_to_result: float = 20
    sorted_to_result_by_category: dict[str, float] = field(
        default_factory=lambda: {"blood-gas": 5, "cbc": 10, "coagulation": 15, "biochemistry": 45, "immunology": 60}
    )

    def to_result(self, category: str | None) -> float:
        return self.sorted_to_result_by_category.get(category or "", self.sorted_to_result)


def draw_priority(rng: random.Random, stat_share: float, urgent_share: float = URGENT_SHARE) -> str:
    draw = rng.random()
    if draw < stat_share:
        return STAT
    return URGENT if draw < stat_share + urgent_share else ROUTINE


def draw_category(rng: random.Random, priority: str) -> str:
    table = STAT_CATEGORIES if priority == STAT else {name: c.weight for name, c in CATEGORIES.items()}
    return rng.choices(list(table), weights=list(table.values()))[0]


STAFF_NUMBERS = range(100, 10_000)
"""Badge numbers of the hospital's staff: nurses `rn-`, lab scientists `bms-` and pharmacy technicians `ph-` + 4
digits (the demo's reference data names every badge of every prefix)."""
STAFF_ROLES = {"rn": "nurse", "bms": "scientist", "ph": "pharmacy technician"}
"""Badge prefixes and the role they stand for."""


class Staff:
    """Badge ids of the people on a journey, never names: ward nurses `rn-0421`, lab scientists `bms-0113`,
    pharmacy technicians `ph-0877`."""

    def __init__(
        self, rng: random.Random, wards: list[str], nurses_per_ward: int = 6, lab: int = 8, pharmacy: int = 4
    ) -> None:
        numbers = rng.sample(STAFF_NUMBERS, len(wards) * nurses_per_ward + lab + pharmacy)
        nurses = len(wards) * nurses_per_ward
        self.nurses = {
            ward: [f"rn-{n:04d}" for n in numbers[i * nurses_per_ward : (i + 1) * nurses_per_ward]]
            for i, ward in enumerate(wards)
        }
        self.lab = [f"bms-{n:04d}" for n in numbers[nurses : nurses + lab]]
        self.pharmacy = [f"ph-{n:04d}" for n in numbers[nurses + lab :]]

    def nurse(self, rng: random.Random, ward: str) -> str:
        return rng.choice(self.nurses.get(ward) or [b for badges in self.nurses.values() for b in badges])

    def scientist(self, rng: random.Random) -> str:
        return rng.choice(self.lab)

    def pharmacist(self, rng: random.Random) -> str:
        return rng.choice(self.pharmacy)


def below(rng: random.Random, expected_min: float, low: float = 0.2, high: float = 0.85) -> float:
    """Seconds of an undisturbed leg: a share of its expected minutes, always below the expectation."""
    return rng.uniform(low, high) * expected_min * 60


def lab_order_id(number: int) -> str:
    return f"LO-{number:08d}"
