"""A Mosquitto of the benchmark's own: the installed binary on a free loopback port, with the broker settings
wardlink's generated config sets (`BROKER_TUNING`), anonymous and without TLS like the machine's own broker.

The machine's Mosquitto on 1883 keeps Debian's configuration, which leaves Nagle's algorithm on: every hop then
waits up to 40 ms for a delayed TCP ACK. The benchmark measures wardlink on a broker configured as it deploys one,
and shows one latency row on the installed broker beside it.
"""

import asyncio
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from wardlink.net import free_port, port_open
from wardlink.security.mosquitto_files import BROKER_TUNING

BROKER_NOTE = f"of the benchmark's own, with {', '.join(BROKER_TUNING)} (as wardlink's generated config)"


def mosquitto_binary() -> str | None:
    """The installed Mosquitto (on PATH, or Debian's /usr/sbin, which a non-root PATH lacks); None if there is none."""
    return shutil.which("mosquitto") or next((p for p in ("/usr/sbin/mosquitto",) if Path(p).exists()), None)


@asynccontextmanager
async def tuned_mosquitto() -> AsyncIterator[str | None]:
    """The broker's URL while in the block; None where Mosquitto is not installed."""
    binary = mosquitto_binary()
    if binary is None:
        yield None
        return
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        conf = Path(folder) / "mosquitto.conf"
        lines = [f"listener {port} 127.0.0.1", "allow_anonymous true", "persistence false", *BROKER_TUNING]
        conf.write_text("\n".join(lines) + "\n")
        log = Path(folder) / "mosquitto.log"
        with log.open("wb") as sink:
            process = subprocess.Popen([binary, "-c", str(conf)], stdout=sink, stderr=subprocess.STDOUT)  # noqa: ASYNC220, S603
        try:
            for _ in range(200):
                if port_open("127.0.0.1", port):
                    break
                if process.poll() is not None:
                    raise RuntimeError(f"mosquitto exited with {process.returncode}: {log.read_text()}")
                await asyncio.sleep(0.05)
            else:
                raise RuntimeError(f"mosquitto did not listen on 127.0.0.1:{port} within 10 s: {log.read_text()}")
            yield f"mqtt://127.0.0.1:{port}"
        finally:
            process.terminate()
            await asyncio.to_thread(process.wait, 10)
