"""The benchmark's event streams: sorter scans only, or a hospital's tracking mix of whole journeys.

`tracking_mix` plays overlapping journeys in the order they happen, from two edges (the devices' edge and the
clinical systems' edge), so every projector works on every batch:
- specimen journeys: collected at a ward (clinical edge), carried in a tube carrier from the ward's station to
  the lab (dispatched with the specimens, arrived, a secure one released by a badge), scanned and sorted (or,
  now and then, rejected) by the sorter, received and resulted by the lab; a fleet of carriers is reused, so each
  carrier gathers many trips, as in a real day;
- pharmacy deliveries: created, loaded, accepted by a robot, departed, arrived, handed over, stocked, with the
  cabinet restocks that name the delivery;
- ward cabinets: door opened, items removed against an order, door closed; each reports its full inventory
  about once an hour.

Seeded: the same arguments give the same events (ids included), so runs compare like with like.
"""

import random
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from contract import Event, Subject, Topics, new_event

SITE = "bench-site"
DEVICE_EDGE = "bench-edge"
CLINICAL_EDGE = "bench-clinical"
WARDS = tuple(f"ward-{n}" for n in range(1, 9))
CARRIERS = tuple(f"C{n:03d}" for n in range(1, 25))
CABINETS = {ward: f"cab-{ward}" for ward in WARDS}
CATEGORIES = ("biochemistry", "cbc", "coagulation", "immunology", "blood-gas", "urinalysis")
GTINS = ("00012345600012", "00012345600029", "00012345600036", "00012345600043")


@dataclass(frozen=True, slots=True)
class _Draft:
    """An event before its edge's sequence number is known (given in the order things happened)."""

    at: datetime
    type: str
    edge: str
    device: str
    subject: Subject
    data: dict[str, Any]


def topics_for(edge: str, root: str) -> Topics:
    return Topics(SITE, edge, root)


def sorter_scans(count: int, start: datetime) -> list[Event]:
    """`count` new specimens, each scanned once by the sorter: the pre-tracking benchmark's stream."""
    return [
        new_event(
            "specimen.scanned",
            seq=i + 1,
            site=SITE,
            edge=DEVICE_EDGE,
            device="sorter-1",
            subject=Subject(kind="specimen", id=f"S{i:09d}"),
            occurred_at=start,
        )
        for i in range(count)
    ]


