"""Scale-out: several gateway replicas share the event stream through MQTT v5 shared subscriptions.

With `mqtt_shared_group` set, each replica subscribes to events and telemetry as `$share/<group>/<filter>`, so
the broker hands each message to one replica of the group (each event is committed and acknowledged by the replica
that got it; one resent to another replica is stored once by id). Edge states stay unshared: every replica must
see every birth and death, and recording one twice changes nothing.

A broker without shared subscriptions must not be used silently: an MQTT 3.1.1 broker (the embedded amqtt) takes
`$share/...` as a plain topic filter and would deliver nothing, so a shared group requires MQTT 5 (the settings
check that), and a broker that refuses MQTT 5 or the shared subscription stops the gateway at start-up with the
reason.
"""

from collections.abc import Sequence

import aiomqtt
from paho.mqtt.reasoncodes import ReasonCode

UNSUPPORTED_PROTOCOL_VERSION = 132
"""CONNACK reason code of an MQTT 5 CONNECT to a broker that does not speak MQTT 5 (amqtt, Mosquitto 1.5)."""


class SharedSubscriptionError(RuntimeError):
    """The broker cannot share the event stream between replicas; the message says why and what to change."""


def shared_filter(topic_filter: str, group: str | None) -> str:
    """`topic_filter` as a shared subscription of `group`, or unchanged without a group."""
    return topic_filter if group is None else f"$share/{group}/{topic_filter}"


def check_granted(topic_filter: str, granted: Sequence[ReasonCode | int], broker: str) -> None:
    """Raise `SharedSubscriptionError` if the broker refused the shared subscription (SUBACK reason >= 0x80)."""
    for code in granted:
        value = code.value if isinstance(code, ReasonCode) else code
        if value >= 0x80:
            raise SharedSubscriptionError(
                f"the MQTT broker at {broker} refused the shared subscription {topic_filter!r} ({code}): "
                "WARDLINK_MQTT_SHARED_GROUP needs a broker with MQTT 5 shared subscriptions (e.g. Mosquitto >= 2)"
            )


def refused_mqtt5(exc: aiomqtt.MqttError, broker: str) -> SharedSubscriptionError | None:
    """The start-up error for a broker that refused an MQTT 5 connection, or None for any other failure."""
    if isinstance(exc, aiomqtt.MqttCodeError) and _code(exc.rc) == UNSUPPORTED_PROTOCOL_VERSION:
        return SharedSubscriptionError(
            f"the MQTT broker at {broker} does not speak MQTT 5 ({exc}): WARDLINK_MQTT_SHARED_GROUP needs MQTT 5 "
            "shared subscriptions (e.g. Mosquitto >= 2; the embedded amqtt broker has neither); unset it to run "
            "one gateway"
        )
    return None


def _code(rc: int | ReasonCode | None) -> int | None:
    return rc.value if isinstance(rc, ReasonCode) else rc
