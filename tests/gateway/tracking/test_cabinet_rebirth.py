"""A cabinet's full inventory on every online transition, asked for by the edge (a Sparkplug-style rebirth).

The cabinets here report nothing unasked (`inventory_every_s=None`) unless a test says otherwise, so only the
edge's request can produce a `cabinet.inventory_reported`. Real sockets: the MV-40 simulator, the edge, and the
embedded amqtt or the real Mosquitto; the test watches what the edge publishes.
"""

import asyncio
import logging
from pathlib import Path

import pytest

from contract import Command
from device_profiles.mqtt_json_mapping import MappingError
from edge.drivers.mqtt_json import REBIRTH_GRACE_S
from tests.cabinet_rig import Rig, mv40, rig
from tests.infra import Infra

SETTLE_S = REBIRTH_GRACE_S + 1.5
"""Long enough for a request the edge was going to make to have been made and answered."""


def inventory_commands(r: Rig) -> list[dict[str, object]]:
    return [body for body in r.cabinet.commands if body.get("cmd") == "INVENTORY"]


async def test_a_cabinet_online_before_the_edge_started_is_asked_once_for_its_full_inventory(
    infra: Infra, tmp_path: Path
) -> None:
    async with rig(infra, tmp_path, cabinet_first=True, telemetry_interval_s=0.5) as r:
        (report,) = await r.wait_for("cabinet.inventory_reported")
        bins = {item["bin"]: item["quantity"] for item in report["data"]["bins"]}
        assert bins == {bin_id: line.quantity for bin_id, line in r.cabinet.stock.items()}

        # Every further message (fridge readings twice a second, a nurse's visit) keeps it online: no new request.
        nurse = r.cabinet.nurses[0]
        await r.cabinet.open_door(nurse)
        await r.cabinet.close_door()
        await r.wait_for("cabinet.door_closed")
        await asyncio.sleep(SETTLE_S)
        assert len(r.of_type("cabinet.inventory_reported")) == 1
        assert len(inventory_commands(r)) == r.driver.inventory_requests == 1
        assert r.dead_letters == []


async def test_each_return_online_asks_again(infra: Infra, tmp_path: Path) -> None:
    async with rig(infra, tmp_path, cabinet_first=True) as r:
        await r.wait_for("cabinet.inventory_reported")
        await r.cabinet.power_loss()
        await r.wait_for("device.offline")
        await r.cabinet.reboot()
        await r.wait_for("device.online", count=2)
        await r.wait_for("cabinet.inventory_reported", count=2)
        assert len(inventory_commands(r)) == 2


async def test_a_cabinet_that_reports_as_it_connects_is_not_asked_again(infra: Infra, tmp_path: Path) -> None:
    # It reports on connect, then not again within the test (a day later).
    async with rig(infra, tmp_path, inventory_every_s=24 * 3600.0) as r:
        await r.cabinet.start()
        await r.wait_for("cabinet.inventory_reported")
        await asyncio.sleep(SETTLE_S)
        assert len(r.of_type("cabinet.inventory_reported")) == 1
        assert inventory_commands(r) == []
        assert r.driver.inventory_requests == 0


async def test_a_profile_without_an_inventory_command_is_never_asked(infra: Infra, tmp_path: Path) -> None:
    commands = {name: c for name, c in mv40().commands.items() if name != "request_inventory"}
    async with rig(infra, tmp_path, mv40(commands=commands), cabinet_first=True) as r:
        await r.wait_for("device.online")
        await asyncio.sleep(SETTLE_S)
        await r.cabinet.open_door(r.cabinet.nurses[0])
        await r.wait_for("cabinet.door_opened")
        assert r.cabinet.commands == []
        assert r.of_type("cabinet.inventory_reported") == []


async def test_a_failed_request_is_logged_once_and_the_driver_goes_on(
    infra: Infra, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG, logger="edge.drivers.mqtt_json")
    async with rig(infra, tmp_path) as r:
        render = r.driver.mapper.render

        def broken(command: Command) -> tuple[str, bytes]:
            if command.type == "request_inventory":
                raise MappingError("the vendor body cannot be built")
            return render(command)

        monkeypatch.setattr(r.driver.mapper, "render", broken)

        def failures(level: int) -> list[logging.LogRecord]:
            return [
                rec for rec in caplog.records if rec.levelno == level and "asking for the inventory" in rec.getMessage()
            ]

        # Two online transitions, both requests fail: one ERROR, the second quietly at DEBUG.
        await r.cabinet.start()
        await r.wait_for("device.online")
        await asyncio.sleep(SETTLE_S)
        await r.cabinet.power_loss()
        await r.wait_for("device.offline")
        await r.cabinet.reboot()
        await r.wait_for("device.online", count=2)
        await asyncio.sleep(SETTLE_S)
        assert len(failures(logging.ERROR)) == 1
        assert len(failures(logging.DEBUG)) == 1
        assert "the vendor body cannot be built" in failures(logging.ERROR)[0].getMessage()

        # The driver still maps the cabinet's messages and takes commands.
        await r.cabinet.open_door(r.cabinet.nurses[0])
        await r.wait_for("cabinet.door_opened")
        await r.command({"type": "unlock_cabinet", "badge": r.cabinet.nurses[1]})
        await r.wait_for("cabinet.unlock_replied")
        assert [body["cmd"] for body in r.cabinet.commands] == ["UNLOCK"]

        # Once the request can be sent again, the next online transition asks, and the recovery is logged.
        monkeypatch.setattr(r.driver.mapper, "render", render)
        await r.cabinet.power_loss()
        await r.wait_for("device.offline", count=2)
        await r.cabinet.reboot()
        await r.wait_for("cabinet.inventory_reported")
        assert len(inventory_commands(r)) == 1
        assert any("recovered" in rec.getMessage() for rec in caplog.records if rec.levelno == logging.INFO)
