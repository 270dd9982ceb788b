"""The outbox bound: nothing dropped silently when the edge cannot get rid of its events.

- A Modbus sorter's records stay in its own mailbox while the outbox is full (the cursor does not move), and all
  of them reach the gateway exactly once when the outbox drains.
- A push device's event that does not fit is refused to the dead-letter table with the reason `outbox_full`, and
  counted; telemetry drops oldest first, counted.
- The edge reports its outbox (retained `status`, on connect: it survives the broker having been away); the
  gateway keeps the report and raises `edge.outbox_filling`, warning then critical, cleared when it drains.
"""

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiomqtt
import sqlalchemy as sa

from contract import EdgeStatus, Reading, Subject, Topics
from device_profiles import DeviceInstance, ModbusEndpoint, MqttEndpoint, Site, load_profiles
from edge.agent import EdgeAgent
from edge.observation import Observation
from edge.outbox import Outbox
from edge.settings import EdgeSettings
from edge.uplink import Uplink
from gateway.alerts.alert_store import AlertFilter, list_alerts
from gateway.service import Gateway
from gateway.settings import GatewaySettings
from gateway.storage.reliability_tables import edge_outbox
from gateway.storage.tables import events
from mqttlink.url import BrokerAddress
from simulators.sorter.device import SorterSimulator
from simulators.sorter.tube import Sorted, Tube
from tests.gateway.test_gateway_e2e import FakeEdge
from tests.infra import Infra
from tests.polling import eventually

SITE, EDGE = "general-hospital", "core-lab-edge"
T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def scan(barcode: str) -> Observation:
    return Observation("specimen.scanned", "sorter-1", Subject(kind="specimen", id=barcode), T0)


def event_size(tmp_path: Path) -> int:
    probe = Outbox(tmp_path / "probe.sqlite", site=SITE, edge=EDGE)
    size = len(probe.append([scan("S000001")])[0].model_dump_json().encode())
    probe.close()
    return size


# -- a Modbus mailbox keeps its records ------------------------------------------------------------------------
async def test_a_full_outbox_leaves_the_sorters_records_in_its_mailbox_and_loses_none(
    infra: Infra, gateway_settings: GatewaySettings, sorter: SorterSimulator, tmp_path: Path
) -> None:
    site = Site(
        site=SITE,
        edge=EDGE,
        devices=[
            DeviceInstance(
                id="sorter-1",
                profile="acme-sorter-s100",
                location="core-lab",
                modbus=ModbusEndpoint(host="127.0.0.1", port=sorter.port),
                poll_interval_s=0.05,
            )
        ],
    )
    settings = EdgeSettings(
        mqtt_url=infra.mqtt_url,
        topic_root=infra.topic_root,
        data_dir=tmp_path / "edge",
        max_backoff_s=0.5,
        outbox_max_bytes=6 * event_size(tmp_path),  # a handful of events
        status_every_s=0.5,
    )
    barcodes = [f"S{n:06d}" for n in range(1, 21)]
    for barcode in barcodes:
        await sorter.induct(Tube(barcode, Sorted(lane=2, rack=1, position=1), transit_s=0))
    async with EdgeAgent(settings, site, load_profiles()) as agent:  # no gateway yet: nothing is acknowledged
        driver = agent.devices[0]
        await eventually(lambda: _value(driver.held_back), lambda n: n > 0, what="the sorter held back")
        assert agent.outbox.depth() >= 5  # as many as fit
        assert agent.outbox.bytes <= settings.outbox_max_bytes
        assert len(sorter.mailbox) >= len(barcodes) * 2 - 6  # a scan and a sort per tube, most still on the device
        async with Gateway(gateway_settings.model_copy(update={"ingest_batch_wait_ms": 5})) as gateway:

            async def stored() -> list[str]:
                async with gateway.store.db.engine.connect() as connection:
                    query = sa.select(events.c.subject_id, events.c.type).where(events.c.subject_kind == "specimen")
                    return [f"{r.subject_id}/{r.type}" for r in await connection.execute(query)]

            found = await eventually(stored, lambda rows: len(rows) >= 2 * len(barcodes), what="every record")
            await asyncio.sleep(0.5)  # anything extra would be a duplicate: give it the chance to show
            found = await stored()
        assert sorted(found) == sorted(f"{b}/{t}" for b in barcodes for t in ("specimen.scanned", "specimen.sorted"))
        assert len(sorter.mailbox) == 0
        assert agent.outbox.refused == 0  # nothing from the sorter was refused: it waited on the device


async def _value(value: int) -> int:
    return value


