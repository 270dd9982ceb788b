"""The edge's vendor-JSON driver against a simulated MV-40 over a real broker: bad frames, repeats, presence, commands.

Runs on the embedded amqtt and on the real Mosquitto. The test watches what the edge publishes (events by id,
so the edge's resends count once, and dead letters); no gateway is needed for the driver's behaviour.
"""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from contract import DeadLetter
from tests.cabinet_rig import CABINET_MODELS, DEVICE, Rig, cabinet_profile, mv40, rig
from tests.infra import Infra
from tests.polling import eventually


@pytest.mark.parametrize("model", CABINET_MODELS)
async def test_a_malformed_frame_is_set_aside_with_the_reason_and_the_next_message_flows(
    infra: Infra, tmp_path: Path, model: str
) -> None:
    async with rig(infra, tmp_path, cabinet_profile(model)) as r:
        await r.cabinet.start()
        await r.wait_for("device.online")
        sent = r.cabinet.send_malformed("truncated")
        nurse = r.cabinet.nurses[0]
        await r.cabinet.open_door(nurse)
        (opened,) = await r.wait_for("cabinet.door_opened")
        assert opened["data"] == {"badge": nurse}
        (letter,) = await r.wait_for_dead_letter()
        assert "payload is not JSON" in letter.reason
        assert letter.topic == r.cabinet.topic("events" if model == "medvault-mv40" else "stock")
        assert letter.original() == sent  # kept untouched
        assert r.driver.ctx.set_aside_count == 1


@pytest.mark.parametrize("model", CABINET_MODELS)
async def test_a_repeated_vendor_message_makes_no_second_event(infra: Infra, tmp_path: Path, model: str) -> None:
    """The MV-40's repeat has the same msgId; the PP-7, which has none, repeats the same content."""
    async with rig(infra, tmp_path, cabinet_profile(model)) as r:
        await r.cabinet.start()
        await r.wait_for("device.online")
        r.cabinet.duplicate_messages(minutes=10)
        nurse = r.cabinet.nurses[1]
        await r.cabinet.open_door(nurse)
        bin_id = next(b for b, line in r.cabinet.stock.items() if line.quantity >= 2)
        await r.cabinet.remove(bin_id, 2, nurse)
        await r.cabinet.close_door()
        r.cabinet.duplicate_messages(minutes=0)
        await r.cabinet.open_door(nurse)  # after the repeats: once this is in, every repeat has been seen
        await r.wait_for("cabinet.door_opened", count=2)
        assert len(r.of_type("cabinet.item_removed")) == 1
        assert len(r.of_type("cabinet.door_closed")) == 1
        assert r.driver.duplicates >= 3


async def test_power_loss_is_seen_through_the_last_will_and_the_reboot_brings_it_back(
    infra: Infra, tmp_path: Path
) -> None:
    async with rig(infra, tmp_path) as r:
        await r.cabinet.start()
        await r.wait_for("device.online")
        await r.cabinet.power_loss()
        (offline,) = await r.wait_for("device.offline")
        assert offline["data"] == {"reason": "status OFFLINE: connection lost"}
        await r.cabinet.reboot()
        await r.wait_for("device.online", count=2)
        assert r.driver.ctx.online is True


async def test_a_silent_cabinet_goes_offline_after_the_heartbeat_timeout(infra: Infra, tmp_path: Path) -> None:
    async with rig(infra, tmp_path, mv40(heartbeat_timeout_s=1.0), telemetry_interval_s=3600) as r:
        await r.cabinet.start()
        await r.wait_for("device.online")
        (offline,) = await r.wait_for("device.offline")
        assert offline["data"] == {"reason": "no message from the device for 1 s"}
        await r.cabinet.open_door(r.cabinet.nurses[0])  # it speaks again
        await r.wait_for("device.online", count=2)


async def test_a_remote_unlock_gets_the_cabinets_reply(infra: Infra, tmp_path: Path) -> None:
    async with rig(infra, tmp_path) as r:
        await r.cabinet.start()
        await r.wait_for("device.online")
        granted = await r.command({"type": "unlock_cabinet", "badge": r.cabinet.nurses[2]})
        refused = await r.command({"type": "unlock_cabinet", "badge": "N-000001"})
        replies = {e["data"]["command_id"]: e["data"] for e in await r.wait_for("cabinet.unlock_replied", count=2)}
        assert replies == {
            granted: {"command_id": granted, "accepted": True, "reason": ""},
            refused: {"command_id": refused, "accepted": False, "reason": "badge not enrolled"},
        }
        assert r.cabinet.unlocked_for == r.cabinet.nurses[2]


async def test_an_inventory_request_is_answered_with_the_snapshot(infra: Infra, tmp_path: Path) -> None:
    async with rig(infra, tmp_path) as r:
        await r.cabinet.start()
        await r.wait_for("cabinet.inventory_reported")  # the edge's own request as the cabinet came online
        await r.command({"type": "request_inventory"})
        (_, report) = await r.wait_for("cabinet.inventory_reported", count=2)
        bins = {item["bin"]: item for item in report["data"]["bins"]}
        assert set(bins) == set(r.cabinet.stock)
        line = r.cabinet.stock["D1-01"]
        assert bins["D1-01"] == {
            "bin": "D1-01",
            "gtin": line.gtin,
            "lot": line.lot,
            "expiry": line.expiry.isoformat(),
            "quantity": line.quantity,
        }
        assert r.dead_letters == []  # the bare acknowledgement of the request is recognised, not set aside


