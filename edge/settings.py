"""Edge agent settings, from `WARDLINK_*` environment variables."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from contract.envelope import MAX_EVENTS_PER_MESSAGE
from device_profiles import PROFILES_DIR, SITES_DIR


class EdgeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WARDLINK_", extra="ignore")

    mqtt_url: str = "mqtt://127.0.0.1:1883"
    topic_root: str = "wardlink"
    site_file: Path = SITES_DIR / "demo.yaml"
    profiles_dir: Path = PROFILES_DIR
    data_dir: Path = Path("data")
    resend_after_s: float = Field(
        default=10.0, gt=0, description="Republish an event not acked by the gateway after this."
    )
    publish_batch: int = Field(
        default=200, ge=1, description="Events published concurrently before waiting for PUBACKs."
    )
    events_per_message: int = Field(
        default=50,
        ge=1,
        le=MAX_EVENTS_PER_MESSAGE,
        description="Most events per MQTT message: several due events go as JSON arrays of up to this many (fewer,"
        " larger messages carry a backlog faster), one due event as a plain envelope. 1: one envelope per message,"
        " for gateways older than arrays (they dead-letter them).",
    )
    telemetry_buffer: int = Field(default=10_000, ge=1, description="Readings kept while the broker is away.")
    max_backoff_s: float = Field(default=30.0, gt=0, description="Cap of the reconnect backoff to broker and devices.")
    # -- delivery guarantees: the outbox bound and its report (docs/reliability.md) ------------------------------
    outbox_max_bytes: int = Field(
        default=1_000_000_000,
        ge=1,
        description="Payload bytes of unacknowledged events the outbox holds; at the bound new domain events are "
        "refused (Modbus mailboxes keep their records, push devices' messages are dead-lettered, counted).",
    )
    status_every_s: float = Field(
        default=30.0, gt=0, description="Publish the outbox report this often (and on connect and level changes)."
    )

    def outbox_path(self, edge: str) -> Path:
        return self.data_dir / f"edge-{edge}.outbox.sqlite"
