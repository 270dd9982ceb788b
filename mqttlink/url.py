"""Parse a broker URL (`mqtt://user:pass@host:1883`, `mqtts://...`) into what an MQTT client needs.

For TLS with a private CA (the secure profile, docs/security.md) name the CA file, and for client certificates
the certificate and key, either in the URL's query (`mqtts://...:8883?ca_file=/etc/wardlink/ca.crt`) or in
`WARDLINK_MQTT_CA_FILE`, `WARDLINK_MQTT_CERT_FILE` and `WARDLINK_MQTT_KEY_FILE`; the URL wins.
Without a CA file, mqtts trusts the system's CAs.

`?link_users=true` (the secure profile's env files): the broker takes each user name as the client id, so a
process's further connections log in as `user/link` (`BrokerAddress.for_link`) instead of taking over its first.
"""

import os
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

NO_DELAY = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)
"""Every MQTT client's socket sends each packet at once: paho leaves Nagle's algorithm on, and a small packet (an ack,
a PUBACK) written while the previous one is unacknowledged waits for the peer's delayed TCP ACK, up to 40 ms."""
_DEFAULT_PORTS = {"mqtt": 1883, "tcp": 1883, "mqtts": 8883, "ssl": 8883}
_TLS_FILES = {
    "ca_file": "WARDLINK_MQTT_CA_FILE",
    "cert_file": "WARDLINK_MQTT_CERT_FILE",
    "key_file": "WARDLINK_MQTT_KEY_FILE",
}


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None
    """PEM file of the CA(s) to trust instead of the system's; TLS only."""
    cert_file: str | None = None
    """PEM client certificate, for brokers that require one; TLS only, with `key_file`."""
    key_file: str | None = None
    link_users: bool = False
    """The broker binds client ids to user names: a second connection must log in as `user/link`."""

    @classmethod
    def parse(cls, url: str, env: Mapping[str, str] | None = None) -> "BrokerAddress":
        """`env` (default: the process environment) supplies the TLS files the URL's query does not name."""
        parts = urlsplit(url)
        if parts.scheme not in _DEFAULT_PORTS:
            raise ValueError(f"broker URL {url!r}: scheme must be one of {sorted(_DEFAULT_PORTS)}")
        if not parts.hostname:
            raise ValueError(f"broker URL {_redacted(url)!r} names no host")
        tls = parts.scheme in ("mqtts", "ssl")
        query = parse_qs(parts.query, keep_blank_values=True)
        if unknown := sorted(set(query) - {*_TLS_FILES, "link_users"}):
            known = ", ".join([*_TLS_FILES, "link_users"])
            raise ValueError(f"broker URL {_redacted(url)!r}: unknown parameter(s) {unknown}; known: {known}")
        environment = os.environ if env is None else env
        files: dict[str, str | None] = {}
        for name, variable in _TLS_FILES.items():
            in_url = query.get(name, [""])[-1]
            if in_url and not tls:
                raise ValueError(f"broker URL {_redacted(url)!r}: {name} needs TLS (mqtts://)")
            # The environment's files are for TLS links only: a plain field broker beside them stays plain.
            files[name] = in_url or (environment.get(variable) if tls else None) or None
        if (files["cert_file"] is None) != (files["key_file"] is None):
            raise ValueError(f"broker URL {_redacted(url)!r}: give cert_file and key_file together")
        return cls(
            host=parts.hostname,
            port=parts.port or _DEFAULT_PORTS[parts.scheme],
            tls=tls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            link_users=query.get("link_users", ["false"])[-1].lower() in ("1", "true", "yes"),
            **files,
        )

    def for_link(self, link: str) -> "BrokerAddress":
        """How a process's connection other than its first logs in: as `user/link` when the broker binds client
        ids to user names (`link_users`), else unchanged."""
        if not self.link_users or self.username is None:
            return self
        return replace(self, username=f"{self.username}/{link}")

    def __str__(self) -> str:
        # Never print the password.
        scheme = "mqtts" if self.tls else "mqtt"
        user = f"{self.username}@" if self.username else ""
        return f"{scheme}://{user}{self.host}:{self.port}"

    def tls_context(self) -> ssl.SSLContext | None:
        """None for plain MQTT; else a verifying context trusting `ca_file` (or the system's CAs)."""
        if not self.tls:
            return None
        context = ssl.create_default_context(cafile=self.ca_file)
        if self.cert_file and self.key_file:
            context.load_cert_chain(self.cert_file, self.key_file)
        return context

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `aiomqtt.Client`: host, port, credentials, TLS for mqtts, and `NO_DELAY`."""
        kwargs: dict[str, Any] = {
            "hostname": self.host,
            "port": self.port,
            "username": self.username,
            "password": self.password,
            "socket_options": NO_DELAY,
        }
        if self.tls:
            kwargs["tls_context"] = self.tls_context()
        return kwargs


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)
