"""Edge kill -9 mid-stream: the real `wardlink edge` process is killed while the sorter feeds it, restarted on the
same outbox, and every record the sorter produced is stored exactly once (no loss, no second event for one record).
"""

import asyncio
import os
import signal
import sys
from pathlib import Path

import sqlalchemy as sa

from gateway.service import Gateway
from gateway.settings import GatewaySettings
from gateway.storage.tables import events
from simulators.sorter.device import SorterSimulator
from simulators.sorter.tube import Rejected, Sorted, Tube
from tests.infra import Infra
from tests.polling import eventually

WARDLINK = Path(sys.executable).with_name("wardlink")
SITE, EDGE = "general-hospital", "kill-test-edge"


async def start_edge(infra: Infra, site_file: Path, data_dir: Path) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARDLINK_")}
    env |= {
        "WARDLINK_MQTT_URL": infra.mqtt_url,
        "WARDLINK_TOPIC_ROOT": infra.topic_root,
        "WARDLINK_DATA_DIR": str(data_dir),
        "WARDLINK_MAX_BACKOFF_S": "0.5",
        "WARDLINK_RESEND_AFTER_S": "2",
    }
    return await asyncio.create_subprocess_exec(
        str(WARDLINK),
        "edge",
        "--site",
        str(site_file),
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


def tube(n: int) -> Tube:
    outcome = Rejected(reason="unknown_order") if n % 7 == 0 else Sorted(lane=2, rack=1, position=n % 50 + 1)
    return Tube(f"S{n:06d}", outcome, transit_s=0)


async def test_an_edge_killed_mid_stream_and_restarted_stores_every_record_once(
    infra: Infra, gateway_settings: GatewaySettings, sorter: SorterSimulator, tmp_path: Path
) -> None:
    site_file = tmp_path / "site.yaml"
    site_file.write_text(
        f"site: {SITE}\nedge: {EDGE}\ndevices:\n"
        f"  - {{id: sorter-1, profile: acme-sorter-s100, location: core-lab,"
        f" modbus: {{host: 127.0.0.1, port: {sorter.port}, unit: 1}}, poll_interval_s: 0.02}}\n"
    )
    data_dir = tmp_path / "edge"
    async with Gateway(gateway_settings.model_copy(update={"ingest_batch_wait_ms": 5})) as gateway:

        async def specimen_events() -> list[tuple[str, str]]:
            async with gateway.store.db.engine.connect() as connection:
                query = sa.select(events.c.subject_id, events.c.type).where(events.c.subject_kind == "specimen")
                return [(r.subject_id, r.type) for r in await connection.execute(query)]

        feeding = asyncio.create_task(_feed(sorter, range(1, 151)))
        edge = await start_edge(infra, site_file, data_dir)
        try:
            await eventually(specimen_events, lambda found: len(found) >= 40, what="the stream under way")
            edge.send_signal(signal.SIGKILL)  # mid-stream: records read, some published, some acked
            await edge.wait()
            assert edge.returncode == -signal.SIGKILL
            await asyncio.sleep(0.3)
            edge = await start_edge(infra, site_file, data_dir)
            await feeding
            expected = {(f"S{n:06d}", "specimen.scanned") for n in range(1, 151)}
            expected |= {(f"S{n:06d}", "specimen.rejected" if n % 7 == 0 else "specimen.sorted") for n in range(1, 151)}
            found = await eventually(specimen_events, lambda rows: len(rows) >= len(expected), what="every record")
            await asyncio.sleep(3)  # past resend_after_s: a duplicate would have shown by now
            found = await specimen_events()
        finally:
            if edge.returncode is None:
                edge.send_signal(signal.SIGTERM)
                await asyncio.wait_for(edge.wait(), 30)
            feeding.cancel()
    assert len(found) == len(expected)
    assert set(found) == expected
    assert len(sorter.mailbox) == 0


async def _feed(sorter: SorterSimulator, numbers: range) -> None:
    for n in numbers:
        await sorter.induct(tube(n))
        await asyncio.sleep(0.005)
