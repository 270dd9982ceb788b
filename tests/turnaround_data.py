"""Specimen journeys over several days, for turnaround tests: whole journeys (carrier legs included), seeded.

Collections every ~25 minutes from 21:10 UTC on 20 November over three days, at two sites, from five wards, at
three priorities and four categories; legs from seconds to hours, so the histograms' exact and log-spaced buckets
are both used; one in ten never resulted, one in eight walked to the lab (no carrier legs).
"""

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from contract import Event, Subject, new_event

T0 = datetime(2026, 11, 20, 21, 10, tzinfo=UTC)
SITES = ("north", "south")
WARDS = ("4b", "ed", "icu", "onc", "peds")
PRIORITIES = ("routine", "stat", "urgent")
CATEGORIES = ("biochemistry", "blood-gas", "cbc", "immunology")


class Journeys:
    """Events of specimen journeys, each edge's sequence numbers in order, seeded."""

    def __init__(self, seed: int = 5) -> None:
        self.rng = random.Random(seed)
        self.seq = 0
        self.transaction = 0

    def event(self, type_: str, kind: str, subject: str, at: datetime, site: str, **data: Any) -> Event:
        self.seq += 1
        event = new_event(
            type_,
            seq=self.seq,
            site=site,
            edge="integration",
            device="lis" if kind == "specimen" else "tubes-1",
            subject=Subject(kind=kind, id=subject),
            occurred_at=at,
            data=data,
        )
        return event.model_copy(update={"received_at": at})

    def journey(self, barcode: str, collected: datetime) -> list[Event]:
        """One specimen's events from collection to (mostly) result."""
        rng = self.rng
        site = rng.choice(SITES)
        ordered_by = {"priority": rng.choice(PRIORITIES), "category": rng.choice(CATEGORIES), "ward": rng.choice(WARDS)}
        events = [self.event("specimen.collected", "specimen", barcode, collected, site, **ordered_by)]
        at = collected
        if rng.random() < 0.875:
            self.transaction += 1
            carrier = f"C{rng.randint(1, 9)}"
            at += timedelta(seconds=rng.randint(5, 900))
            trip = {"transaction": self.transaction}
            events.append(
                self.event(
                    "carrier.dispatched",
                    "carrier",
                    carrier,
                    at,
                    site,
                    **trip,
                    from_station="st-ward",
                    to_station="st-lab",
                    specimens=[barcode],
                )
            )
            at += timedelta(seconds=rng.randint(30, 1200))
            events.append(self.event("carrier.arrived", "carrier", carrier, at, site, **trip, station="st-lab"))
        at += timedelta(seconds=rng.randint(3, 400))
        events.append(self.event("specimen.sorted", "specimen", barcode, at, site, lane=1, rack=1, position=1))
        if rng.random() < 0.9:
            at += timedelta(seconds=int(rng.expovariate(1 / 2400)) + 1)
            events.append(self.event("specimen.resulted", "specimen", barcode, at, site))
        return events

    def days(self, count: int = 170) -> list[Event]:
        """`count` journeys, one collection every ~25 minutes from T0 (just under three days)."""
        events: list[Event] = []
        for n in range(count):
            collected = T0 + timedelta(seconds=n * 1500 + self.rng.randint(0, 1400))
            events += self.journey(f"R{n:05d}", collected)
        return events
