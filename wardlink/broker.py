"""The embedded MQTT broker (amqtt) for zero-set-up runs; development and demo only, Mosquitto in production."""

import logging
from types import TracebackType
from typing import Any

from amqtt.broker import Broker

from wardlink.net import free_port

log = logging.getLogger(__name__)


class _Broker(Broker):
    """amqtt's broker, minus one bug (0.12): on every connect it sends the new client the retained messages of
    *every* client's subscriptions, not only its own. Retained messages go only to a session that holds the
    subscription (a fresh subscribe has just added it; a resumed session already had it)."""

    async def _publish_retained_messages_for_subscription(self, subscription: tuple[str, int], session: Any) -> None:
        holders = self._subscriptions.get(subscription[0], [])
        if any(held is session for held, _qos in holders):
            await super()._publish_retained_messages_for_subscription(subscription, session)


class EmbeddedBroker:
    """`async with EmbeddedBroker() as broker:` then connect to `broker.url` (loopback, a free port by default)."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host = host
        self.port = port or free_port(host)
        self._broker: Broker | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    async def start(self) -> None:
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }
        # amqtt logs every packet at INFO; keep our logs readable.
        for name in ("amqtt", "transitions"):
            logging.getLogger(name).setLevel(logging.WARNING)
        self._broker = _Broker(config)
        await self._broker.start()
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
