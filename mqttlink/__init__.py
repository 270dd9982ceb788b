"""The one MQTT link of the project: a broker URL, capped jittered backoff, and the connection kept up.

Plumbing, not wire contract: it imports nothing else of ours, and edge, gateway, simulators and benchmarks all
reach the broker through `MqttLink`.
"""

from mqttlink.backoff import Backoff, FailureLog
from mqttlink.link import MqttLink, NotConnectedError, Subscription, raise_if_cancelled
from mqttlink.url import BrokerAddress

__all__ = [
    "Backoff",
    "BrokerAddress",
    "FailureLog",
    "MqttLink",
    "NotConnectedError",
    "Subscription",
    "raise_if_cancelled",
]
