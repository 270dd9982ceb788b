"""The whole system in one process, every hop over a real socket: broker, simulators, edge, gateway.

`make demo` runs it with a hospital-day scenario (or a lone sorter fed a barcode stream); the end-to-end tests run
it the same way and drive the simulators themselves. With a scenario, the gateway's and the edge's clock is the
hospital's simulated clock (`simulators.hospital.clock.SimClock`): overdue and at-risk are judged on the same time
the devices stamp their records with, and what the edge stamps itself (device online/offline, watch events, dead
letters) falls on the same simulated day.
"""

import asyncio
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from device_profiles import ModbusEndpoint, ModbusProfile, load_site
from device_profiles.maps import MAPS_DIR
from edge.agent import EdgeAgent
from edge.settings import EdgeSettings
from gateway.runtime.clock import utc_now
from gateway.service import Gateway
from gateway.settings import GatewaySettings
from simulators.hospital.clock import SimClock
from simulators.hospital.control import SimulationControl
from simulators.hospital.hospital import Hospital
from simulators.hospital.scenario import load_scenario
from simulators.sorter.device import SorterSimulator
from simulators.sorter.stream import run_stream
from wardlink.broker import EmbeddedBroker
from wardlink.demo_reference import describe as describe_reference
from wardlink.demo_reference import import_demo_reference
from wardlink.net import port_open
from wardlink.secure_demo import SecureDemoBroker
from wardlink.security.accounts import EdgeSpec, edge_account, gateway_account

log = logging.getLogger(__name__)


@dataclass
class StackConfig:
    """What differs between the demo, a test and a developer's machine; None means the embedded default."""

    data_dir: Path = Path("data")
    mqtt_url: str | None = None
    database_url: str | None = None
    database_schema: str | None = None
    topic_root: str = "wardlink"
    api_host: str = "127.0.0.1"
    api_port: int = 8080
    site_file: Path | None = None
    stream_rate_per_s: float | None = 2.0
    """Tubes per second fed to the sorter simulator; None feeds nothing (a test inducts its own tubes)."""
    seed: int | None = None
    """Overrides the scenario's (or the sorter stream's) seed; the demo draws a new one per run."""
    edge_resend_after_s: float = 10.0
    scenario: str | None = None
    """A hospital-day scenario (`simulators/days/`): every device family instead of the lone sorter."""
    hl7_port: int | None = 0
    """With a scenario, the gateway listens for HL7 v2 over MLLP on this port (0: a free one) and the hospital's lab
    system speaks HL7 to it; None keeps the lab system on MQTT. The pharmacy system is on MQTT either way."""
    reference_data: bool = False
    """Import the demo hospital's reference data (names beside ids) when the database has none yet."""
    secure: bool = False
    """With no `mqtt_url`: the production broker profile (accounts, passwords, ACLs, client ids bound to accounts)
    instead of the open embedded broker (`wardlink.secure_demo`); the sorter-only stack for now."""
    mosquitto: str | None = None
    """With `secure`: the Mosquitto binary ('' for the embedded amqtt; None: Mosquitto when installed)."""

    @classmethod
    def from_env(cls, **overrides: object) -> "StackConfig":
        env = os.environ
        config = cls(
            data_dir=Path(env.get("WARDLINK_DATA_DIR", "data")),
            mqtt_url=env.get("WARDLINK_MQTT_URL") or None,
            database_url=env.get("WARDLINK_DATABASE_URL") or None,
            database_schema=env.get("WARDLINK_DATABASE_SCHEMA") or None,
            topic_root=env.get("WARDLINK_TOPIC_ROOT", "wardlink"),
            api_host=env.get("WARDLINK_API_HOST", "127.0.0.1"),
            api_port=int(env.get("WARDLINK_API_PORT", "8080")),
            hl7_port=int(env.get("WARDLINK_HL7_PORT") or 0),
        )
        for name, value in overrides.items():
            setattr(config, name, value)
        return config


