"""Specimen journeys through the live hospital: ward -> tube carrier -> lab station -> sorter -> lab -> result.

A specimen carrier's tubes are collected at the ward (the laboratory information system reports
`specimen.collected`), scanned into a free carrier the tube system dispatches to the lab; when it arrives its
tubes are put on the sorter one by one, and the lab takes each in and results it after a time that depends on
its test category (`specimen.received`, `specimen.resulted`). Some tubes are walked to the lab instead, and
the sorter still rejects what it cannot read or has no order for. Leg times are drawn below the expected legs
(`simulators.clinical.journey`), so only a fault (a blocked zone, a jammed sorter) makes a specimen late.
"""

import random
from dataclasses import dataclass, replace

from simulators.clinical.barcode import lab_barcode
from simulators.clinical.journey import CATEGORIES, STAT, Legs, Staff, below, draw_category, draw_priority, lab_order_id
from simulators.clinical.system import ReportingSystem
from simulators.hospital.background import Background
from simulators.hospital.clock import SimClock
from simulators.hospital.devices import HospitalDevices
from simulators.hospital.plan import Plan
from simulators.sorter.device import SorterSimulator
from simulators.sorter.tube import RackFiller, Rejected, Sorted, Tube
from simulators.tubes.controller import TubeSystemSimulator
from simulators.tubes.traffic import LAB, Dispatch, free_carrier

CARRIER_WAIT_S = 60.0
"""How long a ward waits for a free carrier before it looks again."""


@dataclass(frozen=True)
class Specimen:
    barcode: str
    priority: str
    category: str
    ward: str


class SpecimenJourneys:
    """Collects, carries, sorts and results the hospital's specimens; the lab system reports what only it knows."""

    def __init__(
        self,
        *,
        devices: HospitalDevices,
        plan: Plan,
        clock: SimClock,
        rng: random.Random,
        legs: Legs,
        staff: Staff,
        lis: ReportingSystem,
        background: Background,
    ) -> None:
        self.devices = devices
        self.plan = plan
        self.clock = clock
        self.rng = rng
        self.legs = legs
        self.staff = staff
        self.lis = lis
        self.background = background
        self.racks = {sim: RackFiller(sim.positions_per_rack) for sim in devices.sorters.values()}
        self.specimen_number = rng.randrange(10_000_000, 90_000_000)
        self.orders = rng.randrange(1_000_000, 9_000_000)
        self.carriers_sent = 0
        self.collected = 0
        self.inducted = 0
        self.resulted = 0

    def new_specimen(self, ward: str) -> Specimen:
        """A fresh barcode with a priority (the scenario's STAT share) and a test category."""
        self.specimen_number += self.rng.randint(1, 3)
        priority = draw_priority(self.rng, self.plan.traffic().stat_share)
        barcode = lab_barcode(self.specimen_number % 100_000_000)
        return Specimen(barcode, priority, draw_category(self.rng, priority), ward)

    def collect(self, specimen: Specimen) -> None:
        """The ward collects the specimen; the laboratory information system knows its order, priority and category."""
        self.orders += 1
        data = {
            "priority": specimen.priority,
            "category": specimen.category,
            "ward": specimen.ward,
            "badge": self.staff.nurse(self.rng, specimen.ward),
            "order_id": lab_order_id(self.orders),
        }
        self.lis.report("specimen.collected", "specimen", specimen.barcode, data)
        self.collected += 1

    async def send(self, tube_system: TubeSystemSimulator, trip: Dispatch) -> None:
        """A ward sends its tubes to the lab: collected, scanned into a carrier, dispatched, sorted on arrival."""
        rng, clock = self.rng, self.clock
        specimens = [self.new_specimen(trip.from_station) for _ in trip.specimens]
        collection_s = below(rng, self.legs.collection_to_dispatch, 0.3, 0.85)  # first collection to dispatch
        spacing = collection_s * 0.6 / len(specimens)
        for specimen in specimens:
            self.collect(specimen)
            await clock.sleep(spacing)
        await clock.sleep(collection_s * 0.4)
        while (carrier := free_carrier(tube_system, rng)) is None:
            await clock.sleep(CARRIER_WAIT_S)  # every carrier is out: the ward waits for one to come back
        sent = await tube_system.send(
            carrier,
            trip.from_station,
            LAB,
            priority="stat" if any(s.priority == STAT for s in specimens) else "normal",
            specimens=[s.barcode for s in specimens],
        )
        self.carriers_sent += 1
        await sent.arrived.wait()
        if sent.to_station != LAB:  # rerouted: someone walks the tubes over from the alternate station
            await clock.sleep(rng.uniform(3, 8) * 60)
        sorter = self.devices.sorter_for_lab()
        if sorter is None:
            return
        for specimen in specimens:
            await clock.sleep(below(rng, self.legs.arrival_to_sorted, 0.1, 0.8) / len(specimens))
            await self.sort(sorter, specimen, transit_s=round(rng.uniform(0.8, 1.6), 3))

    async def walk_in(self, sorter: SorterSimulator, tube: Tube) -> None:
        """A tube brought to the sorter by hand: collected on a ward first, unless the sorter will reject it for
        having no order or no readable label (those the lab system never heard of)."""
        if isinstance(tube.outcome, Rejected):
            await sorter.induct(replace(tube, input_rack=None, input_position=None))
            self.inducted += 1
            return
        specimen = self.new_specimen(self.rng.choice(self.devices.wards))
        self.collect(specimen)
        legs = self.legs
        walk = legs.collection_to_dispatch + legs.transit + legs.arrival_to_sorted
        await self.clock.sleep(below(self.rng, walk, 0.3, 0.85))
        await self.sort(sorter, specimen, transit_s=tube.transit_s)

    async def sort(self, sorter: SorterSimulator, specimen: Specimen, transit_s: float) -> None:
        """Put the tube on the sorter to its category's lane, then let the lab take it in and result it."""
        lane = CATEGORIES[specimen.category].lane
        placed = Sorted(lane, *self.racks[sorter].next(lane))
        await sorter.induct(Tube(specimen.barcode, placed, transit_s=transit_s))
        self.inducted += 1
        self.background.run(self.lab_work(specimen))

    async def lab_work(self, specimen: Specimen) -> None:
        """The lab takes the sorted specimen in at its bench and releases the result within the expected time."""
        to_result = self.legs.to_result(specimen.category)
        received_after = below(self.rng, to_result, 0.05, 0.3)
        resulted_after = below(self.rng, to_result, 0.45, 0.9)
        await self.clock.sleep(received_after)
        data = {"location": CATEGORIES[specimen.category].bench, "badge": self.staff.scientist(self.rng)}
        self.lis.report("specimen.received", "specimen", specimen.barcode, data)
        await self.clock.sleep(resulted_after - received_after)
        self.lis.report("specimen.resulted", "specimen", specimen.barcode, {"badge": self.staff.scientist(self.rng)})
        self.resulted += 1
