"""Gateway settings from `WARDLINK_*` environment variables, with defaults that run anywhere."""

import ipaddress
import uuid
import zoneinfo
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from contract.ids import check_identifier


def _client_id() -> str:
    return f"wardlink-gateway-{uuid.uuid4().hex[:12]}"


def _check_zone(zone: str) -> str:
    try:
        zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{zone!r} is not an IANA time zone (e.g. Asia/Shanghai, Europe/Berlin, UTC)") from None
    return zone


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WARDLINK_", extra="ignore")

    mqtt_url: str = "mqtt://127.0.0.1:1883"
    mqtt_protocol: Literal["3.1.1", "5"] = "3.1.1"
    """3.1.1 works with every broker, the embedded amqtt included."""
    database_url: str | None = None
    """None: a SQLite file in `data_dir` (WAL). `postgresql+asyncpg://...` for PostgreSQL."""
    database_schema: str | None = None
    """PostgreSQL schema for every table, the Alembic version table included (set as the search_path)."""
    data_dir: Path = Path("data")
    topic_root: str = "wardlink"
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8080, ge=0, le=65535)
    """0 picks a free port; `Gateway.api_url` tells which."""
    ingest_batch_size: int = Field(default=500, ge=1, le=5000)
    ingest_batch_wait_ms: int = Field(default=5, ge=0)
    """How long a batch waits for more events after its first. Under load batches fill while the previous one
    commits, so a longer wait adds latency to every event and little throughput (docs/performance.md)."""
    projection_batch_size: int = Field(default=2000, ge=1, le=20_000)
    """Stored events folded into the projections per transaction at most (`gateway.projection.worker`)."""
    projector: bool = True
    """Run the projector in this gateway process. False: this gateway only stores and acknowledges, and a
    `wardlink projector` process (or another replica) projects, so each gets a core of its own."""
    projection_wait_ms: int = Field(default=10, ge=0)
    """After its gateway stores events, how long the projector waits for more before a pass. A pass has a cost of
    its own (about twenty statements), so a few commits share one; when the projector falls behind, its passes
    grow by themselves, as events arrive while it projects."""
    projection_poll_s: float = Field(default=1.0, gt=0)
    """How often the projector looks for events another replica stored; its own commits wake it at once."""
    projection_held_subjects: int = Field(default=10_000, ge=0)
    """Specimen, trip and cabinet histories the projector holds between passes instead of reading them back (about
    2.5 kB each; `gateway.projection.held`); 0 reads every history back on every pass."""
    client_id: str = Field(default_factory=_client_id)
    mqtt_max_backoff_s: float = Field(default=30.0, gt=0)
    startup_timeout_s: float = Field(default=30.0, gt=0)
    """How long `Gateway.start()` waits for the broker subscription before giving up with a reason."""

    telemetry_batch_size: int = Field(default=200, ge=1, le=5000)
    """Telemetry messages per transaction (each holds up to 100 readings)."""
    telemetry_batch_wait_ms: int = Field(default=200, ge=0)
    telemetry_raw_hours: float = Field(default=24, gt=0)
    """Raw readings are kept this long, then folded into one-minute means."""
    telemetry_retention_days: float = Field(default=30, gt=0)
    """One-minute means (and anything else) older than this are deleted."""
    telemetry_downsample_every_s: float = Field(default=300, gt=0)
    """How often the downsampling and retention pass runs."""
    alerts_every_s: float = Field(default=15, gt=0)
    """How often (wall time) the alert engine compares what is wrong now with the open alerts."""

    # -- accounts and roles: sessions, login throttling (gateway/auth, docs/access.md) ---------------------------
    session_idle_minutes: float = Field(default=30, gt=0)
    """A session unused this long (wall time) ends; the user logs in again."""
    session_absolute_hours: float = Field(default=12, gt=0)
    """A session ends this long after login, however busy."""
    cookie_secure: bool | None = None
    """The session cookie's `Secure` flag: None sets it when the request came over https (or a proxy said so)."""
    login_max_failures: int = Field(default=5, ge=1)
    """Failed logins per user name and client address within `login_failure_window_minutes` before a 429."""
    login_failure_window_minutes: float = Field(default=15, gt=0)
    trusted_proxies: Annotated[list[str], NoDecode] = []
    """Addresses or networks (`10.0.0.5, 172.30.0.0/24`) of reverse proxies whose X-Forwarded-For and
    X-Forwarded-Proto are believed. Empty: those headers are ignored, the client is the socket's peer."""
    manual_custody_skew_s: float = Field(default=120, ge=0)
    """How far ahead of the gateway's clock a manual custody entry's `occurred_at` may be (clocks differ a little)."""
    manual_custody_max_age_hours: float = Field(default=72, gt=0)
    """How far back a manual custody entry may be dated; never before the specimen's first event either."""

    # -- simulation control: start scenarios and inject faults in attached simulators (docs/simulation.md) -----
    simulation_control: bool = True
    """False on a production gateway: no simulation link, and /api/v1/simulation answers 404."""
    simulation_result_wait_s: float = Field(default=2.0, ge=0, le=30)
    """How long a control request waits for the simulator's answer before answering 202 (pending)."""

    # -- delivery guarantees: historical events, sequence gaps (docs/reliability.md) ----------------------------
    historical_grace_s: float = Field(default=60, ge=0)
    """An event that happened more than this before its edge's current connection came up is historical."""
    sequence_gap_resend_after_s: float = Field(default=3, ge=0)
    """An ack asks the edge to resend the seqs it misses once a gap is this old (younger ones are usually events
    still on their way out of order)."""
    max_seq_jump: int = Field(default=1_000_000, ge=1)
    """An event whose seq is more than this past the highest stored for its edge (and past what the edge reported
    numbering) is rejected to the dead-letter topic, not taken for a gap (gateway/ingest/seq_bound.py)."""

    # -- scale-out: several gateways share the event stream (MQTT v5 shared subscriptions) -------------------
    mqtt_shared_group: str | None = None
    """Set on every replica: events and telemetry arrive at one replica of the group (`$share/<group>/...`); edge
    states still reach each replica. Needs `mqtt_protocol: "5"` and a broker with shared subscriptions."""

    # -- deployment: telemetry to InfluxDB 2 (gateway/telemetry/influx.py, docs/deployment.md) ----------------
    influx_url: str | None = None
    """e.g. http://influxdb:8086. None: telemetry is kept in the embedded store only."""
    influx_token: SecretStr | None = None
    """An InfluxDB API token with write access to the bucket."""
    influx_org: str | None = None
    influx_bucket: str | None = None
    influx_batch_size: int = Field(default=1000, ge=1, le=50_000)
    """Points per write request."""
    influx_flush_ms: int = Field(default=1000, ge=0)
    """How long a write waits for more points before sending a smaller batch."""
    influx_buffer: int = Field(default=100_000, ge=1)
    """Points held while InfluxDB is slow or away; when full the oldest are dropped (and counted)."""
    influx_max_backoff_s: float = Field(default=30.0, gt=0)
    """Cap of the retry backoff after a 429, a 5xx or a connection error."""
    influx_timeout_s: float = Field(default=10.0, gt=0)

    # -- dashboard: the robots' node graph on the pharmacy view (gateway/tracking/devices/site_map.py)
    maps_dir: Path | None = None
    """A folder of robot node graphs, `{site}.yaml` in the format of device_profiles/maps; None: robots are listed
    without a map. `wardlink demo` points it at the packaged maps."""

    # -- dashboard: hospital time (gateway/dashboard/render.py, docs/dashboard.md) -------------------------------
    time_zone: str = "UTC"
    """The IANA time zone the dashboard shows times in (`Asia/Shanghai`), for sites without their own below."""
    site_time_zones: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)
    """Each site's own zone, `site=Area/City,...` from the environment (`campus-east=Asia/Urumqi`)."""

    @field_validator("site_time_zones", mode="before")
    @classmethod
    def _site_zone_list(cls, value: object) -> object:
        """`site=Area/City,site=Area/City` from the environment; a mapping as it is."""
        if not isinstance(value, str):
            return value
        zones: dict[str, str] = {}
        for part in filter(None, (p.strip() for p in value.split(","))):
            site, sep, zone = part.partition("=")
            if not sep or not site.strip() or not zone.strip():
                raise ValueError(f"{part!r} is not site=Area/City (e.g. general-hospital=Asia/Shanghai)")
            zones[site.strip()] = zone.strip()
        return zones

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        return _check_zone(zone)

    @field_validator("site_time_zones")
    @classmethod
    def _known_site_zones(cls, zones: dict[str, str]) -> dict[str, str]:
        return {
            check_identifier(site, what="a site in WARDLINK_SITE_TIME_ZONES"): _check_zone(z)
            for site, z in zones.items()
        }

    def zone_of(self, site: str | None) -> str:
        """The time zone of `site`: its own, else the hospital's (`time_zone`)."""
        return self.site_time_zones.get(site or "", self.time_zone)

    # -- HL7 v2 outbound: tell the LIS when a specimen reached the lab and was sorted (docs/integration.md)
    hl7_outbound_url: str | None = None
    """`mllp://host:port` of the LIS's HL7 receiver for SSU^U03 container status; None: nothing is sent."""
    hl7_outbound_retry_max_s: float = Field(default=60.0, gt=0)
    """Cap of the jittered backoff between attempts while the LIS is away or leaves a message unanswered."""
    hl7_outbound_ack_timeout_s: float = Field(default=30.0, gt=0)
    """How long the LIS has to answer a message before it counts as unanswered and is sent again."""

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxy_list(cls, value: object) -> object:
        """A comma-separated list from the environment; every entry a valid address or network."""
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, list):
            return value
        networks = []
        for entry in value:
            try:
                networks.append(str(ipaddress.ip_network(str(entry).strip(), strict=False)))
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or network (e.g. 10.0.0.5 or 10.0.0.0/24)") from None
        return networks

    @field_validator("hl7_outbound_url")
    @classmethod
    def _mllp_url(cls, url: str | None) -> str | None:
        if url is None:
            return None
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            port = None
        if parts.scheme != "mllp" or not parts.hostname or port is None:
            raise ValueError(f"WARDLINK_HL7_OUTBOUND_URL looks like mllp://host:port, not {url!r}")
        return url

    # -- reference data: which FHIR identifier is the wardlink id on import (gateway/reference, docs/reference-data.md)
    reference_location_system: str | None = None
    """The Location.identifier system whose value is the location id; None: the first identifier, else Location.id."""
    reference_badge_system: str | None = None
    """The Practitioner.identifier system whose value is the badge id; None: the first identifier."""
    reference_device_system: str | None = None
    """The Device.identifier system whose value is the device id; None: the first identifier, else Device.id."""

    @model_validator(mode="after")
    def _influx_complete(self) -> "GatewaySettings":
        if self.influx_url is None:
            return self
        given = {"token": self.influx_token, "org": self.influx_org, "bucket": self.influx_bucket}
        missing = [f"WARDLINK_INFLUX_{name.upper()}" for name, value in given.items() if not value]
        if missing:
            raise ValueError(f"WARDLINK_INFLUX_URL is set, so {', '.join(missing)} must be set too")
        return self

    # -- API quality: request size limit (gateway/api/body_limit.py, docs/api.md) ----------------------------------
    api_max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    """Request bodies larger than this get a 413 problem, whether declared in Content-Length or streamed."""

    # -- the hospital's clinical systems: HL7 v2 over MLLP (gateway/clinical/hl7, docs/integration.md) ----------
    hl7_port: int | None = Field(default=None, ge=0, le=65535)
    """The MLLP listener's port; None: no listener; 0: a free port (`Gateway.hl7_url` tells which)."""
    hl7_host: str = "127.0.0.1"
    hl7_site: str = "general-hospital"
    """The site the events of HL7 messages are stored under."""
    hl7_tls_cert: Path | None = None
    """PEM certificate chain of the listener: set with `hl7_tls_key` and the listener speaks MLLP over TLS only."""
    hl7_tls_key: Path | None = None
    hl7_tls_client_ca: Path | None = None
    """PEM file of the CA that signs the clinical systems' certificates: set, and a client certificate is required."""
    hl7_mapping: Path | None = None
    """A YAML file of field choices (barcode, priority codes, test categories, container states) replacing the
    shipped `gateway/clinical/hl7/default_mapping.yaml`; a broken file stops start-up naming the field and reason."""
    hl7_retention_days: float = Field(default=90, gt=0)
    """HL7 records older than this are deleted: handled control ids (a resend older than this is taken again, and
    its events are still duplicates), orders and states, dead letters, and outbox rows the LIS answered."""

    @model_validator(mode="after")
    def _hl7_consistent(self) -> "GatewaySettings":
        check_identifier(self.hl7_site, what="WARDLINK_HL7_SITE")
        if (self.hl7_tls_cert is None) != (self.hl7_tls_key is None):
            raise ValueError("WARDLINK_HL7_TLS_CERT and WARDLINK_HL7_TLS_KEY go together: set both or neither")
        if self.hl7_tls_client_ca is not None and self.hl7_tls_cert is None:
            raise ValueError("WARDLINK_HL7_TLS_CLIENT_CA needs WARDLINK_HL7_TLS_CERT and WARDLINK_HL7_TLS_KEY")
        return self

    # -- years of data: retention, archives, monthly partitions (gateway/storage/retention.py, docs/deployment.md)
    events_retention_days: float | None = Field(default=None, gt=0)
    """Events whose month ended longer ago than this are archived and dropped (PostgreSQL) or deleted (SQLite);
    None keeps them. Must be at least `custody_retention_days`: custody records are verified against their events."""
    custody_retention_days: float | None = Field(default=None, gt=0)
    """The custody log is evidence: None (the default) keeps it for ever; set, older months go like the events'."""
    archive_dir: Path | None = None
    """Where PostgreSQL's expired months are written before they are dropped; None: `data_dir/archive`."""
    partitions_ahead_months: int = Field(default=3, ge=1, le=24)
    """Monthly partitions made ahead of the current month (PostgreSQL), so rows never wait for one."""
    retention_every_s: float = Field(default=3600, gt=0)
    """How often the partition maintenance and retention pass runs."""
    retention_batch_rows: int = Field(default=5000, ge=1, le=100_000)
    """Rows deleted per transaction on SQLite, so ingest gets its turns between batches."""

    @model_validator(mode="after")
    def _events_outlast_custody(self) -> "GatewaySettings":
        events, custody = self.events_retention_days, self.custody_retention_days
        if events is not None and (custody is None or events < custody):
            kept = "for ever" if custody is None else f"{custody:g} days"
            raise ValueError(
                f"WARDLINK_EVENTS_RETENTION_DAYS ({events:g}) must cover WARDLINK_CUSTODY_RETENTION_DAYS ({kept}): "
                "custody records are verified against their events' bodies; set the custody retention first"
            )
        return self

    @property
    def resolved_archive_dir(self) -> Path:
        return self.archive_dir or self.data_dir / "archive"

    @model_validator(mode="after")
    def _retention_outlasts_raw(self) -> "GatewaySettings":
        if self.telemetry_retention_days * 24 < self.telemetry_raw_hours:
            raise ValueError(
                "WARDLINK_TELEMETRY_RETENTION_DAYS must cover at least WARDLINK_TELEMETRY_RAW_HOURS: "
                f"{self.telemetry_retention_days:g} days < {self.telemetry_raw_hours:g} hours"
            )
        return self

    @model_validator(mode="after")
    def _shared_group_on_mqtt5(self) -> "GatewaySettings":
        if self.mqtt_shared_group is None:
            return self
        check_identifier(self.mqtt_shared_group, what="WARDLINK_MQTT_SHARED_GROUP")
        if self.mqtt_protocol != "5":
            raise ValueError(
                "WARDLINK_MQTT_SHARED_GROUP needs WARDLINK_MQTT_PROTOCOL=5: an MQTT 3.1.1 broker without shared "
                "subscriptions takes '$share/...' as a plain topic filter and the gateway would receive nothing"
            )
        return self

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'wardlink.db'}"


@lru_cache
def get_settings() -> GatewaySettings:
    """The process's settings, read from the environment once."""
    return GatewaySettings()
