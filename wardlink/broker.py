"""The embedded MQTT broker (amqtt) for zero-set-up runs; development and demo only, Mosquitto in production.

It binds loopback only. Open (the default), any process on the machine may connect and publish as any edge or
device; `secure` gives it the secure profile's accounts, passwords and topic grants (`wardlink.broker_secure`).
"""

import ipaddress
import logging
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from wardlink.amqtt_broker import PatchedBroker
from wardlink.broker_secure import SecureBroker, plugins_config
from wardlink.security.accounts import Account

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SecureAccounts:
    """The secure profile for the embedded broker: its accounts and Mosquitto's password file for them."""

    accounts: list[Account]
    password_file: Path


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class EmbeddedBroker:
    """`async with EmbeddedBroker() as broker:` then connect to `broker.url` (loopback, a free port by default)."""

    def __init__(
        self, host: str = "127.0.0.1", port: int | None = None, *, secure: SecureAccounts | None = None
    ) -> None:
        if not is_loopback(host):
            raise ValueError(
                f"the embedded broker binds loopback only, not {host!r}: it is for one machine's demo and tests; "
                "run Mosquitto with `wardlink security init` for a network"
            )
        self.host = host
        self.port = port
        """None until the first start: the OS then picks a free port as the broker binds (no other process can take
        it between choosing and binding), and a restart binds that same port again."""
        self.secure = secure
        self._broker: PatchedBroker | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("the embedded broker has no port until it starts")
        return f"mqtt://{self.host}:{self.port}"

    async def start(self) -> None:
        listeners = {"default": {"type": "tcp", "bind": f"{self.host}:{self.port or 0}"}}
        # amqtt logs every packet at INFO; keep our logs readable.
        for name in ("amqtt", "transitions"):
            logging.getLogger(name).setLevel(logging.WARNING)
        if self.secure is None:
            plugins: dict[str, Any] = {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}}
            self._broker = PatchedBroker({"listeners": listeners, "plugins": plugins})
        else:
            plugins = plugins_config(self.secure.accounts, self.secure.password_file)
            self._broker = SecureBroker({"listeners": listeners, "plugins": plugins})
        await self._broker.start()
        self.port = self._broker.bound_port("default")
        if self.secure is None:
            log.info(
                "embedded broker on %s:%d, loopback only, open to any local process: "
                "use --secure for accounts and ACLs",
                self.host,
                self.port,
            )
        else:
            log.info(
                "embedded broker on %s:%d, loopback only, secure: %d accounts with passwords and topic ACLs, "
                "client ids bound to accounts",
                self.host,
                self.port,
                len(self.secure.accounts),
            )

    async def stop(self) -> None:
        if self._broker is not None:
            await self._broker.shutdown()
            self._broker = None

    async def __aenter__(self) -> "EmbeddedBroker":
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
