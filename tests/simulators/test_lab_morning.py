"""The deterministic lab morning: 500 specimens, ~5 % STAT, a tube blockage that holds exactly 20 carriers.

What the scenario test relies on: the same seed gives the same events and truth; every event is valid and
each edge numbers its events 1, 2, ... in time order; every specimen's journey is in order; undisturbed
specimens stay below the expected legs (never predicted late against the default rules), and the delayed STAT
specimens are predicted late while their carrier is still stuck, well before they are due.
"""

from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from contract import parse_event
from gateway.rules.model import default_rules
from simulators.clinical.journey import DefaultLegs
from simulators.hospital.lab_morning import lab_morning
from simulators.hospital.morning_truth import Blockage, LabMorning, SpecimenTruth, first_predicted_late

START = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
RULES = default_rules().turnaround
LEGS = RULES.expected_legs
BLOCKAGE = Blockage(zone="zone-b", after_min=60, window_min=60)
SEEDS = (1, 2, 3)


def _morning(seed: int, blockage: Blockage | None = BLOCKAGE) -> LabMorning:
    return lab_morning(seed, blockage=blockage, start=START, legs=LEGS)


@pytest.fixture(scope="module", params=SEEDS)
def morning(request: pytest.FixtureRequest) -> LabMorning:
    return _morning(request.param)


def _journeys(morning: LabMorning) -> dict[str, dict[str, datetime]]:
    """Per barcode, when each step happened (carrier steps through the carrier that held it)."""
    steps: dict[str, dict[str, datetime]] = defaultdict(dict)
    held: dict[tuple[str, int], list[str]] = {}
    for event in morning.events:
        kind, _, step = event.type.partition(".")
        if kind == "specimen":
            assert step not in steps[event.subject.id], f"{event.subject.id} {step} twice"
            steps[event.subject.id][step] = event.occurred_at
        elif step == "dispatched":
            held[(event.subject.id, event.data.transaction)] = event.data.specimens
            for barcode in event.data.specimens:
                steps[barcode]["dispatched"] = event.occurred_at
        else:
            for barcode in held[(event.subject.id, event.data.transaction)]:
                steps[barcode][step] = event.occurred_at
    return steps


def test_the_same_seed_gives_the_same_morning_and_another_seed_another() -> None:
    first, again, other = _morning(7), _morning(7), _morning(8)
    assert [e.model_dump() for e in first.events] == [e.model_dump() for e in again.events]
    assert first.specimens == again.specimens
    assert first.trips == again.trips
    assert [e.id for e in first.events] != [e.id for e in other.events]
    assert set(first.specimens) != set(other.specimens)


def test_five_hundred_specimens_five_percent_stat(morning: LabMorning) -> None:
    priorities = Counter(s.priority for s in morning.specimens.values())
    assert len(morning.specimens) == 500
    assert priorities["stat"] == 25
    assert 0.08 < priorities["urgent"] / 500 < 0.22
    collected = [e for e in morning.events if e.type == "specimen.collected"]
    assert sorted(e.subject.id for e in collected) == sorted(morning.specimens)
    assert {e.data.priority for e in collected if e.data.priority == "stat"} == {"stat"}
    assert all(e.data.badge and e.data.order_id for e in collected)


def test_every_event_is_valid_and_each_edge_counts_its_events_in_time_order(morning: LabMorning) -> None:
    by_edge: dict[str, list[tuple[int, datetime]]] = defaultdict(list)
    for event in morning.events:
        assert parse_event(event.model_dump_json()) == event
        by_edge[event.edge].append((event.seq, event.occurred_at))
    assert set(by_edge) == {"hospital-edge", "lab-system"}
    for edge, seen in by_edge.items():
        assert [seq for seq, _ in seen] == list(range(1, len(seen) + 1)), edge
        assert [at for _, at in seen] == sorted(at for _, at in seen), edge
    assert {e.device for e in morning.events} == {"tubes-1", "sorter-1", "lis"}
    assert len({e.id for e in morning.events}) == len(morning.events)


