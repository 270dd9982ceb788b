"""The at-risk list judges only the specimens that could be at risk: open ones due within the longest legs' time
from now, or with a milestone ahead of the gateway's clock. None it leaves unjudged is at risk: checked against
every specimen of a random mix, milestones ahead of the clock included."""

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from gateway.composition.stores import Stores
from gateway.rules import default_rules
from gateway.storage.keyset_page import PageRequest
from gateway.storage.tables import specimens
from gateway.tracking.specimens.store import SpecimenFilter, specimen_row
from gateway.tracking.specimens.turnaround import outlook

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
RULES = default_rules()  # legs 5 + 5 + 3, then 20 (blood gas 5, cbc 10, biochemistry 45)
STEPS = (("collected", None), ("in_transit", "dispatched_at"), ("arrived", "arrived_at"), ("sorted", "sorted_at"))


def random_specimen(n: int, rng: random.Random) -> dict[str, Any]:
    """An open specimen somewhere on its way, due from minutes to hours from now; one in ten stamped by a clock
    ahead of the gateway's (its last milestone after now)."""
    collected = NOW - timedelta(minutes=rng.randint(0, 300))
    status, column = rng.choice(STEPS)
    last = collected + timedelta(minutes=rng.randint(0, 40))
    if rng.random() < 0.1:
        last = NOW + timedelta(minutes=rng.randint(1, 90))
    target = timedelta(minutes=rng.choice((30, 60, 240, 720, 1440)))
    row = {
        "barcode": f"R{n:04d}",
        "status": status,
        "site": "site-1",
        "device": "lis",
        "first_seen_at": collected,
        "last_event_at": max(collected, last),
        "event_count": 2,
        "priority": rng.choice(("stat", "routine")),
        "category": rng.choice(("blood-gas", "cbc", "biochemistry", "urinalysis", None)),
        "collected_at": collected,
        "target_s": int(target.total_seconds()),
        "due_at": collected + target,
        **{step: None for _, step in STEPS[1:]},
    }
    if column is not None:
        row[column] = last
    return row


async def test_every_specimen_at_risk_is_listed_and_far_ahead_ones_are_not_judged(store: Stores) -> None:
    rng = random.Random(20)
    async with store.db.engine.begin() as connection:
        await connection.execute(sa.insert(specimens), [random_specimen(n, rng) for n in range(400)])
        every = [specimen_row(r) for r in await connection.execute(sa.select(specimens))]
        horizon = timedelta(minutes=RULES.turnaround.expected_legs.longest_minutes)
        due_ahead = SpecimenFilter(open_due_from=NOW)
        judged = SpecimenFilter(open_due_from=NOW, open_due_within=(NOW, horizon))
        counts = [
            (await connection.execute(sa.select(sa.func.count()).where(*f.where()).select_from(specimens))).scalar()
            for f in (due_ahead, judged)
        ]

    listed = await store.specimens.listing(PageRequest(1000), where=SpecimenFilter(), by_due=True, at_risk_at=NOW)

    at_risk = sorted(r.barcode for r in every if outlook(r, RULES, NOW).state == "at_risk")
    assert sorted(r.barcode for r in listed.rows) == at_risk
    assert listed.total.value == len(at_risk) > 20
    assert any(r.last_event_at > NOW and r.barcode in at_risk for r in every)  # a clock ahead: still judged
    assert counts[1] < counts[0] / 2  # specimens due later than the longest legs are never read