class _Journeys:
    """Drafts for overlapping journeys, one ward trip (or delivery) at a time."""

    def __init__(self, rng: random.Random, start: datetime) -> None:
        self.rng = rng
        self.start = start
        self.drafts: list[_Draft] = []
        self.barcodes = 0
        self.transaction = 1000
        self.deliveries = 0
        self.orders = 0

    def add(self, at: datetime, type_: str, edge: str, device: str, kind: str, id_: str, **data: Any) -> None:
        self.drafts.append(_Draft(at, type_, edge, device, Subject(kind=kind, id=id_), data))

    def ward_trip(self, t: datetime) -> None:
        """A few specimens collected at a ward, sent to the lab in one carrier, sorted, received and resulted."""
        rng, m = self.rng, timedelta(minutes=1)
        ward = rng.choice(WARDS)
        carrier = rng.choice(CARRIERS)
        self.transaction += 1
        transaction = self.transaction
        priority = "stat" if rng.random() < 0.1 else "routine"
        barcodes = []
        for j in range(rng.randint(1, 6)):
            self.barcodes += 1
            barcode = f"S{self.barcodes:09d}"
            barcodes.append(barcode)
            self.add(
                t + j * 0.5 * m,
                "specimen.collected",
                CLINICAL_EDGE,
                "ward-app",
                "specimen",
                barcode,
                priority="stat" if priority == "stat" else rng.choice(("routine", "routine", "urgent")),
                category=rng.choice(CATEGORIES),
                ward=ward,
                badge=f"B{rng.randint(1000, 9999)}",
                order_id=f"LAB-{self.barcodes:08d}",
            )
        dispatched = t + 4 * m
        secure = rng.random() < 0.2
        station = f"st-{ward}"
        self.add(
            dispatched,
            "carrier.dispatched",
            DEVICE_EDGE,
            "tubes-1",
            "carrier",
            carrier,
            transaction=transaction,
            from_station=station,
            to_station="st-lab",
            priority="stat" if priority == "stat" else "normal",
            secure=secure,
            specimens=barcodes,
        )
        arrived = dispatched + rng.uniform(2, 5) * m
        self.add(
            arrived,
            "carrier.arrived",
            DEVICE_EDGE,
            "tubes-1",
            "carrier",
            carrier,
            transaction=transaction,
            station="st-lab",
        )
        if secure:
            self.add(
                arrived + 0.5 * m,
                "carrier.released",
                DEVICE_EDGE,
                "tubes-1",
                "carrier",
                carrier,
                transaction=transaction,
                station="st-lab",
                badge=f"B{rng.randint(1000, 9999)}",
            )
        for j, barcode in enumerate(barcodes):
            scanned = arrived + m + j * timedelta(seconds=8)
            self.add(
                scanned,
                "specimen.scanned",
                DEVICE_EDGE,
                "sorter-1",
                "specimen",
                barcode,
                input_rack=1,
                input_position=j,
            )
            if rng.random() < 0.03:
                self.add(
                    scanned + timedelta(seconds=3),
                    "specimen.rejected",
                    DEVICE_EDGE,
                    "sorter-1",
                    "specimen",
                    barcode,
                    reason="unknown_order",
                    lane=0,
                )
                continue
            lane = rng.randint(1, 8)
            self.add(
                scanned + timedelta(seconds=3),
                "specimen.sorted",
                DEVICE_EDGE,
                "sorter-1",
                "specimen",
                barcode,
                lane=lane,
                rack=lane,
                position=j,
            )
            received = scanned + rng.uniform(1, 4) * m
            self.add(received, "specimen.received", CLINICAL_EDGE, "lis", "specimen", barcode, location=f"bench-{lane}")
            self.add(
                received + rng.uniform(5, 50) * m,
                "specimen.resulted",
                CLINICAL_EDGE,
                "lis",
                "specimen",
                barcode,
                badge=f"B{rng.randint(1000, 9999)}",
            )

    def cabinet_visit(self, t: datetime) -> None:
        """A nurse takes a few items out of a ward cabinet against medication orders."""
        rng = self.rng
        ward = rng.choice(WARDS)
        cabinet, badge = CABINETS[ward], f"B{rng.randint(1000, 9999)}"
        self.add(t, "cabinet.door_opened", DEVICE_EDGE, cabinet, "cabinet", cabinet, badge=badge)
        for j in range(rng.randint(1, 3)):
            self.orders += 1
            self.add(
                t + timedelta(seconds=10 + 10 * j),
                "cabinet.item_removed",
                DEVICE_EDGE,
                cabinet,
                "cabinet",
                cabinet,
                **_item(rng, j, quantity=1),
                badge=badge,
                order_id=f"MED-{self.orders:08d}",
            )
        self.add(
            t + timedelta(seconds=60), "cabinet.door_closed", DEVICE_EDGE, cabinet, "cabinet", cabinet, badge=badge
        )

    def inventory(self, t: datetime, ward: str) -> None:
        """A cabinet's full inventory report (real cabinets send one every hour or so)."""
        cabinet = CABINETS[ward]
        bins = [_item(self.rng, j, quantity=self.rng.randint(5, 40)) for j in range(len(GTINS))]
        self.add(t, "cabinet.inventory_reported", DEVICE_EDGE, cabinet, "cabinet", cabinet, bins=bins)

    def delivery(self, t: datetime) -> None:
        """A pharmacy delivery to a ward cabinet by robot, restocked into the cabinet."""
        rng, m = self.rng, timedelta(minutes=1)
        self.deliveries += 1
        delivery = f"D{self.deliveries:06d}"
        ward = rng.choice(WARDS)
        cabinet, robot, badge = CABINETS[ward], f"robot-{rng.randint(1, 2)}", f"B{rng.randint(1000, 9999)}"
        items: list[dict[str, Any]] = [{"gtin": gtin, "quantity": rng.randint(2, 10)} for gtin in rng.sample(GTINS, 2)]
        node = f"drop-{ward}"
        d = "delivery"
        self.add(
            t,
            "delivery.created",
            CLINICAL_EDGE,
            "pharmacy",
            d,
            delivery,
            order_id=f"PH-{self.deliveries:06d}",
            ward=ward,
            destination=node,
            cabinet=cabinet,
            items=items,
        )
        self.add(
            t + 3 * m, "delivery.loaded", CLINICAL_EDGE, "pharmacy", d, delivery, robot=robot, drawer="1", badge=badge
        )
        self.add(
            t + 4 * m,
            "delivery.accepted",
            DEVICE_EDGE,
            robot,
            d,
            delivery,
            robot=robot,
            order_id=f"vda-{delivery}",
            destination=node,
            drawer="1",
        )
        self.add(t + 5 * m, "delivery.departed", DEVICE_EDGE, robot, d, delivery, robot=robot, node="pharmacy")
        self.add(t + 12 * m, "delivery.arrived", DEVICE_EDGE, robot, d, delivery, robot=robot, node=node)
        self.add(
            t + 14 * m, "delivery.handed_over", DEVICE_EDGE, robot, d, delivery, robot=robot, drawer="1", badge=badge
        )
        for j, line in enumerate(items):
            gtin = line["gtin"]
            item = _item(rng, GTINS.index(gtin), quantity=line["quantity"])
            self.add(
                t + (17 + j) * m,
                "cabinet.item_restocked",
                DEVICE_EDGE,
                cabinet,
                "cabinet",
                cabinet,
                **item,
                badge=badge,
                delivery=delivery,
            )
        self.add(t + 20 * m, "delivery.stocked", CLINICAL_EDGE, "pharmacy", d, delivery, cabinet=cabinet, badge=badge)