async def test_an_unlock_without_a_reply_is_refused_by_the_edge_and_a_late_reply_is_set_aside(
    infra: Infra, tmp_path: Path
) -> None:
    commands = mv40().commands
    # The edge expects a reply within 1 s; this cabinet listens on another topic, so it never hears the command.
    unlock = commands["unlock_cabinet"].model_copy(update={"reply_timeout_s": 1.0, "topic": "inventory"})
    async with rig(infra, tmp_path, mv40(commands={**commands, "unlock_cabinet": unlock})) as r:
        await r.cabinet.start()
        await r.wait_for("device.online")
        command_id = await r.command({"type": "unlock_cabinet", "badge": r.cabinet.nurses[0]})
        (reply,) = await r.wait_for("cabinet.unlock_replied")
        assert reply["data"] == {
            "command_id": command_id,
            "accepted": False,
            "reason": "no reply from the cabinet within 1 s",
        }
        late = {"msgId": "late-1", "ts": 1795422612250, "reqId": command_id, "cmd": "UNLOCK", "result": "GRANTED"}
        await r.client.publish(r.cabinet.topic("replies"), json.dumps(late), qos=1)
        # The late reply arrives as a set-aside, not as a second answer (plus the command the cabinet ignored).
        letters = await eventually(
            lambda: _letters(r), lambda found: any("came after" in x.reason for x in found), what="the late reply"
        )
        assert len(r.of_type("cabinet.unlock_replied")) == 1
        assert [json.loads(x.payload)["reqId"] for x in letters if "came after" in x.reason] == [command_id]


async def _letters(r: Rig) -> list[DeadLetter]:
    return list(r.dead_letters)


async def test_commands_the_cabinet_cannot_take_are_refused_with_a_reason(infra: Infra, tmp_path: Path) -> None:
    async with rig(infra, tmp_path) as r:
        await r.cabinet.start()
        await r.wait_for("device.online")
        await r.cabinet.power_loss()
        await r.wait_for("device.offline")
        unlock = await r.command({"type": "unlock_cabinet", "badge": r.cabinet.nurses[0]})
        await r.command({"type": "pause"})
        (reply,) = await r.wait_for("cabinet.unlock_replied")
        assert reply["data"] == {
            "command_id": unlock,
            "accepted": False,
            "reason": f"cabinet {DEVICE} is offline: unlock_cabinet was not sent",
        }
        (letter,) = await r.wait_for_dead_letter()
        assert "does not take pause commands" in letter.reason
        assert json.loads(letter.payload)["type"] == "pause"


async def test_what_the_edge_says_itself_is_stamped_on_its_clock_and_the_cabinets_messages_keep_theirs(
    infra: Infra, tmp_path: Path
) -> None:
    behind = timedelta(days=2)

    def two_days_ago() -> datetime:
        return datetime.now(UTC) - behind

    started = datetime.now(UTC)
    async with rig(infra, tmp_path, clock=two_days_ago) as r:
        await r.cabinet.start()
        (online,) = await r.wait_for("device.online")
        await r.cabinet.open_door(r.cabinet.nurses[0])
        (opened,) = await r.wait_for("cabinet.door_opened")
        await r.cabinet.power_loss()
        (offline,) = await r.wait_for("device.offline")
        unlock = await r.command({"type": "unlock_cabinet", "badge": r.cabinet.nurses[0]})
        (refused,) = await r.wait_for("cabinet.unlock_replied")
        assert refused["data"]["command_id"] == unlock

    def at(event: dict[str, Any]) -> datetime:
        return datetime.fromisoformat(event["occurred_at"])

    for event in (online, offline, refused):
        assert started - behind <= at(event) <= datetime.now(UTC) - behind, event
    assert started - timedelta(seconds=1) <= at(opened) <= datetime.now(UTC)  # the cabinet's own time


async def test_a_stock_message_of_several_lines_is_one_event_per_line_once_and_all_or_none(
    infra: Infra, tmp_path: Path
) -> None:
    """The PP-7 writes a nurse's whole pick as one message; a redelivery is the same content, so no second set."""
    async with rig(infra, tmp_path, cabinet_profile("pillport-pp7")) as r:
        await r.cabinet.start()
        await r.wait_for("device.online")
        nurse = r.cabinet.nurses[0]
        first, second = list(r.cabinet.stock.values())[:2]
        lines = [
            {"slot": line.bin, "gtin": line.gtin, "batch": line.lot, "expires": line.expiry.isoformat(), "count": 1}
            for line in (first, second)
        ]
        pick = {"time": "1795422612.250", "op": "pick", "operator": {"badge": nurse}, "lines": lines}
        broken = {**pick, "time": "1795422613.000", "lines": [lines[0], {**lines[1], "count": -1}]}
        stock = r.cabinet.topic("stock")
        for body in (pick, pick, broken):
            await r.client.publish(stock, json.dumps(body), qos=1)
        removed = await r.wait_for("cabinet.item_removed", count=2)
        (letter,) = await r.wait_for_dead_letter()
        assert sorted(e["data"]["bin"] for e in removed) == sorted([first.bin, second.bin])
        assert {e["occurred_at"] for e in removed} == {"2026-11-23T08:30:12.250000Z"}
        assert "item_removed[1] -> cabinet.item_removed: data.quantity" in letter.reason
        assert r.driver.duplicates == 1
        assert len(r.of_type("cabinet.item_removed")) == 2  # the broken message's good line was not recorded
