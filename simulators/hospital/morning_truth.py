"""What a lab morning is made of and what really happened in it: the blockage that disturbs it, every specimen's
and every trip's real times, and when a prediction from the expected legs first calls a STAT specimen late."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

from contract import Event
from simulators.clinical.journey import STAT
from simulators.tubes.network import TubeNetwork


@dataclass(frozen=True)
class Blockage:
    """A blocked stretch of the tube system: a zone, or stations, during a window of the morning."""

    zone: str | None = None
    stations: frozenset[str] = frozenset()
    after_min: float = 60.0
    """The window opens this many minutes after the morning's start."""
    window_min: float = 60.0
    carriers: int = 20
    """How many carriers it holds: exactly this many, the first dispatched into it in the window."""
    delay_min: tuple[float, float] = (20.0, 40.0)

    def __post_init__(self) -> None:
        if (self.zone is None) == (not self.stations):
            raise ValueError("a blockage is a zone or a set of stations: give exactly one")
        if self.carriers < 1 or self.window_min <= 0 or self.after_min < 0:
            raise ValueError("a blockage holds at least one carrier during a window after the start")
        low, high = self.delay_min
        if not 0 < low <= high:
            raise ValueError(f"delay_min must be (low, high) with 0 < low <= high, not {self.delay_min}")

    def crosses(self, network: TubeNetwork, origin: str, destination: str) -> bool:
        if self.stations:
            return origin in self.stations or destination in self.stations
        zones = [network.zone_of(origin), *network.path(network.zone_of(origin), network.zone_of(destination))]
        return self.zone in zones


@dataclass(frozen=True)
class SpecimenTruth:
    barcode: str
    priority: str
    category: str
    ward: str
    collected_at: datetime
    sorted_at: datetime
    received_at: datetime
    resulted_at: datetime
    carrier: str | None = None
    """None: walked to the sorter."""
    transaction: int | None = None
    dispatched_at: datetime | None = None
    arrived_at: datetime | None = None
    delay: timedelta = timedelta(0)
    """How long the blockage held its carrier."""
    due_at: datetime | None = None
    """STAT: collection + the STAT target."""
    at_risk_from: datetime | None = None
    """STAT: when the expected legs first predict it misses `due_at` (None: never)."""

    @property
    def delayed(self) -> bool:
        return self.delay > timedelta(0)


@dataclass(frozen=True)
class TripTruth:
    carrier: str
    transaction: int
    from_station: str
    priority: str
    specimens: tuple[str, ...]
    dispatched_at: datetime
    arrived_at: datetime
    delay: timedelta = timedelta(0)


@dataclass(frozen=True)
class LabMorning:
    events: list[Event]
    """Every event in the order it happened (then by edge and seq)."""
    specimens: dict[str, SpecimenTruth]
    trips: list[TripTruth]
    blockage: Blockage | None = None

    @property
    def delayed_trips(self) -> list[TripTruth]:
        return [t for t in self.trips if t.delay > timedelta(0)]

    @property
    def delayed_carriers(self) -> frozenset[str]:
        return frozenset(t.carrier for t in self.delayed_trips)

    @property
    def delayed_specimens(self) -> frozenset[str]:
        return frozenset(b for b, s in self.specimens.items() if s.delayed)

    @property
    def delayed_stat(self) -> frozenset[str]:
        return frozenset(b for b, s in self.specimens.items() if s.delayed and s.priority == STAT)


def first_predicted_late(
    milestones: Sequence[datetime | None], expected_s: Sequence[float], due: datetime
) -> datetime | None:
    """When a prediction from expected legs first puts the result after `due`; None if it never does.

    `milestones`: collected, dispatched, arrived, sorted, resulted (None for legs a walked-in specimen skips);
    `expected_s`: the expected seconds of the four legs between them.
    """
    reached = [(i, m) for i, m in enumerate(milestones) if m is not None]
    for (i, start), (j, end) in pairwise(reached):
        leg = sum(expected_s[i:j])  # a skipped milestone merges its leg into this one (walked in: collected -> sorted)
        rest = sum(expected_s[j:])
        if start + timedelta(seconds=leg + rest) > due:
            return start
        risk = due - timedelta(seconds=rest)
        if risk < end:
            return risk
    return None