def test_every_specimen_journey_is_in_order(morning: LabMorning) -> None:
    carried = ["collected", "dispatched", "arrived", "scanned", "sorted", "received", "resulted"]
    walked = ["collected", "scanned", "sorted", "received", "resulted"]
    shapes = Counter()
    for barcode, steps in _journeys(morning).items():
        order = carried if "dispatched" in steps else walked
        assert list(steps) == order or sorted(steps) == sorted(order), (barcode, steps)
        times = [steps[step] for step in order]
        assert times == sorted(times), (barcode, steps)
        truth = morning.specimens[barcode]
        assert (truth.collected_at, truth.sorted_at, truth.resulted_at) == (
            steps["collected"],
            steps["sorted"],
            steps["resulted"],
        )
        shapes["carried" if order is carried else "walked"] += 1
    assert 30 < shapes["walked"] < 100  # some are walked in, most come by tube
    assert shapes["carried"] == 500 - shapes["walked"]


def test_carriers_hold_several_specimens(morning: LabMorning) -> None:
    sizes = Counter(len(t.specimens) for t in morning.trips)
    assert max(sizes) >= 4
    assert sum(n for size, n in sizes.items() if size > 1) > len(morning.trips) / 2
    in_transit: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    for trip in morning.trips:
        in_transit[trip.carrier].append((trip.dispatched_at, trip.arrived_at))
    for carrier, trips in in_transit.items():  # a carrier is never on two trips at once
        trips.sort()
        assert all(arrived <= nxt for (_, arrived), (nxt, _) in pairwise(trips)), carrier


def test_the_blockage_delays_exactly_twenty_carriers_by_twenty_to_forty_minutes(morning: LabMorning) -> None:
    delayed = morning.delayed_trips
    assert len(delayed) == 20
    assert len(morning.delayed_carriers) == 20
    assert all(timedelta(minutes=20) <= t.delay <= timedelta(minutes=40) for t in delayed)
    opens = START + timedelta(minutes=BLOCKAGE.after_min)
    assert all(opens <= t.dispatched_at < opens + timedelta(minutes=BLOCKAGE.window_min) for t in delayed)
    assert morning.delayed_specimens == {b for t in delayed for b in t.specimens}
    undisturbed = [t for t in morning.trips if t.delay == timedelta(0)]
    assert all(t.arrived_at - t.dispatched_at < timedelta(minutes=LEGS.transit) for t in undisturbed)


def test_undisturbed_specimens_stay_below_every_expected_leg_and_are_never_predicted_late(
    morning: LabMorning,
) -> None:
    for specimen in morning.specimens.values():
        if specimen.delayed:
            continue
        to_result = timedelta(minutes=LEGS.to_result(specimen.category))
        if specimen.dispatched_at is not None:
            assert specimen.arrived_at is not None
            assert specimen.dispatched_at - specimen.collected_at < timedelta(minutes=LEGS.collection_to_dispatch)
            assert specimen.arrived_at - specimen.dispatched_at < timedelta(minutes=LEGS.transit)
            assert specimen.sorted_at - specimen.arrived_at < timedelta(minutes=LEGS.arrival_to_sorted)
        assert specimen.resulted_at - specimen.sorted_at < to_result
        target = RULES.target_minutes(specimen.priority, specimen.category, specimen.ward)
        assert target is not None
        due = specimen.collected_at + timedelta(minutes=target)
        assert first_predicted_late(*_prediction_inputs(specimen), due) is None, specimen


