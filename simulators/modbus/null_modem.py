"""Two pseudo-terminals wired to each other: a serial cable in software, so an RTU device needs no hardware.

`async with NullModem() as cable:` gives `cable.device_port` (a simulator opens it) and `cable.edge_port` (the
edge's site file names it), both real tty paths that pyserial opens like /dev/ttyUSB0. Bytes written to one come
out of the other, as on an RS-485 line with one master and its devices. Uses `os.openpty`, so nothing needs
installing (socat would do the same as a separate process).
"""

import asyncio
import contextlib
import os
import tty
from types import TracebackType
from typing import Self


class NullModem:
    def __init__(self) -> None:
        self._pairs: list[tuple[int, int]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self.device_port = ""
        self.edge_port = ""

    async def __aenter__(self) -> Self:
        self._loop = asyncio.get_running_loop()
        for _ in range(2):
            controller, terminal = os.openpty()
            tty.setraw(terminal)  # no echo, no line editing: the bytes pass as they are
            os.set_blocking(controller, False)
            self._pairs.append((controller, terminal))
        (device_side, device_tty), (edge_side, edge_tty) = self._pairs
        self.device_port, self.edge_port = os.ttyname(device_tty), os.ttyname(edge_tty)
        # The terminal ends stay open here too, so an end that a client closes and opens again never hangs up.
        self._loop.add_reader(device_side, self._relay, device_side, edge_side)
        self._loop.add_reader(edge_side, self._relay, edge_side, device_side)
        return self

    @staticmethod
    def _relay(source: int, target: int) -> None:
        with contextlib.suppress(BlockingIOError, OSError):  # nobody on the other end yet: the bytes are lost
            data = os.read(source, 4096)
            os.write(target, data)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._loop is not None
        for controller, terminal in self._pairs:
            self._loop.remove_reader(controller)
            os.close(controller)
            os.close(terminal)
        self._pairs.clear()
