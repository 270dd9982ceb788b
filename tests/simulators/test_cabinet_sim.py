"""The MV-40 cabinet simulator as an MQTT peer: its stock, its vendor JSON, its alarms and faults, its determinism."""

import asyncio
import json
import random
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import date
from typing import Any

import aiomqtt
import pytest

from contract.ids import check_identifier
from device_profiles import MqttJsonProfile, load_profiles
from mqttlink.url import BrokerAddress
from simulators.cabinets.cabinet import CabinetError, CabinetSimulator
from simulators.cabinets.stock import FORMULARY, gtin14, gtin_check_digit
from simulators.cabinets.ward import WardPattern, cabinet_ids, medication_order, run_cabinets
from tests.infra import Infra
from tests.polling import eventually


def mv40() -> MqttJsonProfile:
    profile = load_profiles()["medvault-mv40"]
    assert isinstance(profile, MqttJsonProfile)
    return profile


class Listener:
    """Everything published under the vendor's topic tree, as (topic suffix, JSON body)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, Any]] = []

    def bodies(self, suffix: str, accept: Callable[[dict[str, Any]], bool] = lambda _: True) -> list[dict[str, Any]]:
        return [b for s, b in self.messages if s == suffix and isinstance(b, dict) and accept(b)]

    async def wait(self, suffix: str, accept: Callable[[dict[str, Any]], bool], count: int = 1) -> list[dict[str, Any]]:
        async def probe() -> list[dict[str, Any]]:
            return self.bodies(suffix, accept)

        return await eventually(probe, lambda found: len(found) >= count, what=f"{count} on {suffix}", timeout_s=30)


@pytest.fixture
def cabinet_options() -> dict[str, Any]:
    """Extra `CabinetSimulator` arguments; a test overrides them with `parametrize`."""
    return {}


@pytest.fixture
async def cabinet(infra: Infra, cabinet_options: dict[str, Any]) -> AsyncIterator[CabinetSimulator]:
    topic_id = f"MV40-{uuid.uuid4().hex[:8]}"
    simulator = CabinetSimulator(mv40(), topic_id, infra.mqtt_url, seed=5, speed=600, **cabinet_options)
    try:
        yield simulator
    finally:
        await simulator.stop()
        await simulator.forget()


@pytest.fixture
async def listener(infra: Infra, cabinet: CabinetSimulator) -> AsyncIterator[Listener]:
    heard = Listener()
    prefix = cabinet.topic("events").rsplit("/", 1)[0] + "/"
    broker = BrokerAddress.parse(infra.mqtt_url)
    async with aiomqtt.Client(**broker.client_kwargs(), protocol=aiomqtt.ProtocolVersion.V311) as client:
        await client.subscribe(prefix + "#", qos=1)

        async def collect() -> None:
            async for message in client.messages:
                try:
                    body = json.loads(message.payload)  # type: ignore[arg-type]
                except ValueError:
                    body = message.payload
                heard.messages.append((message.topic.value.removeprefix(prefix), body))

        task = asyncio.create_task(collect())
        try:
            yield heard
        finally:
            task.cancel()


def test_the_same_seed_stocks_the_same_cabinet_and_badges() -> None:
    first, second, other = (CabinetSimulator(mv40(), "MV40-0001", "mqtt://127.0.0.1:1", seed=s) for s in (3, 3, 4))
    assert (first.stock, first.nurses, first.pharmacy) == (second.stock, second.nurses, second.pharmacy)
    assert first.stock != other.stock


def test_the_stock_seed_alone_decides_how_the_bins_are_stocked() -> None:
    first, second = (
        CabinetSimulator(mv40(), "MV40-0001", "mqtt://127.0.0.1:1", seed=s, stock_seed=42, today=date(2026, 11, 23))
        for s in (3, 4)
    )
    assert first.stock == second.stock
    assert first.nurses != second.nurses  # the rest still follows the seed
    assert first.stock != CabinetSimulator(mv40(), "MV40-0001", "mqtt://127.0.0.1:1", seed=3).stock


def test_the_inventory_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="inventory_every_s"):
        CabinetSimulator(mv40(), "MV40-0001", "mqtt://127.0.0.1:1", inventory_every_s=0)


def test_the_stock_is_gs1_identified_and_the_fridge_holds_the_cold_items() -> None:
    cabinet = CabinetSimulator(mv40(), "MV40-0001", "mqtt://127.0.0.1:1", seed=9, today=date(2026, 11, 23))
    assert len(cabinet.stock) == 44
    cold = {gtin14(reference) for reference in ("00193", "00204")}
    for bin_id, line in cabinet.stock.items():
        assert len(line.gtin) == 14
        assert gtin_check_digit(line.gtin[:13]) == int(line.gtin[13])
        assert (line.gtin in cold) == bin_id.startswith("F")
        assert date(2027, 1, 1) <= line.expiry <= date(2028, 12, 31)
        assert 0 < line.quantity <= line.par
        check_identifier(line.lot)
    assert {gtin14(ref) for ref, _ in FORMULARY} >= {line.gtin for line in cabinet.stock.values()}
    assert all(check_identifier(badge) for badge in [*cabinet.nurses, *cabinet.pharmacy])


@pytest.mark.parametrize(
    ("reference", "gtin"),
    [("00101", "00614141001019"), ("00193", "00614141001934"), ("12345", "00614141123452")],
)
def test_gtins_carry_the_gs1_check_digit(reference: str, gtin: str) -> None:
    assert gtin14(reference) == gtin


async def test_a_nurse_visit_is_published_as_vendor_json(cabinet: CabinetSimulator, listener: Listener) -> None:
    await cabinet.start()
    await listener.wait("status", lambda b: b["state"] == "ONLINE")
    nurse = cabinet.nurses[0]
    before = cabinet.stock["D2-04"].quantity
    await cabinet.open_door(nurse)
    await cabinet.remove("D2-04", 1, nurse)
    await cabinet.return_item("D2-04", 1, nurse)
    await cabinet.restock("D2-04", 3, nurse, lot="L26C001", expiry=date(2028, 5, 31))
    await cabinet.close_door()
    events = await listener.wait("evt", lambda b: b["evt"] != "ALARM", count=5)
    assert [e["evt"] for e in events] == ["DOOR_OPEN", "ITEM_TAKEN", "ITEM_RETURNED", "ITEM_REFILLED", "DOOR_CLOSE"]
    taken = events[1]
    assert taken["user"] == {"badgeId": nurse}
    assert (taken["txn"]["binId"], taken["txn"]["qty"]) == ("D2-04", 1)
    assert set(taken["txn"]["item"]) == {"gtin", "lot", "exp", "desc"}
    assert events[3]["txn"]["item"]["lot"] == "L26C001"
    assert cabinet.stock["D2-04"].quantity == before + 3
    assert len({e["msgId"] for e in events}) == 5
    assert all(isinstance(e["ts"], int) for e in events)


async def test_removals_name_their_medication_order_and_refills_their_delivery(
    cabinet: CabinetSimulator, listener: Listener
) -> None:
    await cabinet.start()
    nurse = cabinet.nurses[0]
    await cabinet.open_door(nurse)
    await cabinet.remove("D1-02", 1, nurse, order_id="MO-4711001")
    await cabinet.remove("D1-02", 1, nurse)  # an override: no order
    await cabinet.restock("D1-02", 2, nurse, delivery="D-001-00042")
    await cabinet.close_door()
    events = await listener.wait("evt", lambda b: b["evt"].startswith("ITEM_"), count=3)
    refs = [(e["evt"], e["txn"].get("orderRef"), e["txn"].get("deliveryRef")) for e in events]
    assert refs == [
        ("ITEM_TAKEN", "MO-4711001", None),
        ("ITEM_TAKEN", None, None),
        ("ITEM_REFILLED", None, "D-001-00042"),
    ]


def test_most_ward_removals_are_against_an_order_and_a_few_are_overrides() -> None:
    rng = random.Random(4)
    orders = [medication_order(rng, WardPattern().override_share) for _ in range(2000)]
    overrides = orders.count(None) / len(orders)
    assert 0.03 < overrides < 0.07
    assert all(check_identifier(order) for order in orders if order is not None)


async def test_misuse_is_refused_like_a_real_cabinet_would(cabinet: CabinetSimulator) -> None:
    await cabinet.start()
    with pytest.raises(CabinetError, match="door is closed"):
        await cabinet.remove("D1-01", 1, cabinet.nurses[0])
    await cabinet.open_door(cabinet.nurses[0])
    with pytest.raises(CabinetError, match="cannot take"):
        await cabinet.remove("D1-01", cabinet.stock["D1-01"].quantity + 1)
    with pytest.raises(CabinetError, match="no bin"):
        await cabinet.remove("Z9-99", 1)


async def test_an_unknown_badge_raises_access_denied(cabinet: CabinetSimulator, listener: Listener) -> None:
    await cabinet.start()
    assert await cabinet.open_door("N-000001") is False
    alarms = await listener.wait("evt", lambda b: b["evt"] == "ALARM", count=2)
    assert [(a["alarm"]["code"], a["alarm"]["state"]) for a in alarms] == [("A-301", "RAISED"), ("A-301", "CLEARED")]
    assert alarms[0]["user"] == {"badgeId": "N-000001"}
    assert cabinet.door_opened_by is None


async def test_a_door_left_open_raises_door_ajar_until_it_is_closed(
    cabinet: CabinetSimulator, listener: Listener
) -> None:
    await cabinet.start()
    await cabinet.open_door(cabinet.nurses[0])  # 120 simulated seconds at x600: 0.2 s
    (raised,) = await listener.wait("evt", lambda b: b["evt"] == "ALARM")
    assert raised["alarm"] == {"code": "A-101", "state": "RAISED", "text": "door open for 120 s"}
    await cabinet.close_door()
    await listener.wait("evt", lambda b: b["evt"] == "ALARM" and b["alarm"]["state"] == "CLEARED")


async def test_a_warm_fridge_raises_then_clears_the_temperature_alarm(
    cabinet: CabinetSimulator, listener: Listener
) -> None:
    await cabinet.start()
    cabinet.warm_fridge(12.0, minutes=10)
    (raised,) = await listener.wait("evt", lambda b: b.get("alarm", {}).get("code") == "A-201")
    assert raised["alarm"]["state"] == "RAISED"
    await listener.wait("evt", lambda b: b.get("alarm", {}).get("code") == "A-201" and b["alarm"]["state"] == "CLEARED")
    temperatures = [t["fridge"]["tempC"] for t in listener.bodies("tele")]
    assert max(temperatures) > 8.0
    assert 2.0 <= temperatures[0] <= 8.0


async def test_remote_unlock_and_inventory_are_answered(
    infra: Infra, cabinet: CabinetSimulator, listener: Listener
) -> None:
    await cabinet.start()
    await listener.wait("status", lambda b: b["state"] == "ONLINE")
    broker = BrokerAddress.parse(infra.mqtt_url)
    async with aiomqtt.Client(**broker.client_kwargs(), protocol=aiomqtt.ProtocolVersion.V311) as client:
        for body in (
            {"cmd": "UNLOCK", "reqId": "r1", "badgeId": cabinet.nurses[0]},
            {"cmd": "UNLOCK", "reqId": "r2", "badgeId": "N-000001"},
            {"cmd": "INVENTORY", "reqId": "r3"},
        ):
            await client.publish(cabinet.topic("commands"), json.dumps(body), qos=1)
    replies = await listener.wait("cmd/ack", lambda _: True, count=3)
    assert [(r["reqId"], r["result"], r.get("why")) for r in replies] == [
        ("r1", "GRANTED", None),
        ("r2", "DENIED", "badge not enrolled"),
        ("r3", "OK", None),
    ]
    (snapshot,) = await listener.wait("inventory", lambda b: b["reqId"] == "r3")
    assert sum(len(d["bins"]) for d in snapshot["drawers"]) == 44


def _on_hand(snapshot: dict[str, Any]) -> dict[str, int]:
    return {b["binId"]: b["onHand"] for drawer in snapshot["drawers"] for b in drawer["bins"]}


@pytest.mark.parametrize("cabinet_options", [{"inventory_every_s": 24 * 3600.0}])  # no periodic report in the test
async def test_a_cabinet_reports_its_full_inventory_each_time_it_connects(
    cabinet: CabinetSimulator, listener: Listener
) -> None:
    await cabinet.start()
    (first,) = await listener.wait("inventory", lambda _: True)
    assert [s for s, _ in listener.messages if s in ("status", "inventory")] == ["status", "inventory"]
    assert first["reqId"] is None  # unsolicited
    assert _on_hand(first) == {b: line.quantity for b, line in cabinet.stock.items()}
    assert len(_on_hand(first)) == 44

    await cabinet.open_door(cabinet.nurses[0])
    await cabinet.remove("F-01", 1)
    await cabinet.close_door()
    await cabinet.power_loss()
    await cabinet.reboot()
    (_, again) = await listener.wait("inventory", lambda _: True, count=2)
    assert _on_hand(again) == {**_on_hand(first), "F-01": _on_hand(first)["F-01"] - 1}
    heard = [(s, b) for s, b in listener.messages if s in ("status", "inventory")]
    back_online = heard.index(("status", *listener.bodies("status", lambda b: b.get("boot") == 2)))
    assert heard.index(("inventory", again)) > back_online


@pytest.mark.parametrize("cabinet_options", [{"inventory_every_s": 120.0}])  # every 0.2 s at x600
async def test_a_cabinet_reports_its_inventory_periodically_as_it_stands_then(
    cabinet: CabinetSimulator, listener: Listener
) -> None:
    await cabinet.start()
    await listener.wait("inventory", lambda _: True, count=3)
    before = cabinet.stock["D3-07"].quantity
    await cabinet.open_door(cabinet.nurses[0])
    await cabinet.remove("D3-07", 1)
    await cabinet.close_door()
    (later, *_) = await listener.wait("inventory", lambda b: _on_hand(b)["D3-07"] == before - 1)
    assert _on_hand(later) == {b: line.quantity for b, line in cabinet.stock.items()}


async def test_power_loss_leaves_the_last_will_and_a_reboot_comes_back_online(
    cabinet: CabinetSimulator, listener: Listener
) -> None:
    await cabinet.start()
    await listener.wait("status", lambda b: b["state"] == "ONLINE")
    await cabinet.power_loss()
    (will,) = await listener.wait("status", lambda b: b["state"] == "OFFLINE")
    assert will["cause"] == "connection lost"
    await cabinet.reboot()
    (_, back) = await listener.wait("status", lambda b: b["state"] == "ONLINE", count=2)
    assert back["boot"] == 2


async def test_duplicates_repeat_the_message_id_and_malformed_frames_are_interleaved(
    cabinet: CabinetSimulator, listener: Listener
) -> None:
    await cabinet.start()
    cabinet.duplicate_messages(minutes=60)
    cabinet.malformed_frames(minutes=60)
    await cabinet.open_door(cabinet.nurses[0])
    opened = await listener.wait("evt", lambda b: b.get("evt") == "DOOR_OPEN", count=2)
    assert opened[0] == opened[1]
    garbage = [b for s, b in listener.messages if s == "evt" and not (isinstance(b, dict) and b.get("evt") in _KNOWN)]
    assert garbage


_KNOWN = {"DOOR_OPEN", "DOOR_CLOSE", "ITEM_TAKEN", "ITEM_RETURNED", "ITEM_REFILLED", "ALARM"}


async def test_run_cabinets_simulates_a_busy_ward_until_cancelled(infra: Infra) -> None:
    prefix = f"MV{uuid.uuid4().hex[:6]}"
    heard = Listener()
    broker = BrokerAddress.parse(infra.mqtt_url)
    busy = WardPattern(accesses_per_hour=120, restock_every_h=0.05)
    async with aiomqtt.Client(**broker.client_kwargs(), protocol=aiomqtt.ProtocolVersion.V311) as client:
        for topic_id in cabinet_ids(2, prefix):
            await client.subscribe(f"medvault/v2/{topic_id}/evt", qos=1)
        run = asyncio.create_task(
            run_cabinets("medvault-mv40", infra.mqtt_url, 2, seed=1, speed=600, topic_prefix=prefix, pattern=busy)
        )

        async def collect() -> None:
            async for message in client.messages:
                heard.messages.append(("evt", json.loads(message.payload)))  # type: ignore[arg-type]

        reader = asyncio.create_task(collect())
        try:
            await heard.wait("evt", lambda b: b["evt"] == "ITEM_TAKEN", count=3)
            await heard.wait("evt", lambda b: b["evt"] == "ITEM_REFILLED")
        finally:
            run.cancel()
            reader.cancel()
            await asyncio.gather(run, reader, return_exceptions=True)
    for topic_id in cabinet_ids(2, prefix):
        await CabinetSimulator(mv40(), topic_id, infra.mqtt_url).forget()
