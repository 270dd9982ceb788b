"""A deterministic morning of lab traffic, with a tube blockage, as canonical events and the truth behind them.

`lab_morning(seed, blockage=..., start=..., legs=...)` plays the specimen journey as a discrete-event model, no
sockets, no clock: wards collect specimens (the laboratory information system reports `specimen.collected`),
scan them into tube carriers that the tube system dispatches to the lab (`carrier.dispatched` with the
barcodes, `carrier.arrived`), the sorter scans and sorts each (`specimen.scanned`, `specimen.sorted`), the lab
takes it in and results it (`specimen.received`, `specimen.resulted`). A share of specimens is walked to the
sorter instead, never a STAT one: those go by tube, which is what the gateway's prediction expects of a specimen
not dispatched yet. Events come from the edge `hospital-edge` (devices `tubes-1`, `sorter-1`) and the edge
`lab-system` (device `lis`), each edge with its own contiguous `seq` in the order it saw them.

Every leg of an undisturbed specimen is shorter than the expected leg (`legs`, the gateway's
`TurnaroundRules.expected_legs`), so a prediction that adds the expected legs still to go never calls it late.
The `Blockage` holds exactly `carriers` carriers whose route crosses the blocked zone (or leaves from or goes
to a blocked station) within its window, each for 20-40 minutes (the first ones dispatched in the window; the
system routes around after that). A held carrier with a STAT specimen is held long enough that the prediction
calls the specimen late while the carrier is still stuck, well before its due time.

The prediction the truth assumes (`first_predicted_late`): in the leg from milestone `m` (at `t_m`), now being
`now`, the result is expected at `max(t_m + expected leg, now) + the expected legs after it`. The blockage and the
truth are in `simulators.hospital.morning_truth`.
"""

import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from contract import Event, Subject, new_event
from simulators.clinical.barcode import lab_barcode
from simulators.clinical.journey import (
    CATEGORIES,
    STAT,
    Legs,
    Staff,
    below,
    draw_category,
    lab_order_id,
)
from simulators.hospital.morning_truth import Blockage, LabMorning, SpecimenTruth, TripTruth, first_predicted_late
from simulators.sorter.tube import RackFiller
from simulators.tubes.network import HOSPITAL, TubeNetwork
from simulators.tubes.traffic import BLOOD_BANK, LAB, PHARMACY, carrier_ids

SITE, DEVICE_EDGE, LAB_EDGE = "general-hospital", "hospital-edge", "lab-system"
TUBES, SORTER, LIS = "tubes-1", "sorter-1", "lis"
WALK_IN_SHARE = 0.25
"""Of the arrivals at the lab, a tube walked in rather than a carrier (about 12 % of the specimens)."""
URGENT_SHARE = 0.15
CARRIER_SIZES, CARRIER_SIZE_WEIGHTS = (1, 2, 3, 4, 5, 6), (30, 25, 20, 12, 8, 5)
TURNAROUND_S = 10 * 60.0
"""A carrier is emptied at the lab and sent back: busy this long after it arrives."""
RISK_MARGIN_S = 60.0
"""A held STAT carrier is still stuck at least this long after its specimen is first predicted late."""


