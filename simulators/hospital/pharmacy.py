"""Pharmacy deliveries and ward cabinets in the live hospital: order -> robot -> hand-over -> cabinet.

The pharmacy system creates a delivery for a ward (`delivery.created`: the order, the ward's drop-off node, its
cabinet, the items with their GTINs, from the bins running lowest), sends the dispatch command to a robot
through the edge, reports `delivery.loaded` once the robot has the order, and after a nurse opened the drawer at
the ward and put the items into the cabinet (a restock naming the delivery) reports `delivery.stocked`. Nurses
take items from the cabinets against medication orders, now and then without one (an override).
"""

import contextlib
import random
from typing import Any
from uuid import uuid4

from contract import Topics
from contract.command import DispatchDelivery
from mqttlink.url import BrokerAddress
from simulators.cabinets.cabinet import CabinetError, CabinetSimulator
from simulators.cabinets.ward import medication_order
from simulators.clinical.journey import Staff
from simulators.clinical.system import ClinicalSystem
from simulators.hospital.clock import SimClock
from simulators.hospital.devices import HospitalDevices
from simulators.hospital.plan import Plan
from simulators.one_shot import publish_once
from simulators.robots.robot import RobotSimulator

STAT_DELIVERY_SHARE = 0.1
OVERRIDE_SHARE = 0.05
"""Cabinet removals without a medication order."""
WAIT_STEP_S = 10.0
HANDOVER_PATIENCE_S = 30 * 60.0
"""How long a nurse at the ward waits for the robot (simulated seconds)."""


def delivery_items(cabinet: CabinetSimulator | None, rng: Any) -> list[tuple[str, str, int]]:
    """(bin, GTIN, quantity) for the one to three bins furthest below par (at least one item each)."""
    if cabinet is None:
        return []
    lines = sorted(cabinet.stock.values(), key=lambda line: line.quantity - line.par)
    chosen = lines[: rng.randint(1, 3)]
    return [(line.bin, line.gtin, max(1, line.par - line.quantity)) for line in chosen]


