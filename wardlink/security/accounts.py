"""Who may connect to the broker and which topics each may write and read: gateways, edges and MQTT devices.

The grants follow the wire contract (`contract.topics`) and the device profiles, so an edge writes only under
its own `{root}/v1/{site}/{edge}/` prefix and reads only its own acks and commands, and a device writes only
its own topics (a VDA 5050 robot only `uagv/v2/{manufacturer}/{its serial}/...`).
"""

from dataclasses import dataclass, field
from typing import Literal

from contract.ids import check_identifier
from contract.topics import DEFAULT_ROOT, Topics, deadletter_topic, subscription
from device_profiles import DeviceInstance, DeviceProfile, MqttJsonProfile, Site, Vda5050Profile
from device_profiles.vda5050 import Channel

Access = Literal["read", "write", "readwrite"]
Role = Literal["gateway", "edge", "device"]

VDA_FROM_ROBOT: tuple[Channel, ...] = ("connection", "state", "visualization", "factsheet")
VDA_TO_ROBOT: tuple[Channel, ...] = ("order", "instantActions")


@dataclass(frozen=True, slots=True)
class Grant:
    """One line of a Mosquitto ACL: `topic {access} {topic}` (the topic may hold `+` and `#`)."""

    access: Access
    topic: str


@dataclass(frozen=True, slots=True)
class Account:
    """An MQTT user: its name, what it is, and what it may write and read."""

    username: str
    role: Role
    name: str
    """File-name-safe name of the component (its env file is `{name}.env`)."""
    grants: tuple[Grant, ...]
    password_of: str | None = None
    """A link account (`{owner}/{link}`) shares its owner's password and has no env file of its own."""

    def __post_init__(self) -> None:
        # Mosquitto's password file splits at the first colon; an ACL line ends at the line break.
        if not self.username or any(c in self.username for c in ":\n\r\t "):
            raise ValueError(f"MQTT user name {self.username!r} must be non-empty without ':' or whitespace")


@dataclass(frozen=True, slots=True)
class EdgeSpec:
    """An edge agent and the MQTT devices it serves on the same broker (none: only the edge's own topics)."""

    site: str
    edge: str
    devices: tuple[tuple[DeviceInstance, DeviceProfile], ...] = field(default=())

    def __post_init__(self) -> None:
        check_identifier(self.site, what="site")
        check_identifier(self.edge, what="edge")

    @classmethod
    def from_site(cls, site: Site, profiles: dict[str, DeviceProfile]) -> "EdgeSpec":
        """The edge of a site file with every device that talks MQTT on the edge's own broker."""
        devices = tuple(
            (device, profiles[device.profile])
            for device in site.devices
            if device.mqtt is not None and device.mqtt.url is None
        )
        return cls(site=site.site, edge=site.edge, devices=devices)


def _component(*parts: str) -> str:
    return "-".join(p.replace(":", "_") for p in parts)


GATEWAY_SIMULATION_LINK = "sim"
"""The gateway's second connection (simulation control, `gateway.simulation.control`)."""


def link_account(owner: Account, link: str, grants: tuple[Grant, ...]) -> Account:
    """A component's second connection: the broker uses user names as client ids (`use_username_as_clientid`),
    so each connection of one process needs its own user; it shares the owner's password and env file
    (`BrokerAddress.for_link` makes the name)."""
    check_identifier(link, what="link")
    return Account(
        username=f"{owner.username}/{link}",
        role=owner.role,
        name=_component(owner.name, link),
        grants=grants,
        password_of=owner.username,
    )


def gateway_account(number: int, root: str = DEFAULT_ROOT) -> Account:
    """A gateway replica: reads every edge's events, telemetry, state, status; writes acks, commands, dead letters."""
    grants = (
        *(Grant("read", subscription(channel, root)) for channel in ("events", "telemetry", "state", "status")),
        Grant("write", subscription("ack", root)),
        Grant("write", subscription("commands", root) + "/+"),
        Grant("write", deadletter_topic(root)),
    )
    return Account(username=f"gateway-{number}", role="gateway", name=f"gateway-{number}", grants=grants)


