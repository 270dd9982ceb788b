"""Turnaround: legs per specimen, the outlook (met, missed, on track, at risk, overdue), and figures over many."""

import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from contract import Subject, new_event
from gateway.api import create_app
from gateway.composition.stores import Stores
from gateway.rules import default_rules
from gateway.settings import GatewaySettings
from gateway.storage.stored_event import StoredEvent
from gateway.tracking.specimens.fold import SpecimenRow, fold_specimen
from gateway.tracking.specimens.histogram import precision
from gateway.tracking.specimens.turnaround import aggregate, legs, outlook, percentile, predicted_result
from tests.auth import bearer

T0 = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
RULES = default_rules()  # stat 30 min; legs 5 + 5 + 3, then 20 (blood gas 5, cbc 10)
MIN = timedelta(minutes=1)


def row(status: str = "collected", **fields: Any) -> SpecimenRow:
    """A STAT blood gas collected at T0, due T0 + 30 min, in `status` with the given step times."""
    base: dict[str, Any] = {
        "barcode": "S1",
        "status": status,
        "site": "general-hospital",
        "device": "lis",
        "lane": None,
        "rack": None,
        "position": None,
        "reason": None,
        "first_seen_at": T0,
        "last_event_at": T0,
        "event_count": 1,
        "priority": "stat",
        "category": "blood-gas",
        "ward": "icu",
        "collected_at": T0,
        "target_s": 1800,
        "due_at": T0 + 30 * MIN,
    }
    return SpecimenRow(**{**base, **fields})


def test_legs_are_measured_between_the_steps_that_happened() -> None:
    done = row(
        "resulted",
        dispatched_at=T0 + 4 * MIN,
        arrived_at=T0 + 9 * MIN,
        sorted_at=T0 + 12 * MIN,
        resulted_at=T0 + 25 * MIN,
    )
    assert [(leg.name, leg.seconds) for leg in legs(done)] == [
        ("collection_to_dispatch", 240),
        ("transit", 300),
        ("arrival_to_sorted", 180),
        ("arrival_to_result", 960),
        ("total", 1500),
    ]
    walked = row("sorted", sorted_at=T0 + 12 * MIN)  # carried to the lab by hand: no tube legs
    assert [leg.seconds for leg in legs(walked)] == [None, None, None, None, None]


@pytest.mark.parametrize(
    ("specimen", "now", "state", "predicted_minute"),
    [
        # Collected at 0: 5 + 5 + 3 + 5 = 18 min of legs ahead, due at 30.
        (row(), T0 + 1 * MIN, "on_track", 18),
        # Still at the ward at 20: the dispatch leg is late; 20 + 5 + 3 + 5 = 33 > 30, with 10 min left to act.
        (row(), T0 + 20 * MIN, "at_risk", 33),
        # In the tube since 2: expected at the lab at 7, so 7 + 3 + 5.
        (row("in_transit", dispatched_at=T0 + 2 * MIN), T0 + 3 * MIN, "on_track", 15),
        # The carrier is stuck: at 26, arrival + sorting + result cannot fit before 30.
        (row("in_transit", dispatched_at=T0 + 2 * MIN), T0 + 26 * MIN, "at_risk", 34),
        (row("sorted", sorted_at=T0 + 12 * MIN), T0 + 14 * MIN, "on_track", 17),
        (row("rejected", arrived_at=T0 + 9 * MIN), T0 + 10 * MIN, "on_track", 17),
        (row("sorted", sorted_at=T0 + 12 * MIN), T0 + 31 * MIN, "overdue", 31),
        (row("resulted", resulted_at=T0 + 25 * MIN, within_target=True), T0 + 99 * MIN, "met", 25),
        (row("resulted", resulted_at=T0 + 35 * MIN, within_target=False), T0 + 36 * MIN, "missed", 35),
    ],
)
def test_the_outlook_says_early_whether_the_target_will_be_made(
    specimen: SpecimenRow, now: datetime, state: str, predicted_minute: int
) -> None:
    seen = outlook(specimen, RULES, now)
    assert (seen.state, seen.due_at, seen.predicted_at) == (state, T0 + 30 * MIN, T0 + predicted_minute * MIN)
    assert seen.slack_s == (30 - predicted_minute) * 60


@pytest.mark.parametrize(
    ("amber_minutes", "state"),
    [(10, "tight"), (4, "on_track"), (0, "on_track")],  # 4 min of slack: amber below the threshold, not at it
)
def test_a_specimen_on_time_with_little_slack_is_tight_not_on_track(amber_minutes: float, state: str) -> None:
    rules = RULES.model_copy(
        update={"turnaround": RULES.turnaround.model_copy(update={"amber_slack_minutes": amber_minutes})}
    )
    # Still at the ward at 13: 13 + 5 + 3 + 5 = 26, due at 30: 4 min to spare.
    seen = outlook(row(), rules, T0 + 13 * MIN)
    assert seen.slack_s == 4 * 60
    assert seen.state == state


