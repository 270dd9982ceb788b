"""Parse a broker URL (`mqtt://user:pass@host:1883`, `mqtts://...`) into what an MQTT client needs."""

import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

_DEFAULT_PORTS = {"mqtt": 1883, "tcp": 1883, "mqtts": 8883, "ssl": 8883}


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> "BrokerAddress":
        parts = urlsplit(url)
        if parts.scheme not in _DEFAULT_PORTS:
            raise ValueError(f"broker URL {url!r}: scheme must be one of {sorted(_DEFAULT_PORTS)}")
        if not parts.hostname:
            raise ValueError(f"broker URL {url!r} names no host")
        return cls(
            host=parts.hostname,
            port=parts.port or _DEFAULT_PORTS[parts.scheme],
            tls=parts.scheme in ("mqtts", "ssl"),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )

    def __str__(self) -> str:
        # Never print the password.
        scheme = "mqtts" if self.tls else "mqtt"
        user = f"{self.username}@" if self.username else ""
        return f"{scheme}://{user}{self.host}:{self.port}"

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `aiomqtt.Client`: host, port, credentials, and TLS with system CAs for mqtts."""
        kwargs: dict[str, Any] = {
            "hostname": self.host,
            "port": self.port,
            "username": self.username,
            "password": self.password,
        }
        if self.tls:
            kwargs["tls_context"] = ssl.create_default_context()
        return kwargs
