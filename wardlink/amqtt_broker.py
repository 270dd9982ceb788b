"""amqtt's broker with the fixes wardlink relies on (the open and the secure embedded broker both build on it)."""

from typing import Any

from amqtt.broker import Broker


class PatchedBroker(Broker):  # type: ignore[misc]  # amqtt has no type hints, so Broker is Any
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
