"""Specimen journeys through the live hospital: ward -> tube carrier -> lab station -> sorter -> lab -> result.

A specimen carrier's tubes are collected at the ward (the laboratory information system reports
`specimen.collected`), scanned into a free carrier the tube system dispatches to the lab; when it arrives its
tubes are put on the sorter one by one, and the lab takes each in and results it after a time that depends on
its test category (`specimen.received`, `specimen.resulted`). Some tubes are walked to the lab instead, and
the sorter still rejects what it cannot read or has no order for. Leg times are drawn below the expected legs
(`simulators.specimen_journey`), so only a fault (a blocked zone, a jammed sorter) makes a specimen late.
"""

import asyncio
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from simulators.clinical.barcode import lab_barcode
from simulators.clinical.journey import CATEGORIES, STAT, below, draw_category, draw_priority, lab_order_id
from simulators.sorter.tube import Rejected, Sorted, Tube
from simulators.tubes.controller import TubeSystemSimulator
from simulators.tubes.traffic import LAB, Dispatch, carrier_ids

if TYPE_CHECKING:
    from simulators.hospital.hospital import Hospital
    from simulators.sorter.device import SorterSimulator

CARRIER_WAIT_S = 60.0
"""How long a ward waits for a free carrier before it looks again."""


@dataclass(frozen=True)
class Specimen:
    barcode: str
    priority: str
    category: str
    ward: str


def new_specimen(h: "Hospital", ward: str) -> Specimen:
    """A fresh barcode with a priority (the scenario's STAT share) and a test category."""
    h.specimen_number += h.rng.randint(1, 3)
    priority = draw_priority(h.rng, h.scenario.traffic_at(h.plan_time()).stat_share)
    return Specimen(lab_barcode(h.specimen_number % 100_000_000), priority, draw_category(h.rng, priority), ward)


def collect(h: "Hospital", specimen: Specimen) -> None:
    """The ward collects the specimen; the laboratory information system knows its order, priority and category."""
    h.orders += 1
    data = {
        "priority": specimen.priority,
        "category": specimen.category,
        "ward": specimen.ward,
        "badge": h.staff.nurse(h.rng, specimen.ward),
        "order_id": lab_order_id(h.orders),
    }
    h.lis.report("specimen.collected", "specimen", specimen.barcode, data)
    h.collected += 1


async def send_specimens(h: "Hospital", tube_system: TubeSystemSimulator, trip: Dispatch) -> None:
    """A ward sends its tubes to the lab: collected, scanned into a carrier, dispatched, sorted on arrival."""
    specimens = [new_specimen(h, trip.from_station) for _ in trip.specimens]
    collection_s = below(h.rng, h.legs.collection_to_dispatch, 0.3, 0.85)  # first collection to dispatch
    spacing = collection_s * 0.6 / len(specimens)
    for specimen in specimens:
        collect(h, specimen)
        await h.clock.sleep(spacing)
    await h.clock.sleep(collection_s * 0.4)
    while (carrier := free_carrier(h, tube_system)) is None:
        await h.clock.sleep(CARRIER_WAIT_S)  # every carrier is out: the ward waits for one to come back
    sent = await tube_system.send(
        carrier,
        trip.from_station,
        LAB,
        priority="stat" if any(s.priority == STAT for s in specimens) else "normal",
        specimens=[s.barcode for s in specimens],
    )
    h.carriers_sent += 1
    await sent.arrived.wait()
    if sent.to_station != LAB:  # rerouted: someone walks the tubes over from the alternate station
        await h.clock.sleep(h.rng.uniform(3, 8) * 60)
    sorter = h.sorter_for_lab()
    if sorter is None:
        return
    for specimen in specimens:
        await h.clock.sleep(below(h.rng, h.legs.arrival_to_sorted, 0.1, 0.8) / len(specimens))
        await sort(h, sorter, specimen, transit_s=round(h.rng.uniform(0.8, 1.6), 3))


async def walk_in(h: "Hospital", sorter: "SorterSimulator", tube: Tube) -> None:
    """A tube brought to the sorter by hand: collected on a ward first, unless the sorter will reject it for
    having no order or no readable label (those the lab system never heard of)."""
    if isinstance(tube.outcome, Rejected):
        await sorter.induct(replace(tube, input_rack=None, input_position=None))
        h.inducted += 1
        return
    specimen = new_specimen(h, h.rng.choice(h.wards))
    collect(h, specimen)
    legs = h.legs
    await h.clock.sleep(below(h.rng, legs.collection_to_dispatch + legs.transit + legs.arrival_to_sorted, 0.3, 0.85))
    await sort(h, sorter, specimen, transit_s=tube.transit_s)


async def sort(h: "Hospital", sorter: "SorterSimulator", specimen: Specimen, transit_s: float) -> None:
    """Put the tube on the sorter to its category's lane, then let the lab take it in and result it."""
    lane = CATEGORIES[specimen.category].lane
    placed = Sorted(lane, *h.racks[sorter].next(lane))
    await sorter.induct(Tube(specimen.barcode, placed, transit_s=transit_s))
    h.inducted += 1
    task = asyncio.create_task(lab_work(h, specimen))
    h.background(task)


async def lab_work(h: "Hospital", specimen: Specimen) -> None:
    """The lab takes the sorted specimen in at its bench and releases the result within the expected time."""
    to_result = h.legs.to_result(specimen.category)
    received_after = below(h.rng, to_result, 0.05, 0.3)
    resulted_after = below(h.rng, to_result, 0.45, 0.9)
    await h.clock.sleep(received_after)
    data = {"location": CATEGORIES[specimen.category].bench, "badge": h.staff.scientist(h.rng)}
    h.lis.report("specimen.received", "specimen", specimen.barcode, data)
    await h.clock.sleep(resulted_after - received_after)
    h.lis.report("specimen.resulted", "specimen", specimen.barcode, {"badge": h.staff.scientist(h.rng)})
    h.resulted += 1


def free_carrier(h: "Hospital", tube_system: TubeSystemSimulator) -> str | None:
    """A carrier that is not on its way nor waiting for release; None when every one is out."""
    busy = {t.carrier for t in tube_system.trips.values() if t.state != "done"}
    free = [c for c in carrier_ids(tube_system.network) if c not in busy]
    return h.rng.choice(free) if free else None
