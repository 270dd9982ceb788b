"""Deliveries by a VDA 5050 vehicle this project did not write, driven by the real edge over a real broker.

coatyio's vda-5050-lib virtual AGV (Node.js, VDA 5050 2.0.0) stands at the charger of the hospital map; the
edge is its master control, configured from a site file and the test profile in data/profiles (2.0.0 there,
or the profile's default 2.1.0 overridden to 2.0.0 by the site file's device instance). Deliveries are
dispatched as the gateway's `DispatchDelivery` commands and must end handed over: picked up on the start node
with the vehicle's own `pick`, handed over with its `drop`. A schema spy on the broker validates every message
either side sends against the official schema of the version in its header. Runs on the embedded broker and
on the real Mosquitto (with PostgreSQL behind the gateway).
"""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
import sqlalchemy as sa
import yaml

from contract import DeadLetter, Topics
from contract.command import DispatchDelivery
from contract.topics import deadletter_topic
from device_profiles import load_site
from device_profiles.maps import load_map
from device_profiles.vda5050 import Vda5050Profile
from edge.agent import EdgeAgent
from edge.settings import EdgeSettings
from gateway.service import Gateway
from gateway.settings import GatewaySettings
from gateway.storage.tables import events
from mqttlink.url import BrokerAddress
from tests.infra import Infra
from tests.interop.schema_spy import SchemaSpy, schema_spy
from tests.interop.third_party_vehicle import (
    Implementation,
    ThirdPartyVehicle,
    VdaVersion,
    VehicleConfig,
    initial_position,
)
from tests.polling import eventually

PROFILES = Path(__file__).resolve().parent / "data" / "profiles"
SITE, EDGE, ROBOT = "general-hospital", "interop-edge", "vagv-1"
Events = list[tuple[str, dict[str, Any]]]


@dataclass
class Interop:
    edge: EdgeAgent
    gateway: Gateway
    spy: SchemaSpy
    infra: Infra
    serial: str
    dead_letters: list[DeadLetter]
    setting: "Setting"
    profile: Vda5050Profile

    async def dispatch(self, delivery: str, destination: str) -> None:
        command = DispatchDelivery(
            id=uuid.uuid4(),
            requested_by="pharmacist-7",
            requested_at=datetime.now(UTC),
            delivery=delivery,
            destination=destination,
            drawer="onboard",
            release_pin=None,
        )
        topic = Topics(SITE, EDGE, self.infra.topic_root).command(ROBOT)
        broker = BrokerAddress.parse(self.infra.mqtt_url)
        async with aiomqtt.Client(**broker.client_kwargs(), protocol=aiomqtt.ProtocolVersion.V311) as client:
            await client.publish(topic, command.model_dump_json().encode(), qos=1)

    async def stored(self, subject_kind: str, subject_id: str) -> Events:
        """The subject's events in the gateway database, in the order the edge numbered them."""
        assert self.gateway.store is not None
        query = (
            sa.select(events.c.type, events.c.body)
            .where(events.c.subject_kind == subject_kind, events.c.subject_id == subject_id)
            .order_by(events.c.seq)
        )
        async with self.gateway.store.db.engine.connect() as connection:
            return [(row.type, row.body["data"]) for row in await connection.execute(query)]

    async def delivered(self, delivery: str) -> Events:
        """The delivery's events once it is handed over (or has failed: the assertion then shows why)."""

        def ended(stored: Events) -> bool:
            return any(kind in ("delivery.handed_over", "delivery.failed") for kind, _ in stored)

        try:
            return await eventually(lambda: self.stored("delivery", delivery), ended, what=f"{delivery} to end")
        except AssertionError as exc:
            states = self.sent("state")
            raise AssertionError(f"{exc}\nthe vehicle's last state: {states[-1] if states else None}") from None

    def sent(self, channel: str) -> list[dict[str, Any]]:
        return [body for body in self.spy.messages(channel, self.serial) if isinstance(body, dict)]


@asynccontextmanager
async def dead_letters(infra: Infra) -> AsyncIterator[list[DeadLetter]]:
    """What the edge or gateway set aside while the body runs (a vehicle's message they could not use)."""
    letters: list[DeadLetter] = []
    broker = BrokerAddress.parse(infra.mqtt_url)
    async with aiomqtt.Client(**broker.client_kwargs(), protocol=aiomqtt.ProtocolVersion.V311) as client:
        await client.subscribe(deadletter_topic(infra.topic_root), qos=1)

        async def listen() -> None:
            async for message in client.messages:
                letters.append(DeadLetter.model_validate_json(message.payload))  # type: ignore[arg-type]

        listener = asyncio.create_task(listen())
        try:
            yield letters
        finally:
            listener.cancel()
            with suppress(asyncio.CancelledError):
                await listener


