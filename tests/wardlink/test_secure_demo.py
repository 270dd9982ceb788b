"""`wardlink demo --secure`: the demo's stack on the production broker profile, on Mosquitto or the embedded broker.

Issue 19, finding 5: the demo offers the same accounts and ACLs as production with one flag. The gateway and the
edge each connect with their own account, sorter events flow through to the gateway and are acknowledged, and a
client without the right password gets nowhere.
"""

import dataclasses
import os
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt
import pytest

from mqttlink.url import BrokerAddress
from tests.polling import eventually
from wardlink.secure_demo import mosquitto_binary
from wardlink.stack import Stack, StackConfig


@pytest.fixture(params=["mosquitto", "embedded"])
async def secure_stack(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Stack]:
    if request.param == "mosquitto" and mosquitto_binary() is None:
        reason = "the Mosquitto binary is not installed (apt-get install mosquitto)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true requires {reason}")
        pytest.skip(reason)
    config = StackConfig(
        data_dir=tmp_path / "data",
        api_port=0,
        stream_rate_per_s=20.0,
        seed=7,
        secure=True,
        mosquitto=None if request.param == "mosquitto" else "",
    )
    async with Stack(config) as stack:
        yield stack


def refused() -> "pytest.RaisesContext[aiomqtt.MqttCodeError]":
    return pytest.raises(aiomqtt.MqttCodeError, match=r"[Nn]ot authori[sz]ed|[Bb]ad user name or password")


async def test_the_secure_demo_runs_with_an_account_per_component(secure_stack: Stack) -> None:
    assert secure_stack.broker is None  # not the open embedded broker
    broker = secure_stack.secure_broker
    assert broker is not None
    assert broker.generated is not None
    edge = secure_stack.edge
    assert edge is not None
    assert BrokerAddress.parse(edge.settings.mqtt_url).username == "edge/general-hospital/core-lab-edge"
    gateway = secure_stack.gateway
    assert gateway is not None
    assert BrokerAddress.parse(gateway.settings.mqtt_url).username == "gateway-1"

    async def acked() -> int:
        return edge.uplink.acked

    # Sorter events committed by the gateway and acknowledged to the edge, each on its own account.
    await eventually(acked, lambda n: n >= 3, what="the gateway acknowledging the edge's events")
    assert gateway.simulation is not None
    assert gateway.simulation.connected.is_set()  # the gateway's second link, as gateway-1/sim, beside the first

    own = BrokerAddress.parse(edge.settings.mqtt_url)
    anonymous = dataclasses.replace(own, username=None, password=None)
    for stranger in (anonymous, dataclasses.replace(own, password="guessed")):
        with refused():
            async with aiomqtt.Client(**stranger.client_kwargs(), identifier="stranger", timeout=10):
                pass
