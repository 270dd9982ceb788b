"""Topic layout of the wire contract: `{root}/v1/{site}/{edge}/{channel}`."""

from dataclasses import dataclass
from typing import Literal

from contract.ids import check_identifier

VERSION = "v1"
DEFAULT_ROOT = "wardlink"

Channel = Literal["events", "telemetry", "state", "status", "ack", "commands"]


def _check_root(root: str) -> str:
    # The root may have several levels (a test's unique prefix, a tenant) but no wildcards.
    for level in root.split("/"):
        check_identifier(level, what="topic root level")
    return root


@dataclass(frozen=True, slots=True)
class Topics:
    """The topics of one edge agent; validates its ids so no topic can be malformed.

    - `events`: canonical event envelopes, edge -> gateway, QoS 1.
    - `telemetry`: measurements, edge -> gateway, QoS 0.
    - `state`: birth (on connect) and death (MQTT Last Will), retained, edge -> gateway.
    - `status`: the outbox report (`EdgeStatus`: depth, bytes, fill level, refusals), retained, edge -> gateway.
    - `ack`: which events the gateway has committed, gateway -> edge, QoS 1.
    - `commands`: commands for a device behind the edge, gateway -> edge, QoS 1.
    """

    site: str
    edge: str
    root: str = DEFAULT_ROOT

    def __post_init__(self) -> None:
        check_identifier(self.site, what="site")
        check_identifier(self.edge, what="edge")
        _check_root(self.root)

    @property
    def base(self) -> str:
        return f"{self.root}/{VERSION}/{self.site}/{self.edge}"

    @property
    def events(self) -> str:
        return f"{self.base}/events"

    @property
    def telemetry(self) -> str:
        return f"{self.base}/telemetry"

    @property
    def state(self) -> str:
        return f"{self.base}/state"

    @property
    def status(self) -> str:
        return f"{self.base}/status"

    @property
    def ack(self) -> str:
        return f"{self.base}/ack"

    def command(self, device: str) -> str:
        return f"{self.base}/commands/{check_identifier(device, what='device')}"


def subscription(channel: Channel, root: str = DEFAULT_ROOT) -> str:
    """The wildcard filter for one channel of every edge of every site (what a gateway subscribes to)."""
    return f"{_check_root(root)}/{VERSION}/+/+/{channel}"


def deadletter_topic(root: str = DEFAULT_ROOT) -> str:
    """Where the gateway republishes what it rejected, with the reason."""
    return f"{_check_root(root)}/{VERSION}/deadletter"


# -- simulation control (contract/simulation.py) ---------------------------------------------------------------
SimulationChannel = Literal["presence", "control", "result"]


@dataclass(frozen=True, slots=True)
class SimulationTopics:
    """The topics of one simulator under `{root}/v1/simulation/{simulator}/`.

    - `presence`: what it offers and runs, retained; its Last Will says `online: false`, simulator -> gateway.
    - `control`: start a scenario, inject or clear a fault, gateway -> simulator, QoS 1.
    - `result`: accepted or refused (with the reason), one per request, simulator -> gateway, QoS 1.
    """

    simulator: str
    root: str = DEFAULT_ROOT

    def __post_init__(self) -> None:
        check_identifier(self.simulator, what="simulator")
        _check_root(self.root)

    @property
    def base(self) -> str:
        return f"{self.root}/{VERSION}/simulation/{self.simulator}"

    @property
    def presence(self) -> str:
        return f"{self.base}/presence"

    @property
    def control(self) -> str:
        return f"{self.base}/control"

    @property
    def result(self) -> str:
        return f"{self.base}/result"


def simulation_subscription(channel: SimulationChannel, root: str = DEFAULT_ROOT) -> str:
    """The wildcard filter for one simulation channel of every simulator."""
    return f"{_check_root(root)}/{VERSION}/simulation/+/{channel}"


def parse_edge_topic(topic: str, root: str = DEFAULT_ROOT) -> tuple[Topics, str]:
    """Split a concrete topic into the edge's `Topics` and the channel; raises ValueError if it is not ours."""
    prefix = f"{root}/{VERSION}/"
    if not topic.startswith(prefix):
        raise ValueError(f"topic {topic!r} is not under {prefix!r}")
    parts = topic[len(prefix) :].split("/")
    if len(parts) < 3:
        raise ValueError(f"topic {topic!r} does not name a site, an edge and a channel")
    site, edge, channel = parts[0], parts[1], "/".join(parts[2:])
    return Topics(site=site, edge=edge, root=root), channel