@dataclass
class _Morning:
    rng: random.Random
    start: datetime
    legs: Legs
    network: TubeNetwork
    blockage: Blockage | None
    stat_target: timedelta
    staff: Staff
    raw: list[tuple[datetime, int, str, str, str, str, str, dict[str, Any]]] = field(default_factory=list)
    specimens: dict[str, SpecimenTruth] = field(default_factory=dict)
    trips: list[TripTruth] = field(default_factory=list)
    sorts: list[tuple[datetime, str, float]] = field(default_factory=list)
    pool: list[str] = field(default_factory=list)
    busy_until: dict[str, datetime] = field(default_factory=dict)
    orders: int = 0
    delayed: list[datetime] = field(default_factory=list)
    """Dispatch times of the carriers the blockage holds."""

    def emit(
        self, at: datetime, edge: str, device: str, type_: str, kind: str, subject: str, data: dict[str, Any]
    ) -> None:
        self.raw.append((at, len(self.raw), edge, device, type_, kind, subject, data))

    @property
    def expected_s(self) -> tuple[float, float, float]:
        legs = self.legs
        return legs.collection_to_dispatch * 60, legs.transit * 60, legs.arrival_to_sorted * 60

    def collect(self, barcode: str, priority: str, category: str, ward: str, at: datetime) -> None:
        self.orders += 1
        data = {
            "priority": priority,
            "category": category,
            "ward": ward,
            "badge": self.staff.nurse(self.rng, ward),
            "order_id": lab_order_id(self.orders),
        }
        self.emit(at, LAB_EDGE, LIS, "specimen.collected", "specimen", barcode, data)

    def carrier(self, at: datetime) -> str:
        """The least recently used carrier that is back at a station (a new one if every carrier is out)."""
        for carrier in self.pool:
            if self.busy_until.get(carrier, at) <= at:
                self.pool.remove(carrier)
                self.pool.append(carrier)
                return carrier
        extra = f"E2802160{len(self.pool) + 1:08X}"
        self.pool.append(extra)
        return extra

    def lab_work(self, spec: dict[str, Any], sorted_at: datetime, transit_s: float) -> None:
        to_result = self.legs.to_result(spec["category"])
        received = sorted_at + timedelta(seconds=below(self.rng, to_result, 0.05, 0.3))
        resulted = sorted_at + timedelta(seconds=below(self.rng, to_result, 0.45, 0.9))
        barcode = spec["barcode"]
        self.sorts.append((sorted_at, barcode, transit_s))
        location = CATEGORIES[spec["category"]].bench
        received_data = {"location": location, "badge": self.staff.scientist(self.rng)}
        self.emit(received, LAB_EDGE, LIS, "specimen.received", "specimen", barcode, received_data)
        resulted_data = {"badge": self.staff.scientist(self.rng)}
        self.emit(resulted, LAB_EDGE, LIS, "specimen.resulted", "specimen", barcode, resulted_data)
        spec.update(sorted_at=sorted_at, received_at=received, resulted_at=resulted)
        if spec["priority"] == STAT:
            spec["due_at"] = spec["collected_at"] + self.stat_target
            milestones = [spec["collected_at"], spec.get("dispatched_at"), spec.get("arrived_at"), sorted_at, resulted]
            expected = [*self.expected_s, self.legs.to_result(spec["category"]) * 60]
            spec["at_risk_from"] = first_predicted_late(milestones, expected, spec["due_at"])
        self.specimens[barcode] = SpecimenTruth(**spec)

    def walk_in(self, spec: dict[str, Any], at: datetime) -> None:
        spec["collected_at"] = at
        self.collect(spec["barcode"], spec["priority"], spec["category"], spec["ward"], at)
        walk = below(self.rng, sum(self.expected_s) / 60, 0.3, 0.85)
        self.lab_work(spec, at + timedelta(seconds=walk), round(self.rng.uniform(0.8, 1.6), 3))

    def send(self, specs: list[dict[str, Any]], origin: str, dispatched: datetime) -> None:
        c2d, transit, a2s = self.expected_s
        for spec in specs:
            spec["collected_at"] = dispatched - timedelta(seconds=below(self.rng, c2d / 60, 0.15, 0.9))
            self.collect(spec["barcode"], spec["priority"], spec["category"], spec["ward"], spec["collected_at"])
        carrier = self.carrier(dispatched)
        transaction = len(self.trips) + 1
        trip_s = min(self.network.trip_s(origin, LAB), 0.9 * transit)
        delay = self._delay(specs, origin, dispatched, dispatched + timedelta(seconds=trip_s))
        arrived = dispatched + timedelta(seconds=trip_s) + delay
        self.busy_until[carrier] = arrived + timedelta(seconds=TURNAROUND_S)
        stat = any(s["priority"] == STAT for s in specs)
        barcodes = tuple(s["barcode"] for s in specs)
        dispatched_data = {
            "transaction": transaction,
            "from_station": origin,
            "to_station": LAB,
            "priority": "stat" if stat else "normal",
            "secure": False,
            "specimens": list(barcodes),
        }
        self.emit(dispatched, DEVICE_EDGE, TUBES, "carrier.dispatched", "carrier", carrier, dispatched_data)
        arrived_data = {"transaction": transaction, "station": LAB}
        self.emit(arrived, DEVICE_EDGE, TUBES, "carrier.arrived", "carrier", carrier, arrived_data)
        priority = "stat" if stat else "normal"
        self.trips.append(TripTruth(carrier, transaction, origin, priority, barcodes, dispatched, arrived, delay))
        waits = sorted(below(self.rng, a2s / 60, 0.15, 0.85) for _ in specs)
        for spec, wait in zip(specs, waits, strict=True):
            spec.update(carrier=carrier, transaction=transaction, dispatched_at=dispatched, arrived_at=arrived)
            spec["delay"] = delay
            self.lab_work(spec, arrived + timedelta(seconds=wait), round(self.rng.uniform(0.8, 1.6), 3))

    def _delay(self, specs: list[dict[str, Any]], origin: str, dispatched: datetime, arrival: datetime) -> timedelta:
        """How long the blockage holds this carrier: 0, or 20-40 min (long enough for a STAT to be seen late)."""
        b = self.blockage
        if b is None or len(self.delayed) >= b.carriers or not b.crosses(self.network, origin, LAB):
            return timedelta(0)
        opens = self.start + timedelta(minutes=b.after_min)
        if not opens <= dispatched < opens + timedelta(minutes=b.window_min):
            return timedelta(0)
        low, high = b.delay_min
        delay = timedelta(minutes=self.rng.uniform(low, high))
        a2s = self.expected_s[2]
        for spec in specs:
            if spec["priority"] != STAT:
                continue
            rest = timedelta(seconds=a2s + self.legs.to_result(spec["category"]) * 60)
            due = spec["collected_at"] + self.stat_target
            risk = max(dispatched, due - rest)
            needed = risk + timedelta(seconds=RISK_MARGIN_S) - arrival
            delay = min(max(delay, needed), timedelta(minutes=high))
        self.delayed.append(dispatched)
        return delay

    def sorter_events(self) -> None:
        """The sorter scans and sorts in the order tubes reach it: input and output positions fill in that order."""
        inputs, outputs = RackFiller(50), RackFiller(50)
        for sorted_at, barcode, transit_s in sorted(self.sorts):
            rack, position = inputs.next(0)
            scanned = sorted_at - timedelta(seconds=transit_s)
            scanned_data = {"input_rack": rack, "input_position": position}
            self.emit(scanned, DEVICE_EDGE, SORTER, "specimen.scanned", "specimen", barcode, scanned_data)
            lane = CATEGORIES[self.specimens[barcode].category].lane
            out_rack, out_position = outputs.next(lane)
            sorted_data = {"lane": lane, "rack": out_rack, "position": out_position}
            self.emit(sorted_at, DEVICE_EDGE, SORTER, "specimen.sorted", "specimen", barcode, sorted_data)

    def events(self) -> list[Event]:
        """Each edge numbers its events 1, 2, ... in the order it saw them; ids are drawn from the seed."""
        seqs: dict[str, int] = {}
        events = []
        for at, _order, edge, device, type_, kind, subject, data in sorted(self.raw, key=lambda r: (r[0], r[1])):
            seqs[edge] = seqs.get(edge, 0) + 1
            event_id = uuid.UUID(int=self.rng.getrandbits(128), version=4)
            events.append(
                new_event(
                    type_,
                    id=event_id,
                    seq=seqs[edge],
                    site=SITE,
                    edge=edge,
                    device=device,
                    subject=Subject(kind=kind, id=subject),
                    occurred_at=at,
                    data=data,
                )
            )
        return events


