"""What a vendor-JSON device's message keys are kept for: the keys of messages that made events travel with them
in the device's cursor (a restart knows them); telemetry keys stay in memory, so readings every 30 s cannot push
an event's key out of the cursor and let a replayed event be recorded twice."""

import json
from datetime import UTC, datetime
from pathlib import Path

from contract import Topics
from device_profiles import DeviceInstance, MqttEndpoint, load_profiles
from edge.device_context import DeviceContext
from edge.drivers.mqtt_json import CURSOR_IDS, MqttJsonDevice, RecentIds
from edge.outbox import Outbox
from edge.settings import EdgeSettings
from edge.uplink import Uplink

KEY = "MV40-0001"


def _cabinet(tmp_path: Path) -> MqttJsonDevice:
    settings = EdgeSettings(data_dir=tmp_path)
    outbox = Outbox(tmp_path / "edge.sqlite", site="s", edge="e", max_bytes=settings.outbox_max_bytes)
    device = DeviceInstance(
        id="cabinet-1", profile="medvault-mv40", location="ward-3a", mqtt=MqttEndpoint(topic_id=KEY)
    )
    ctx = DeviceContext(
        device, load_profiles()["medvault-mv40"], outbox, Uplink(settings, Topics("s", "e"), outbox), settings
    )
    return MqttJsonDevice(ctx)


def _now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)


def _pick(message_id: str) -> bytes:
    item = {"gtin": "04012345678901", "lot": "L1", "exp": "2027-01-31"}
    txn = {"binId": "A1", "qty": 1, "orderRef": "o-1", "item": item}
    body = {"msgId": message_id, "ts": _now_ms(), "evt": "ITEM_TAKEN", "user": {"badgeId": "rn-1"}, "txn": txn}
    return json.dumps(body).encode()


def _reading(message_id: str) -> bytes:
    return json.dumps({"msgId": message_id, "ts": _now_ms(), "fridge": {"tempC": 4.5, "setpointC": 5}}).encode()


async def test_readings_do_not_push_an_events_key_out_of_the_cursor(tmp_path: Path) -> None:
    cabinet = _cabinet(tmp_path)
    await cabinet.handle(f"medvault/v2/{KEY}/evt", _pick("pick-1"))
    for n in range(CURSOR_IDS + 20):  # 80 fridge readings, 30 s apart on a real cabinet: 40 minutes
        await cabinet.handle(f"medvault/v2/{KEY}/tele", _reading(f"tele-{n}"))
    await cabinet.handle(f"medvault/v2/{KEY}/evt", _pick("pick-2"))
    saved = RecentIds.from_cursor(cabinet.seen.cursor())
    assert saved == ["pick-1", "pick-2"]


async def test_a_repeated_reading_is_still_taken_once(tmp_path: Path) -> None:
    cabinet = _cabinet(tmp_path)
    for _ in range(2):
        await cabinet.handle(f"medvault/v2/{KEY}/tele", _reading("tele-1"))
    assert cabinet.duplicates == 1
