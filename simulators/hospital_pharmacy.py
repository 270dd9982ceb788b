"""Pharmacy deliveries and ward cabinets in the live hospital: order -> robot -> hand-over -> cabinet.

The pharmacy system creates a delivery for a ward (`delivery.created`: the order, the ward's drop-off node, its
cabinet, the items with their GTINs, from the bins running lowest), sends the dispatch command to a robot
through the edge, reports `delivery.loaded` once the robot has the order, and after a nurse opened the drawer at
the ward and put the items into the cabinet (a restock naming the delivery) reports `delivery.stocked`. Nurses
take items from the cabinets against medication orders, now and then without one (an override).
"""

import contextlib
from typing import TYPE_CHECKING, Any
from uuid import uuid4

import aiomqtt

from contract.command import DispatchDelivery
from mqttlink.url import BrokerAddress
from simulators.cabinet import CabinetError, CabinetSimulator
from simulators.cabinet_activity import medication_order
from simulators.robot import RobotSimulator

if TYPE_CHECKING:
    from simulators.hospital import Hospital

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


async def dispatch_delivery(h: "Hospital") -> None:
    """The pharmacy creates a delivery, sends it with a robot, and sees it stocked into the ward's cabinet."""
    device = h.rng.choice(sorted(h.robots))
    robot = h.robots[device]
    h.dispatched += 1
    delivery = f"D-{h.scenario.seed % 1000:03d}-{h.dispatched:05d}"
    if h.cabinet_ward:
        cabinet_id = h.rng.choice(sorted(h.cabinet_ward))
        ward: str = h.cabinet_ward[cabinet_id]
    else:
        cabinet_id, ward = None, h.rng.choice(h.wards)
    cabinet = h.cabinets.get(cabinet_id) if cabinet_id else None
    items = delivery_items(cabinet, h.rng)
    created = {
        "order_id": f"PO-{h.scenario.seed % 1000:03d}-{h.dispatched:05d}",
        "ward": ward,
        "destination": ward,
        "cabinet": cabinet_id,
        "priority": "stat" if h.rng.random() < STAT_DELIVERY_SHARE else "routine",
        "items": [{"gtin": gtin, "quantity": quantity} for _, gtin, quantity in items],
    }
    h.pharmacy.report("delivery.created", "delivery", delivery, created)
    await h.clock.sleep(h.rng.uniform(60, 300))  # picked and packed before the robot is called
    pin = f"{h.rng.randrange(10_000):04d}"
    command = DispatchDelivery(
        id=uuid4(),
        requested_by="pharmacy-system",
        requested_at=h.clock.now(),
        delivery=delivery,
        destination=ward,
        drawer=robot.profile.drawers[0],
        release_pin=pin,
    )
    broker = BrokerAddress.parse(h.broker_url)
    async with aiomqtt.Client(**broker.client_kwargs(), protocol=aiomqtt.ProtocolVersion.V311) as client:
        await client.publish(h.topics.command(device), command.model_dump_json().encode(), qos=1)
    if not await _accepted(h, robot, delivery):
        return
    loaded = {"robot": device, "drawer": command.drawer, "badge": h.staff.pharmacist(h.rng)}
    h.pharmacy.report("delivery.loaded", "delivery", delivery, loaded)
    nurse = h.rng.choice(cabinet.nurses) if cabinet is not None else h.staff.nurse(h.rng, ward)
    if await _hand_over(h, robot, command.drawer, pin, nurse) and cabinet is not None and cabinet_id is not None:
        await _stock(h, cabinet, cabinet_id, delivery, items, nurse)


async def _accepted(h: "Hospital", robot: RobotSimulator, delivery: str) -> bool:
    """Wait until the robot holds the delivery in a drawer (it took the order); False after 30 sim-min."""
    for _ in range(int(HANDOVER_PATIENCE_S)):
        if any(d.load_id == delivery for d in robot.body.drawers.values()):
            return True
        await h.clock.sleep(1)  # the robot leaves as soon as it has the order: the load is reported right away
    return False


async def _hand_over(h: "Hospital", robot: RobotSimulator, drawer: str, pin: str, badge: str) -> bool:
    """A nurse waits at the ward and opens the drawer with the PIN and her badge once the robot is there."""
    for _ in range(int(HANDOVER_PATIENCE_S // WAIT_STEP_S)):
        handover = robot.body.handover
        if handover is not None and handover.due and handover.drawer == drawer:
            await h.clock.sleep(h.rng.uniform(20, 180))
            return await robot.release_drawer(drawer, pin=pin, badge=badge)
        await h.clock.sleep(WAIT_STEP_S)
    return False


async def _stock(
    h: "Hospital",
    cabinet: CabinetSimulator,
    cabinet_id: str,
    delivery: str,
    items: list[tuple[str, str, int]],
    badge: str,
) -> None:
    """The nurse carries the drawer's contents to the ward cabinet and restocks its bins from the delivery."""
    await h.clock.sleep(h.rng.uniform(60, 300))
    for _ in range(int(HANDOVER_PATIENCE_S // WAIT_STEP_S)):
        if cabinet.door_opened_by is None and cabinet.powered:
            break
        await h.clock.sleep(WAIT_STEP_S)  # someone is at the cabinet: wait for the door
    try:
        if not await cabinet.open_door(badge):
            return
        for bin_id, _gtin, quantity in items:
            await cabinet.restock(bin_id, quantity, badge, delivery=delivery)
            await h.clock.sleep(h.rng.uniform(5, 20))
        await cabinet.close_door(badge)
    except CabinetError:
        return  # the cabinet lost power or its door was taken: the delivery stays handed over, not stocked
    h.pharmacy.report("delivery.stocked", "delivery", delivery, {"cabinet": cabinet_id, "badge": badge})


async def visit_cabinet(h: "Hospital", cabinet: CabinetSimulator) -> None:
    """A nurse opens the cabinet, takes an item or two against medication orders, and closes the door."""
    badge = h.rng.choice(cabinet.nurses)
    if cabinet.door_opened_by is not None:
        return  # someone is at the cabinet already; this nurse comes back later
    h.cabinet_visits += 1
    with contextlib.suppress(CabinetError):
        if not await cabinet.open_door(badge):
            return
        bins = [b for b, line in cabinet.stock.items() if line.quantity > 0]
        for bin_id in h.rng.sample(bins, k=min(len(bins), h.rng.choice((1, 1, 2)))):
            await cabinet.remove(bin_id, 1, badge, order_id=medication_order(h.rng, OVERRIDE_SHARE))
        await h.clock.sleep(h.rng.uniform(20, 90))
        await cabinet.close_door(badge)