def test_delayed_stat_specimens_are_predicted_late_while_stuck_and_well_before_due(morning: LabMorning) -> None:
    assert morning.delayed_stat, "the blockage should catch at least one STAT specimen"
    for barcode in morning.delayed_stat:
        specimen = morning.specimens[barcode]
        target = RULES.target_minutes("stat", specimen.category, specimen.ward)
        assert specimen.due_at == specimen.collected_at + timedelta(minutes=target or 0)
        assert specimen.at_risk_from is not None
        assert specimen.arrived_at is not None
        assert specimen.at_risk_from == first_predicted_late(*_prediction_inputs(specimen), specimen.due_at)
        assert specimen.at_risk_from < specimen.arrived_at  # the carrier is still stuck
        assert specimen.due_at - specimen.at_risk_from >= timedelta(minutes=5)
    stat = {b for b, s in morning.specimens.items() if s.priority == "stat"}
    assert {b for b in stat if morning.specimens[b].at_risk_from is not None} == morning.delayed_stat


def _prediction_inputs(s: SpecimenTruth) -> tuple[list[datetime | None], list[float]]:
    milestones = [s.collected_at, s.dispatched_at, s.arrived_at, s.sorted_at, s.resulted_at]
    expected = [LEGS.collection_to_dispatch, LEGS.transit, LEGS.arrival_to_sorted, LEGS.to_result(s.category)]
    return milestones, [minutes * 60 for minutes in expected]


def test_without_a_blockage_nothing_is_delayed_and_no_stat_is_at_risk() -> None:
    morning = _morning(1, blockage=None)
    assert morning.delayed_trips == []
    assert morning.delayed_specimens == frozenset()
    assert all(s.at_risk_from is None for s in morning.specimens.values())


def test_a_blockage_of_stations_holds_only_their_carriers() -> None:
    blockage = Blockage(stations=frozenset({"icu", "ed"}), after_min=30, window_min=120, carriers=5)
    morning = _morning(2, blockage)
    assert len(morning.delayed_trips) == 5
    assert {t.from_station for t in morning.delayed_trips} <= {"icu", "ed"}


def test_a_window_that_cannot_catch_enough_carriers_says_so() -> None:
    with pytest.raises(ValueError, match=r"caught \d+ carrier\(s\), not 20: open its window earlier"):
        _morning(1, Blockage(zone="zone-b", after_min=230, window_min=5))


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ({"zone": None}, "a zone or a set of stations"),
        ({"zone": "zone-b", "stations": frozenset({"icu"})}, "a zone or a set of stations"),
        ({"zone": "zone-b", "delay_min": (40.0, 20.0)}, "0 < low <= high"),
        ({"zone": "zone-b", "carriers": 0}, "at least one carrier"),
    ],
)
def test_a_blockage_is_a_zone_or_stations_with_a_sane_delay(bad: dict[str, object], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        Blockage(**bad)  # type: ignore[arg-type]


def test_start_must_be_aware() -> None:
    with pytest.raises(ValueError, match="aware"):
        lab_morning(1, blockage=None, start=datetime(2026, 3, 2, 6, 0), legs=DefaultLegs())


@pytest.mark.parametrize(
    ("milestone_min", "due_min", "late_at_min"),
    [
        ((0, 2, 4, 6, 10), 30, None),  # every leg below its expectation
        ((0, 2, 25, 27, 35), 30, 17),  # stuck in transit: late once the 13 minutes of legs after it no longer fit
        ((0, 20, 23, 25, 33), 30, 12),  # not dispatched: late once the 18 minutes after dispatch no longer fit
        ((0, 2, 4, 6, 10), 10, 0),  # a target shorter than the expected legs: late from the start
        ((0, None, None, 6, 10), 30, None),  # walked in: collection straight to the sorter
        ((0, None, None, 25, 30), 30, 20),  # walked in, slowly
    ],
)
def test_first_predicted_late(
    milestone_min: tuple[float | None, ...], due_min: float, late_at_min: float | None
) -> None:
    expected = [5 * 60, 5 * 60, 3 * 60, 10 * 60]
    milestones = [None if m is None else START + timedelta(minutes=m) for m in milestone_min]
    late = first_predicted_late(milestones, expected, START + timedelta(minutes=due_min))
    assert late == (None if late_at_min is None else START + timedelta(minutes=late_at_min))
