"""One message to the broker on a short-lived link: connect, publish, disconnect."""

from mqttlink import BrokerAddress, MqttLink


class _UnreachableError(Exception):
    """Carries the failure out of the link, which would otherwise retry it."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


async def publish_once(
    broker: BrokerAddress, topic: str, payload: bytes, *, qos: int = 0, retain: bool = False
) -> None:
    """Publish one message (QoS 1 and 2: return once the broker has it); raise the `aiomqtt.MqttError` when the
    broker cannot be reached, rather than wait for it as a long-lived link would."""

    async def give_up(error: Exception) -> None:
        raise _UnreachableError(error)  # not an MqttError: it ends the link instead of retrying

    try:
        async with MqttLink(broker, log_failures=False, on_disconnect=give_up) as link:
            await link.publish(topic, payload, qos=qos, retain=retain)
    except _UnreachableError as exc:
        raise exc.error from None