def test_a_specimen_without_a_target_has_no_outlook_but_its_result() -> None:
    sorter_only = row("sorted", collected_at=None, target_s=None, due_at=None, priority=None)
    seen = outlook(sorter_only, RULES, T0)
    assert (seen.state, seen.due_at, seen.predicted_at, seen.slack_s) == ("untargeted", None, None, None)
    # The prediction itself is still there for whoever asks.
    assert predicted_result(sorter_only, RULES, T0) is not None


def test_the_category_sets_the_last_leg() -> None:
    cbc = row("sorted", category="cbc", sorted_at=T0)
    biochemistry = row("sorted", category="biochemistry", sorted_at=T0)
    assert predicted_result(cbc, RULES, T0) == T0 + 10 * MIN
    assert predicted_result(biochemistry, RULES, T0) == T0 + 45 * MIN


@pytest.mark.parametrize(
    ("values", "p50", "p90"),
    [([], None, None), ([7], 7, 7), ([4, 1, 3, 2], 2, 4), (list(range(1, 11)), 5, 9), (list(range(1, 12)), 6, 10)],
)
def test_percentiles_are_nearest_rank(values: list[int], p50: int | None, p90: int | None) -> None:
    assert (percentile(values, 50), percentile(values, 90)) == (p50, p90)


def resulted(barcode: str, priority: str, ward: str, hour: int, tat_min: int, target_min: int) -> SpecimenRow:
    collected = T0.replace(hour=hour)
    return row(
        "resulted",
        barcode=barcode,
        priority=priority,
        ward=ward,
        collected_at=collected,
        arrived_at=collected + 10 * MIN,
        resulted_at=collected + tat_min * MIN,
        tat_s=tat_min * 60,
        target_s=target_min * 60,
        due_at=collected + target_min * MIN,
        within_target=tat_min <= target_min,
    )


MORNING = [
    resulted("A", "stat", "ed", 7, 20, 30),
    resulted("B", "stat", "ed", 7, 40, 30),
    resulted("C", "stat", "icu", 8, 25, 30),
    resulted("D", "routine", "icu", 8, 90, 240),
    row("sorted", barcode="E", sorted_at=T0),  # not resulted: not in the figures
]


def test_figures_per_priority_ward_hour_and_leg() -> None:
    report = aggregate(MORNING, "priority")
    overall = report.overall
    assert (overall.count, overall.p50_s, overall.p90_s, overall.targeted, overall.within_target) == (
        4,
        25 * 60,
        90 * 60,
        4,
        0.75,
    )
    by_leg = {leg.leg: leg for leg in overall.legs}
    assert (by_leg["arrival_to_result"].count, by_leg["arrival_to_result"].p50_s) == (4, 15 * 60)
    assert (by_leg["transit"].count, by_leg["transit"].p50_s) == (0, None)
    assert [(g.key, g.count, g.within_target) for g in report.groups] == [("routine", 1, 1.0), ("stat", 3, 2 / 3)]
    assert [(g.key, g.count) for g in aggregate(MORNING, "ward").groups] == [("ed", 2), ("icu", 2)]
    assert [(g.key, g.p50_s) for g in aggregate(MORNING, "hour").groups] == [("07", 20 * 60), ("08", 25 * 60)]


# -- the same figures whatever the order ------------------------------------------------------------------------
def _event(n: int, barcode: str, type_: str, at: datetime, data: dict[str, Any]) -> StoredEvent:
    return StoredEvent(
        id=UUID(int=n),
        seq=n,
        type=type_,
        occurred_at=at,
        received_at=at,
        site="general-hospital",
        edge="integration",
        device="lis",
        data=data,
        subject_kind="specimen",
        subject_id=barcode,
    )


@st.composite
def mornings(draw: st.DrawFn) -> list[StoredEvent]:
    """Some specimens' histories: collection (priority, ward, category), maybe sorting, maybe a result."""
    events: list[StoredEvent] = []
    for n in range(draw(st.integers(min_value=1, max_value=6))):
        barcode = f"S{n}"
        collected = T0 + draw(st.integers(min_value=0, max_value=180)) * MIN
        data = {
            "priority": draw(st.sampled_from(["stat", "urgent", "routine"])),
            "ward": draw(st.sampled_from(["ed", "icu"])),
            "category": draw(st.sampled_from(["cbc", "troponin"])),
        }
        events.append(_event(len(events) + 1, barcode, "specimen.collected", collected, data))
        for type_ in ("specimen.sorted", "specimen.resulted"):
            if draw(st.booleans()):
                at = collected + draw(st.integers(min_value=1, max_value=300)) * MIN
                extra = {"lane": 1, "rack": 1, "position": 1} if type_ == "specimen.sorted" else {}
                events.append(_event(len(events) + 1, barcode, type_, at, extra))
    return events


def _rows(events: list[StoredEvent]) -> list[SpecimenRow]:
    barcodes = sorted({e.subject_id for e in events})
    folded = [fold_specimen(b, [e for e in events if e.subject_id == b], RULES) for b in barcodes]
    return [r for r in folded if r is not None]