class MedicationRounds:
    """Pharmacy deliveries by robot into the ward cabinets, and nurses taking items out of them."""

    def __init__(
        self,
        *,
        devices: HospitalDevices,
        plan: Plan,
        clock: SimClock,
        rng: random.Random,
        staff: Staff,
        pharmacy: ClinicalSystem,
        topics: Topics,
        broker_url: str,
    ) -> None:
        self.devices = devices
        self.plan = plan
        self.clock = clock
        self.rng = rng
        self.staff = staff
        self.pharmacy = pharmacy
        self.topics = topics
        self.broker_url = broker_url
        self.dispatched = 0
        self.cabinet_visits = 0

    async def deliver(self) -> None:
        """The pharmacy creates a delivery, sends it with a robot, and sees it stocked into the ward's cabinet."""
        rng, clock, devices = self.rng, self.clock, self.devices
        seed = self.plan.scenario.seed
        device = rng.choice(sorted(devices.robots))
        robot = devices.robots[device]
        self.dispatched += 1
        delivery = f"D-{seed % 1000:03d}-{self.dispatched:05d}"
        if devices.cabinet_ward:
            cabinet_id = rng.choice(sorted(devices.cabinet_ward))
            ward: str = devices.cabinet_ward[cabinet_id]
        else:
            cabinet_id, ward = None, rng.choice(devices.wards)
        cabinet = devices.cabinets.get(cabinet_id) if cabinet_id else None
        items = delivery_items(cabinet, rng)
        created = {
            "order_id": f"PO-{seed % 1000:03d}-{self.dispatched:05d}",
            "ward": ward,
            "destination": ward,
            "cabinet": cabinet_id,
            "priority": "stat" if rng.random() < STAT_DELIVERY_SHARE else "routine",
            "items": [{"gtin": gtin, "quantity": quantity} for _, gtin, quantity in items],
        }
        self.pharmacy.report("delivery.created", "delivery", delivery, created)
        await clock.sleep(rng.uniform(60, 300))  # picked and packed before the robot is called
        pin = f"{rng.randrange(10_000):04d}"
        command = DispatchDelivery(
            id=uuid4(),
            requested_by="pharmacy-system",
            requested_at=clock.now(),
            delivery=delivery,
            destination=ward,
            drawer=robot.profile.drawers[0],
            release_pin=pin,
        )
        broker = BrokerAddress.parse(self.broker_url)
        await publish_once(broker, self.topics.command(device), command.model_dump_json().encode(), qos=1)
        if not await self._accepted(robot, delivery):
            return
        loaded = {"robot": device, "drawer": command.drawer, "badge": self.staff.pharmacist(rng)}
        self.pharmacy.report("delivery.loaded", "delivery", delivery, loaded)
        nurse = rng.choice(cabinet.nurses) if cabinet is not None else self.staff.nurse(rng, ward)
        if await self._hand_over(robot, command.drawer, pin, nurse) and cabinet is not None and cabinet_id is not None:
            await self._stock(cabinet, cabinet_id, delivery, items, nurse)

    async def _accepted(self, robot: RobotSimulator, delivery: str) -> bool:
        """Wait until the robot holds the delivery in a drawer (it took the order); False after 30 sim-min."""
        for _ in range(int(HANDOVER_PATIENCE_S)):
            if any(d.load_id == delivery for d in robot.body.drawers.values()):
                return True
            await self.clock.sleep(1)  # the robot leaves as soon as it has the order: the load is reported right away
        return False

    async def _hand_over(self, robot: RobotSimulator, drawer: str, pin: str, badge: str) -> bool:
        """A nurse waits at the ward and opens the drawer with the PIN and her badge once the robot is there."""
        for _ in range(int(HANDOVER_PATIENCE_S // WAIT_STEP_S)):
            handover = robot.body.handover
            if handover is not None and handover.due and handover.drawer == drawer:
                await self.clock.sleep(self.rng.uniform(20, 180))
                return await robot.release_drawer(drawer, pin=pin, badge=badge)
            await self.clock.sleep(WAIT_STEP_S)
        return False

    async def _stock(
        self,
        cabinet: CabinetSimulator,
        cabinet_id: str,
        delivery: str,
        items: list[tuple[str, str, int]],
        badge: str,
    ) -> None:
        """The nurse carries the drawer's contents to the ward cabinet and restocks its bins from the delivery."""
        await self.clock.sleep(self.rng.uniform(60, 300))
        for _ in range(int(HANDOVER_PATIENCE_S // WAIT_STEP_S)):
            if cabinet.door_opened_by is None and cabinet.powered:
                break
            await self.clock.sleep(WAIT_STEP_S)  # someone is at the cabinet: wait for the door
        try:
            if not await cabinet.open_door(badge):
                return
            for bin_id, _gtin, quantity in items:
                await cabinet.restock(bin_id, quantity, badge, delivery=delivery)
                await self.clock.sleep(self.rng.uniform(5, 20))
            await cabinet.close_door(badge)
        except CabinetError:
            return  # the cabinet lost power or its door was taken: the delivery stays handed over, not stocked
        self.pharmacy.report("delivery.stocked", "delivery", delivery, {"cabinet": cabinet_id, "badge": badge})

    async def visit(self, cabinet: CabinetSimulator) -> None:
        """A nurse opens the cabinet, takes an item or two against medication orders, and closes the door."""
        rng = self.rng
        badge = rng.choice(cabinet.nurses)
        if cabinet.door_opened_by is not None:
            return  # someone is at the cabinet already; this nurse comes back later
        self.cabinet_visits += 1
        with contextlib.suppress(CabinetError):
            if not await cabinet.open_door(badge):
                return
            bins = [b for b, line in cabinet.stock.items() if line.quantity > 0]
            for bin_id in rng.sample(bins, k=min(len(bins), rng.choice((1, 1, 2)))):
                await cabinet.remove(bin_id, 1, badge, order_id=medication_order(rng, OVERRIDE_SHARE))
            await self.clock.sleep(rng.uniform(20, 90))
            await cabinet.close_door(badge)