@dataclass(frozen=True)
class Setting:
    """One vehicle and how the edge is configured for it."""

    profile: str
    implementation: Implementation
    speaks: VdaVersion
    profile_edits: dict[str, str] = field(default_factory=dict)
    """Changes (old text: new text) to the committed profile."""
    site_vda_version: str | None = None
    """The site file's `vda_version` for the device, if any."""
    publishes_factsheet: bool = True


LIB, SDK = "vda5050-lib-virtual-agv", "vda5050-sdk-fake-agv"
LIB_DROP = "handover:\n  action: drop\n  parameters: {stationType: floor, loadType: EPAL}\n"
SETTINGS = {
    "vda-5050-lib, profile says 2.0.0": Setting(LIB, "vda-5050-lib", "2.0.0"),
    "vda-5050-lib, site file overrides the profile's default 2.1.0 with 2.0.0": Setting(
        LIB, "vda-5050-lib", "2.0.0", {'vda_version: "2.0.0"\n': ""}, site_vda_version="2.0.0"
    ),
    "vda5050-sdk, 2.1.0 (the profile's default)": Setting(SDK, "vda5050-sdk", "2.1.0", publishes_factsheet=False),
    "vda-5050-lib, hand-over by waitForTrigger, which it lacks": Setting(
        LIB, "vda-5050-lib", "2.0.0", {LIB_DROP: "handover:\n  action: waitForTrigger\n"}
    ),
}
DELIVERING = list(SETTINGS)[:3]


def _site_file(tmp_path: Path, serial: str, setting: Setting) -> Path:
    device: dict[str, Any] = {
        "id": ROBOT,
        "profile": setting.profile,
        "location": "pharmacy",
        "mqtt": {"topic_id": serial},
        "poll_interval_s": 0.2,
    }
    if setting.site_vda_version is not None:
        device["vda_version"] = setting.site_vda_version
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump({"site": SITE, "edge": EDGE, "devices": [device]}), encoding="utf-8")
    return path