def edge_account(spec: EdgeSpec, root: str = DEFAULT_ROOT) -> Account:
    """An edge agent: its own topics, and master control's side of each device it serves."""
    topics = Topics(site=spec.site, edge=spec.edge, root=root)
    grants: list[Grant] = [
        Grant("write", topics.events),
        Grant("write", topics.telemetry),
        Grant("write", topics.state),
        Grant("write", topics.status),
        Grant("write", deadletter_topic(root)),
        Grant("read", topics.ack),
        Grant("read", f"{topics.base}/commands/+"),
    ]
    for device, profile in spec.devices:
        from_device, to_device = device_topics(device, profile)
        grants += [Grant("read", t) for t in from_device]
        grants += [Grant("write", t) for t in to_device]
    return Account(
        username=f"edge/{spec.site}/{spec.edge}",
        role="edge",
        name=_component("edge", spec.site, spec.edge),
        grants=tuple(grants),
    )


def device_account(spec: EdgeSpec, device: DeviceInstance, profile: DeviceProfile) -> Account:
    """An MQTT device: writes only what it reports about itself, reads only what is sent to it."""
    from_device, to_device = device_topics(device, profile)
    return Account(
        username=f"device/{spec.site}/{spec.edge}/{device.id}",
        role="device",
        name=_component("device", spec.site, spec.edge, device.id),
        grants=(*(Grant("write", t) for t in from_device), *(Grant("read", t) for t in to_device)),
    )


def device_topics(device: DeviceInstance, profile: DeviceProfile) -> tuple[list[str], list[str]]:
    """(topics the device publishes, topics it subscribes to), from its profile; ValueError for non-MQTT ones."""
    if device.mqtt is None:
        raise ValueError(f"device {device.id!r} has no MQTT endpoint")
    topic_id = device.mqtt.topic_id
    if isinstance(profile, Vda5050Profile):
        return (
            [profile.topic(topic_id, c) for c in VDA_FROM_ROBOT],
            [profile.topic(topic_id, c) for c in VDA_TO_ROBOT],
        )
    if isinstance(profile, MqttJsonProfile):
        commands = {mapping.topic for mapping in profile.commands.values()}
        published = {message.topic for message in profile.messages.values()}
        if profile.presence is not None:
            published.add(profile.presence.topic)
        return (
            [profile.topic(name, topic_id) for name in sorted(published - commands)],
            [profile.topic(name, topic_id) for name in sorted(commands)],
        )
    raise ValueError(f"device {device.id!r}: profile {profile.name!r} does not speak MQTT")


def accounts(edges: list[EdgeSpec], gateways: int = 1, root: str = DEFAULT_ROOT) -> list[Account]:
    """Every account of a deployment: the gateways, each edge, each MQTT device; user names are unique."""
    if gateways < 1:
        raise ValueError("a deployment has at least one gateway")
    out: list[Account] = []
    for number in range(1, gateways + 1):
        gateway = gateway_account(number, root)
        out += [gateway, link_account(gateway, GATEWAY_SIMULATION_LINK, ())]
    for spec in edges:
        edge = edge_account(spec, root)
        out.append(edge)
        for device, profile in spec.devices:
            # The edge's driver for the device connects on its own (master control's side of the device's topics).
            from_device, to_device = device_topics(device, profile)
            grants = (*(Grant("read", t) for t in from_device), *(Grant("write", t) for t in to_device))
            out += [link_account(edge, device.id, grants), device_account(spec, device, profile)]
    seen: set[str] = set()
    for account in out:
        if account.username in seen:
            raise ValueError(f"{account.username!r} is named twice: give each edge and device once")
        seen.add(account.username)
    return out
