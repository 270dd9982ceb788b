"""The embedded MQTT broker (amqtt) for zero-set-up runs; development and demo only, Mosquitto in production."""

import logging
from types import TracebackType
from typing import Any

from amqtt.broker import Broker

log = logging.getLogger(__name__)


class _Broker(Broker):  # type: ignore[misc]  # amqtt has no type hints, so Broker is Any
    """amqtt's broker, minus one bug (0.12): on every connect it sends the new client the retained messages of
    *every* client's subscriptions, not only its own. Retained messages go only to a session that holds the
    subscription (a fresh subscribe has just added it; a resumed session already had it)."""

    async def _publish_retained_messages_for_subscription(self, subscription: tuple[str, int], session: Any) -> None:
        holders = self._subscriptions.get(subscription[0], [])
        if any(held is session for held, _qos in holders):
            await super()._publish_retained_messages_for_subscription(subscription, session)

    def bound_port(self, listener: str) -> int:
        """The port `listener` is bound to: the one the OS chose, when configured with port 0."""
        return int(self._servers[listener].instance.sockets[0].getsockname()[1])


class EmbeddedBroker:
    """`async with EmbeddedBroker() as broker:` then connect to `broker.url` (loopback, a free port by default)."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host = host
        self.port = port
        """None until the first start: the OS then picks a free port as the broker binds (no other process can take
        it between choosing and binding), and a restart binds that same port again."""
        self._broker: _Broker | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("the embedded broker has no port until it starts")
        return f"mqtt://{self.host}:{self.port}"

    async def start(self) -> None:
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port or 0}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }
        # amqtt logs every packet at INFO; keep our logs readable.
        for name in ("amqtt", "transitions"):
            logging.getLogger(name).setLevel(logging.WARNING)
        self._broker = _Broker(config)
        await self._broker.start()
        self.port = self._broker.bound_port("default")
        log.info("embedded MQTT broker listening on %s", self.url)

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
