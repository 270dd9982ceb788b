"""Gateway settings from `WARDLINK_*` environment variables, with defaults that run anywhere."""

import uuid
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _client_id() -> str:
    return f"wardlink-gateway-{uuid.uuid4().hex[:12]}"


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
    ingest_batch_wait_ms: int = Field(default=20, ge=0)
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

    @model_validator(mode="after")
    def _retention_outlasts_raw(self) -> "GatewaySettings":
        if self.telemetry_retention_days * 24 < self.telemetry_raw_hours:
            raise ValueError(
                "WARDLINK_TELEMETRY_RETENTION_DAYS must cover at least WARDLINK_TELEMETRY_RAW_HOURS: "
                f"{self.telemetry_retention_days:g} days < {self.telemetry_raw_hours:g} hours"
            )
        return self

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'wardlink.db'}"


@lru_cache
def get_settings() -> GatewaySettings:
    """The process's settings, read from the environment once."""
    return GatewaySettings()