def _item(rng: random.Random, index: int, *, quantity: int) -> dict[str, Any]:
    index %= len(GTINS)
    return {
        "bin": f"A{index + 1}",
        "gtin": GTINS[index],
        "lot": f"L{index + 1}",
        "expiry": date(2030, 1, 1).isoformat(),
        "quantity": quantity,
    }


def _drafts(count: int, start: datetime, seed: int) -> Iterator[_Draft]:
    """At least `count` drafts, in no particular order."""
    rng = random.Random(seed)
    journeys = _Journeys(rng, start)
    t = start
    n = 0
    while len(journeys.drafts) < count + 200:  # a margin, so the journeys cut off at the end are rare
        journeys.ward_trip(t)
        journeys.cabinet_visit(t + timedelta(seconds=30))
        if n % 8 == 0:
            journeys.delivery(t)
        if n % 11 == 0:  # a step is 40 s: each of the 8 cabinets reports about once an hour, in turn
            journeys.inventory(t + timedelta(seconds=20), WARDS[(n // 11) % len(WARDS)])
        n += 1
        t += timedelta(seconds=40)
    yield from journeys.drafts


def tracking_mix(count: int, start: datetime, seed: int = 7) -> list[Event]:
    """`count` events of overlapping journeys in the order they happened, each edge numbering its own."""
    rng = random.Random(seed)
    drafts = sorted(_drafts(count, start, seed), key=lambda d: d.at)[:count]
    seqs: dict[str, int] = defaultdict(int)
    result = []
    for d in drafts:
        seqs[d.edge] += 1
        result.append(
            new_event(
                d.type,
                seq=seqs[d.edge],
                site=SITE,
                edge=d.edge,
                device=d.device,
                subject=d.subject,
                occurred_at=d.at,
                data=d.data,
                id=uuid.UUID(int=rng.getrandbits(128), version=4),
            )
        )
    return result


def describe(events: list[Event]) -> dict[str, int]:
    """How many events of each subject kind: the mix, for the report."""
    kinds: dict[str, int] = defaultdict(int)
    for e in events:
        kinds[e.subject.kind] += 1
    return dict(sorted(kinds.items()))