@dataclass
class Stack:
    config: StackConfig
    broker: EmbeddedBroker | None = None
    secure_broker: SecureDemoBroker | None = None
    gateway: Gateway | None = None
    sorter: SorterSimulator | None = None
    hospital: Hospital | None = None
    edge: EdgeAgent | None = None
    simulation: SimulationControl | None = None
    """The hospital's simulation control link (a scenario only): the gateway's /api/v1/simulation drives it."""
    reference: str | None = None
    """What became of the demo's reference data (`StackConfig.reference_data`), in one line."""
    _stream: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def mqtt_url(self) -> str:
        """The broker (without credentials for the secure demo: each component has its own, `url_for`)."""
        if self.config.mqtt_url:
            return self.config.mqtt_url
        if self.secure_broker is not None:
            return self.secure_broker.display_url
        assert self.broker is not None
        return self.broker.url

    def url_for(self, username: str) -> str:
        """The broker URL a component connects with: its own account's on the secure demo broker."""
        return self.secure_broker.url_for(username) if self.secure_broker is not None else self.mqtt_url

    @property
    def api_url(self) -> str:
        assert self.gateway is not None
        return self.gateway.api_url

    @property
    def hl7_url(self) -> str | None:
        """The gateway's HL7 v2 listener, `mllp://HOST:PORT` (None when it runs none): the lab system sends there."""
        assert self.gateway is not None
        return self.gateway.hl7_url

    async def start(self) -> None:
        cfg = self.config
        # Unset, the edge's own default (or its environment) names the site file.
        site_file: dict[str, Any] = {"site_file": cfg.site_file} if cfg.site_file else {}
        edge_user = ""
        if cfg.secure and cfg.mqtt_url is not None:
            raise ValueError("the secure demo runs its own broker: unset WARDLINK_MQTT_URL, or drop --secure")
        if cfg.mqtt_url is None and cfg.secure:
            if cfg.scenario:
                raise ValueError(
                    "the secure demo runs the sorter-only stack: its simulated hospital is not yet split "
                    "into one account per device (docs/security.md)"
                )
            paths = EdgeSettings(**site_file)
            site, profiles = load_site(paths.site_file, paths.profiles_dir)
            spec = EdgeSpec.from_site(site, profiles)
            edge_user = edge_account(spec, cfg.topic_root).username
            self.secure_broker = SecureDemoBroker(
                cfg.data_dir / "secure-mqtt", [spec], root=cfg.topic_root, mosquitto=cfg.mosquitto
            )
            await self.secure_broker.start()
        elif cfg.mqtt_url is None:
            self.broker = EmbeddedBroker()
            await self.broker.start()
        # A port already taken (the demo's 8080 by something else) becomes 0: the gateway binds a free port itself,
        # which no other process can take between choosing it and binding it (`api_url` tells which).
        api_port = 0 if cfg.api_port == 0 or port_open(cfg.api_host, cfg.api_port) else cfg.api_port
        scenario, sim_clock = None, None
        if cfg.scenario:
            scenario = load_scenario(cfg.scenario)
            if cfg.seed is not None:
                scenario = scenario.model_copy(update={"seed": cfg.seed})
            sim_clock = SimClock(scenario.start, scenario.speed)
        # The gateway's now (overdue, at risk) is the hospital's simulated time when a scenario plays, and its
        # alert pass runs once a simulated minute unless WARDLINK_ALERTS_EVERY_S says otherwise.
        clock = sim_clock.now if sim_clock else utc_now
        alert_pass: dict[str, Any] = (
            {"alerts_every_s": 60 / scenario.speed} if scenario and "WARDLINK_ALERTS_EVERY_S" not in os.environ else {}
        )
        # With a scenario the lab system speaks HL7 v2 over MLLP: the gateway listens on `hl7_port` for it.
        hl7_listener: dict[str, Any] = {"hl7_port": cfg.hl7_port} if scenario and cfg.hl7_port is not None else {}
        self.gateway = Gateway(
            GatewaySettings(
                mqtt_url=self.url_for(gateway_account(1, cfg.topic_root).username),
                database_url=cfg.database_url,
                database_schema=cfg.database_schema,
                data_dir=cfg.data_dir,
                topic_root=cfg.topic_root,
                api_host=cfg.api_host,
                api_port=api_port,
                maps_dir=MAPS_DIR,  # the robots' node graphs, for the pharmacy view's map
                **alert_pass,
                **hl7_listener,
            ),
            clock=clock,
        )
        await self.gateway.start()
        if scenario is not None:
            # Built once the gateway listens: its lab system is handed the gateway's HL7 address.
            lis_url = self.hl7_url if hl7_listener else None
            self.hospital = Hospital(
                scenario, self.mqtt_url, topic_root=cfg.topic_root, clock=sim_clock, lis_url=lis_url
            )
        if cfg.reference_data and self.gateway.store is not None:
            data, imported = await import_demo_reference(self.gateway.store.reference, utc_now())
            self.reference = describe_reference(data, imported)

        edge_settings = EdgeSettings(
            mqtt_url=self.url_for(edge_user) if edge_user else self.mqtt_url,
            topic_root=cfg.topic_root,
            data_dir=cfg.data_dir,
            resend_after_s=cfg.edge_resend_after_s,
            **site_file,
        )
        if self.hospital is not None:
            await self._start_hospital(edge_settings)
            return
        site, profiles = load_site(edge_settings.site_file, edge_settings.profiles_dir)
        sorter_instance = site.devices[0]  # a demo site's first device is the Modbus sorter
        sorter_profile = profiles[sorter_instance.profile]
        assert isinstance(sorter_profile, ModbusProfile)
        assert sorter_instance.modbus is not None
        self.sorter = SorterSimulator(sorter_profile, host="127.0.0.1", port=0)
        await self.sorter.start()
        # Point the edge at the simulator exactly as it would point at the real sorter.
        endpoint = ModbusEndpoint(host="127.0.0.1", port=self.sorter.port, unit=sorter_instance.modbus.unit)
        site = site.model_copy(
            update={"devices": [sorter_instance.model_copy(update={"modbus": endpoint}), *site.devices[1:]]}
        )
        self.edge = EdgeAgent(edge_settings, site, profiles)
        await self.edge.start()
        if cfg.stream_rate_per_s:
            self._stream = asyncio.create_task(run_stream(self.sorter, cfg.stream_rate_per_s, cfg.seed or 1, None))

    async def _start_hospital(self, edge_settings: EdgeSettings) -> None:
        assert self.hospital is not None
        await self.hospital.start()
        self.sorter = next(iter(self.hospital.sorters.values()), None)
        self.edge = EdgeAgent(
            edge_settings, self.hospital.site(), self.hospital.profiles, clock=self.hospital.clock.now
        )
        await self.edge.start()
        self.simulation = SimulationControl(self.hospital, self.mqtt_url, topic_root=self.config.topic_root)
        await self.simulation.start()
        self._stream = asyncio.create_task(self.hospital.run())

    async def stop(self) -> None:
        if self._stream is not None:
            self._stream.cancel()
            await asyncio.gather(self._stream, return_exceptions=True)
        simulators = [self.simulation, self.hospital] if self.hospital else [self.sorter]
        for part in (self.edge, *simulators, self.gateway, self.broker, self.secure_broker):
            if part is not None:
                try:
                    await part.stop()
                except Exception:
                    log.exception("stopping %s failed", type(part).__name__)

    async def __aenter__(self) -> "Stack":
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