@given(mornings(), st.randoms(use_true_random=False), st.sampled_from([None, "priority", "ward", "hour", "category"]))
def test_any_permutation_and_duplication_gives_the_same_figures(
    history: list[StoredEvent], rnd: random.Random, group_by: Any
) -> None:
    replayed = history + rnd.sample(history, k=rnd.randint(0, len(history)))
    rnd.shuffle(replayed)
    rows, replayed_rows = _rows(history), _rows(replayed)
    assert replayed_rows == rows
    rnd.shuffle(replayed_rows)
    assert aggregate(replayed_rows, group_by) == aggregate(rows, group_by)


# -- the API ---------------------------------------------------------------------------------------------------------
NOW = T0 + timedelta(hours=3)


@pytest.fixture
async def api(gateway_settings: GatewaySettings, store: Stores) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(gateway_settings, store, clock=lambda: NOW)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway", headers=await bearer(store.db, "admin")
    ) as client:
        yield client


async def seed(store: Stores, specimens: list[tuple[str, str, str, datetime, int | None]]) -> None:
    """(barcode, priority, ward, collected at, minutes to result or None) through the store, as the LIS reports."""
    batch = []
    for n, (barcode, priority, ward, collected, tat) in enumerate(specimens):
        steps = [("specimen.collected", collected, {"priority": priority, "category": "cbc", "ward": ward})]
        if tat is not None:
            steps.append(("specimen.resulted", collected + tat * MIN, {}))
        for m, (type_, at, data) in enumerate(steps):
            event = new_event(
                type_,
                seq=10 * n + m + 1,
                site="general-hospital",
                edge="integration",
                device="lis",
                subject=Subject(kind="specimen", id=barcode),
                occurred_at=at,
                data=data,
            )
            batch.append(event.model_copy(update={"received_at": at}))
    await store.events.commit_batch(batch)


def near(reported: int, observed: int) -> bool:
    """Whether a percentile from the rollups is within the documented precision of the observed one."""
    return abs(reported - observed) <= precision(observed)


async def test_turnaround_over_the_last_day_by_the_gateway_clock(api: httpx.AsyncClient, store: Stores) -> None:
    await seed(
        store,
        [
            ("S1", "stat", "ed", T0, 20),  # stat cbc: 30 min target
            ("S2", "stat", "ed", T0 + 5 * MIN, 50),
            ("S3", "routine", "4b", T0 + 10 * MIN, 50),  # routine cbc: 60 min
            ("S4", "routine", "4b", T0 + 15 * MIN, None),  # not resulted yet
            ("S5", "routine", "4b", NOW - timedelta(hours=25), 30),  # before the window
        ],
    )
    body = (await api.get("/api/v1/turnaround", params={"group_by": "priority"})).json()
    assert (body["since"], body["until"], body["group_by"]) == (
        "2026-11-23T10:00:00Z",
        "2026-11-24T10:00:00Z",
        "priority",
    )
    overall = body["overall"]
    # Percentiles come from the rollups' histograms: within a bucket's precision of the observed value.
    assert (overall["count"], overall["within_target"]) == (3, 2 / 3)
    assert near(overall["p50_s"], 3000)
    assert near(overall["p90_s"], 3000)
    assert [(g["key"], g["count"], g["within_target"]) for g in body["groups"]] == [
        ("routine", 1, 1.0),
        ("stat", 2, 0.5),
    ]
    assert near(body["groups"][0]["p50_s"], 3000)
    assert near(body["groups"][1]["p50_s"], 1200)
    assert {leg["leg"]: leg["count"] for leg in overall["legs"]}["total"] == 3

    window = {"since": "2026-11-23T00:00:00Z", "until": "2026-11-24T07:03:00Z"}
    older = (await api.get("/api/v1/turnaround", params=window)).json()
    assert (older["overall"]["count"], older["groups"]) == (2, [])  # S5 and S1 were collected in that window


async def test_figures_by_priority_carry_its_target_and_every_answer_the_on_time_goal(
    api: httpx.AsyncClient, store: Stores
) -> None:
    """What the lab's charts draw their target lines from: the rules' target per priority, the goal for the share."""
    await seed(store, [("S1", "stat", "ed", T0, 20), ("S3", "routine", "4b", T0 + 10 * MIN, 50)])
    body = (await api.get("/api/v1/turnaround", params={"group_by": "priority"})).json()
    assert body["on_time_goal"] == 0.9
    assert [(g["key"], g["target_s"]) for g in body["groups"]] == [("routine", 240 * 60), ("stat", 30 * 60)]
    by_hour = (await api.get("/api/v1/turnaround", params={"group_by": "hour"})).json()
    assert [g["target_s"] for g in by_hour["groups"]] == [None]  # an hour mixes priorities: no one target


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"since": "2026-11-24T09:00:00Z", "until": "2026-11-24T08:00:00Z"}, "since must be before until"),
        ({"since": "2026-01-01T00:00:00Z"}, "the window is longer than 92 days"),
        ({"group_by": "robot"}, "group_by: Input should be"),
    ],
)
async def test_a_bad_window_is_a_problem(api: httpx.AsyncClient, params: dict[str, str], says: str) -> None:
    response = await api.get("/api/v1/turnaround", params=params)
    assert response.status_code == 422
    assert says in response.json()["detail"]