# -- push devices and telemetry --------------------------------------------------------------------------------
async def test_a_push_devices_event_that_does_not_fit_is_dead_lettered_and_counted(tmp_path: Path) -> None:
    from edge.device_context import DeviceContext

    settings = EdgeSettings(data_dir=tmp_path, outbox_max_bytes=event_size(tmp_path) + 10, telemetry_buffer=2)
    outbox = Outbox(tmp_path / "edge.sqlite", site=SITE, edge=EDGE, max_bytes=settings.outbox_max_bytes)
    uplink = Uplink(settings, Topics(SITE, EDGE), outbox)
    profiles = load_profiles()
    cabinet = profiles["medvault-mv40"]
    device = DeviceInstance(id="cabinet-1", profile=cabinet.name, location="ward-3a", mqtt=MqttEndpoint(topic_id="c1"))
    ctx = DeviceContext(device, cabinet, outbox, uplink, settings)
    await ctx.emit([scan("S000001")])
    await ctx.emit([scan("S000002")], cursor="m-2")  # does not fit
    assert outbox.depth() == 1
    assert outbox.refused == 1
    [(_, letter)] = outbox.deadletters(10)
    body = json.loads(letter)
    assert body["reason"].startswith("outbox_full: ")
    assert json.loads(body["payload"])["subject"] == {"kind": "specimen", "id": "S000002"}
    assert outbox.cursor("cabinet-1") == "m-2"  # the message is accounted for (dead-lettered), not retried

    for n in range(5):
        ctx.telemetry([Reading(metric="fridge_temperature", value=4.0 + n, unit="Cel")])
    assert uplink.telemetry_dropped == 3  # a buffer of 2: the three oldest went
    status = await uplink.status()
    assert (status.refused, status.telemetry_dropped, status.depth, status.level) == (1, 3, 1, 95)


# -- the report and the alert ----------------------------------------------------------------------------------
async def test_the_report_is_published_retained_on_connect_after_filling_while_the_broker_was_away(
    infra: Infra, tmp_path: Path
) -> None:
    size = event_size(tmp_path)
    settings = EdgeSettings(
        mqtt_url=infra.mqtt_url, topic_root=infra.topic_root, data_dir=tmp_path, outbox_max_bytes=10 * size
    )
    outbox = Outbox(tmp_path / "edge.sqlite", site=SITE, edge=EDGE, max_bytes=settings.outbox_max_bytes)
    outbox.append([scan(f"S{n:06d}") for n in range(9)])  # filled while offline: 90 %
    topics = Topics(SITE, EDGE, infra.topic_root)
    uplink = Uplink(settings, topics, outbox)
    task = asyncio.create_task(uplink.run())
    try:
        await asyncio.wait_for(uplink.connected.wait(), 30)
        await eventually(lambda: _value(uplink.status_published), what="a report")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    broker = BrokerAddress.parse(infra.mqtt_url)
    async with aiomqtt.Client(**broker.client_kwargs()) as reader:  # a later subscriber gets the retained report
        await reader.subscribe(topics.status, qos=1)
        async with asyncio.timeout(30):
            message = await anext(aiter(reader.messages))
    assert isinstance(message.payload, bytes)
    report = EdgeStatus.model_validate_json(message.payload)
    assert (report.depth, report.level, report.max_bytes, report.epoch) == (9, 80, 10 * size, outbox.epoch)
    assert report.oldest_created_at is not None


def report(level_bytes: int, at: datetime, refused: int = 0) -> EdgeStatus:
    return EdgeStatus(
        site=SITE,
        edge=EDGE,
        at=at,
        epoch="ep-test",
        next_seq=1000,
        depth=level_bytes // 100,
        bytes=level_bytes,
        max_bytes=10_000,
        level=0,
        oldest_created_at=at - timedelta(hours=3),
        refused=refused,
    )


async def test_the_gateway_records_reports_and_alerts_warning_then_critical_then_clears(
    infra: Infra, gateway: Gateway
) -> None:
    async with FakeEdge(infra, store=gateway.store).connected() as edge:

        async def recorded() -> int | None:
            async with gateway.store.db.engine.connect() as connection:
                return (await connection.execute(sa.select(edge_outbox.c.bytes))).scalar_one_or_none()

        async def send(status: EdgeStatus) -> None:
            taken = gateway.ingest.counters.statuses
            await edge.publish(status.model_dump_json().encode(), edge.topics.status, retain=True)
            await eventually(lambda: _value(gateway.ingest.counters.statuses), lambda n: n > taken, what="the report")

        async def open_alert() -> list:  # type: ignore[type-arg]
            async with gateway.store.db.engine.connect() as connection:
                rows, _ = await list_alerts(
                    connection, AlertFilter(kind="edge.outbox_filling", state="open"), limit=10, offset=0
                )
            return rows

        now = datetime.now(UTC)
        await send(report(5_000, now))
        await gateway.alerts.evaluate()
        assert await open_alert() == []
        await send(report(8_500, now + timedelta(seconds=1)))
        await gateway.alerts.evaluate()
        [warning] = await open_alert()
        assert (warning.severity, warning.subject_kind, warning.subject_id) == ("warning", "edge", EDGE)
        assert warning.details["depth"] == 85
        assert warning.details["oldest_age_s"] == 3 * 3600
        await send(report(9_990, now + timedelta(seconds=2), refused=4))
        await gateway.alerts.evaluate()
        [critical] = await open_alert()
        assert (critical.id, critical.severity) == (warning.id, "critical")  # the same alert, escalated
        assert "4 event(s) refused" in critical.message
        await send(report(9_000, now - timedelta(minutes=1)))  # an old report arriving late changes nothing
        assert await recorded() == 9_990
        await send(report(100, now + timedelta(seconds=3)))
        assert (await gateway.alerts.evaluate()).cleared == [warning.id]