def lab_morning(
    seed: int,
    *,
    specimens: int = 500,
    stat_share: float = 0.05,
    blockage: Blockage | None,
    start: datetime,
    legs: Legs,
    hours: float = 4.0,
    stat_target_minutes: float = 30.0,
    network: TubeNetwork = HOSPITAL,
) -> LabMorning:
    """The morning's events and truth; the same arguments always give the same morning (ids included).

    Exactly `round(specimens * stat_share)` specimens are STAT (with a `stat_target_minutes` target, as the
    default rules have for blood gas, blood count and coagulation), about 15 % urgent, the rest routine.
    Raises ValueError when the blockage's window cannot catch `blockage.carriers` carriers.
    """
    if start.tzinfo is None:
        raise ValueError("start must be an aware datetime (UTC)")
    if specimens < 1 or not 0 <= stat_share <= 1 or hours <= 0:
        raise ValueError("a morning has at least one specimen, a STAT share in 0..1 and a positive length")
    rng = random.Random(seed)
    senders = [s for s in network.stations if s not in (LAB, PHARMACY, BLOOD_BANK)]
    morning = _Morning(rng, start, legs, network, blockage, timedelta(minutes=stat_target_minutes), Staff(rng, senders))
    morning.pool = carrier_ids(network)
    specs = _specimens(rng, specimens, stat_share)
    groups: list[tuple[float, list[dict[str, Any]], bool]] = []
    lead = legs.collection_to_dispatch
    while specs:
        walked = rng.random() < WALK_IN_SHARE and specs[0]["priority"] != STAT  # STAT tubes always go by tube
        size = 1 if walked else rng.choices(CARRIER_SIZES, weights=CARRIER_SIZE_WEIGHTS)[0]
        group, specs = specs[:size], specs[size:]
        at_min = rng.triangular(lead, hours * 60, lead + (hours * 60 - lead) * 0.3)  # the morning draw round peaks
        groups.append((at_min, group, walked))
    for at_min, group, walked in sorted(groups, key=lambda g: g[0]):
        at = start + timedelta(minutes=at_min)
        ward = rng.choice(senders)
        for spec in group:
            spec["ward"] = ward
        if walked:
            morning.walk_in(group[0], at)
        else:
            morning.send(group, ward, at)
    if blockage is not None and len(morning.delayed) < blockage.carriers:
        raise ValueError(
            f"the blockage caught {len(morning.delayed)} carrier(s), not {blockage.carriers}: "
            "open its window earlier, make it longer, or block a zone more carriers cross"
        )
    morning.sorter_events()
    events = morning.events()
    return LabMorning(events, dict(sorted(morning.specimens.items())), morning.trips, blockage)


def _specimens(rng: random.Random, count: int, stat_share: float) -> list[dict[str, Any]]:
    stat = round(count * stat_share)
    priorities = [STAT] * stat + ["urgent" if rng.random() < URGENT_SHARE else "routine" for _ in range(count - stat)]
    rng.shuffle(priorities)
    number = rng.randrange(10_000_000, 90_000_000)
    specs = []
    for priority in priorities:
        number += rng.randint(1, 3)
        barcode = lab_barcode(number % 100_000_000)
        specs.append({"barcode": barcode, "priority": priority, "category": draw_category(rng, priority)})
    return specs