def _profiles_folder(tmp_path: Path, setting: Setting) -> Path:
    """The committed test profiles, the setting's one with its edits made."""
    folder = tmp_path / "profiles"
    folder.mkdir()
    for committed in PROFILES.glob("*.yaml"):
        text = committed.read_text(encoding="utf-8")
        if committed.stem == setting.profile:
            for old, new in setting.profile_edits.items():
                assert old in text, old
                text = text.replace(old, new)
        (folder / committed.name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(params=DELIVERING)
async def interop(
    request: pytest.FixtureRequest, infra: Infra, gateway_settings: GatewaySettings, tmp_path: Path
) -> AsyncIterator[Interop]:
    setting = SETTINGS[request.param]
    serial = f"VAGV-{uuid.uuid4().hex[:10]}"
    site_file = _site_file(tmp_path, serial, setting)
    profiles_dir = _profiles_folder(tmp_path, setting)
    site, profiles = load_site(site_file, profiles_dir)
    settings = EdgeSettings(
        mqtt_url=infra.mqtt_url,
        topic_root=infra.topic_root,
        data_dir=tmp_path / "edge",
        site_file=site_file,
        profiles_dir=profiles_dir,
    )
    graph = load_map("general-hospital")
    vehicle = VehicleConfig(
        infra.mqtt_url,
        profiles[setting.profile].manufacturer,
        serial,
        setting.speaks,
        initial_position(graph, "charger-0"),
        implementation=setting.implementation,
    )
    async with (
        schema_spy(infra.mqtt_url, {serial}) as spy,
        dead_letters(infra) as letters,
        Gateway(gateway_settings) as gateway,
        ThirdPartyVehicle(vehicle, tmp_path / "vehicle.log") as running,
        EdgeAgent(settings, site, profiles) as edge,
    ):

        async def online() -> bool | None:
            return edge.devices[0].ctx.online

        await eventually(online, lambda value: value is True, what="the vehicle online at the edge")
        profile = profiles[setting.profile]
        assert isinstance(profile, Vda5050Profile)
        yield Interop(edge, gateway, spy, infra, serial, letters, setting, profile)
        await running.stop()  # its OFFLINE is a message too, and must be valid

        def offline() -> bool:
            return any(c.get("connectionState") == "OFFLINE" for c in spy.messages("connection", serial))

        await spy.wait_for("the vehicle's OFFLINE", offline)
        assert spy.violations == [], spy.report()
        assert [letter.reason for letter in letters] == []
    broker = BrokerAddress.parse(infra.mqtt_url)
    async with aiomqtt.Client(**broker.client_kwargs(), protocol=aiomqtt.ProtocolVersion.V311) as client:
        for channel in ("connection", "factsheet"):  # leave the shared broker as it was
            await client.publish(f"uagv/v2/{vehicle.manufacturer}/{serial}/{channel}", b"", qos=1, retain=True)


async def test_deliveries_are_picked_up_driven_and_handed_over_by_the_third_party_vehicle(interop: Interop) -> None:
    await interop.dispatch("D-20261206-0001", "ed")
    first = await interop.delivered("D-20261206-0001")
    order_id = first[0][1]["order_id"]
    assert [kind for kind, _ in first] == [
        "delivery.accepted",
        "delivery.departed",
        "delivery.arrived",
        "delivery.handed_over",
    ], first
    assert first[0][1] == {"robot": ROBOT, "order_id": order_id, "destination": "ed", "drawer": "onboard"}
    assert first[1][1] == {"robot": ROBOT, "node": "charger-0"}
    assert first[2][1] == {"robot": ROBOT, "node": "ed"}
    assert first[3][1]["robot"] == ROBOT

    # A second order from where the first ended: the vehicle picks up again at the ED, drops at the pharmacy.
    await interop.dispatch("D-20261206-0002", "pharmacy")
    second = await interop.delivered("D-20261206-0002")
    assert [(kind, data.get("node")) for kind, data in second] == [
        ("delivery.accepted", None),
        ("delivery.departed", "ed"),
        ("delivery.arrived", "pharmacy"),
        ("delivery.handed_over", None),
    ], second

    orders = interop.sent("order")
    assert [o["orderId"] for o in orders] == [order_id, second[0][1]["order_id"]]
    profile = interop.profile
    for order in orders:
        start, destination = order["nodes"][0], order["nodes"][-1]
        assert [a["actionType"] for a in start["actions"]] == ([profile.pickup.action] if profile.pickup else [])
        [handover] = destination["actions"]
        assert handover["actionType"] == profile.handover.action == "drop"
        parameters = {p["key"]: p["value"] for p in handover["actionParameters"]}
        assert parameters == {**profile.handover.parameters, "loadId": parameters["loadId"]}

    states = interop.sent("state")
    assert states[-1].get("loads", []) == []  # every load picked up was handed over
    assert [e for s in states for e in s["errors"]] == []  # the vehicle refused nothing master control sent
    assert interop.spy.violations == [], interop.spy.report()
    assert [letter.reason for letter in interop.dead_letters] == []  # nothing either side sent was set aside


async def test_master_control_asks_for_state_and_factsheet_and_both_sides_speak_the_vehicles_version(
    interop: Interop,
) -> None:
    setting = interop.setting

    def asked() -> bool:
        return {"stateRequest", "factsheetRequest"} <= _instant_action_types(interop.sent("instantActions"))

    await interop.spy.wait_for("master control to ask for state and factsheet", asked)
    if setting.publishes_factsheet:
        await interop.spy.wait_for("the vehicle's factsheet", lambda: interop.sent("factsheet") != [])
    await interop.dispatch("D-20261206-0003", "corridor-0a")
    assert [kind for kind, _ in await interop.delivered("D-20261206-0003")][-1] == "delivery.handed_over"

    versions = {(s.channel, s.body.get("version")) for s in interop.spy.seen if isinstance(s.body, dict)}
    assert {version for _, version in versions} == {setting.speaks}, versions
    channels = {"order", "instantActions", "state", "connection"} | (
        {"factsheet"} if setting.publishes_factsheet else set()
    )
    assert {channel for channel, _ in versions} >= channels
    assert interop.spy.violations == [], interop.spy.report()
    assert [letter.reason for letter in interop.dead_letters] == []  # nothing either side sent was set aside


def _instant_action_types(messages: list[dict[str, Any]]) -> set[str]:
    """Action types in instantActions messages, under either key (2.0's vda-5050-lib reads `instantActions`)."""
    return {a["actionType"] for m in messages for key in ("actions", "instantActions") for a in m.get(key, [])}


@pytest.mark.parametrize("interop", ["vda-5050-lib, hand-over by waitForTrigger, which it lacks"], indirect=True)
async def test_a_delivery_the_factsheet_rules_out_is_refused_without_an_order(interop: Interop) -> None:
    async def factsheet_known() -> object:
        return interop.edge.devices[0].master.factsheet  # type: ignore[attr-defined]

    await eventually(factsheet_known, lambda factsheet: factsheet is not None, what="the factsheet at the edge")
    await interop.dispatch("D-20261206-0004", "ed")
    stored = await interop.delivered("D-20261206-0004")
    assert [kind for kind, _ in stored] == ["delivery.failed"], stored
    reason = stored[0][1]["reason"]
    assert "cannot do 'waitForTrigger' on a node" in reason
    assert "drop" in reason  # the node actions it does list
    assert interop.sent("order") == []
    assert interop.spy.violations == [], interop.spy.report()
    assert [letter.reason for letter in interop.dead_letters] == []  # nothing either side sent was set aside
