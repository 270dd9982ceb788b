"""Broker URLs for the secure profile: a private CA and client certificates, from the URL or the environment."""

import socket
import ssl
from pathlib import Path

import aiomqtt
import pytest

from mqttlink.url import BrokerAddress
from tests.infra import Infra
from wardlink.security.ca import DevelopmentCA

ENV = {
    "WARDLINK_MQTT_CA_FILE": "/etc/wardlink/ca.crt",
    "WARDLINK_MQTT_CERT_FILE": "/etc/wardlink/client.crt",
    "WARDLINK_MQTT_KEY_FILE": "/etc/wardlink/client.key",
}


@pytest.mark.parametrize(
    ("url", "env", "ca_file", "cert_file"),
    [
        ("mqtts://broker?ca_file=/srv/ca.pem", {}, "/srv/ca.pem", None),
        ("mqtts://broker", ENV, "/etc/wardlink/ca.crt", "/etc/wardlink/client.crt"),
        ("mqtts://broker?ca_file=/srv/ca.pem", ENV, "/srv/ca.pem", "/etc/wardlink/client.crt"),  # the URL wins
        ("mqtt://broker", ENV, None, None),  # a plain link stays plain whatever the environment says
        ("mqtts://broker", {}, None, None),  # the system's CAs
    ],
)
def test_tls_files_come_from_the_url_then_the_environment(
    url: str, env: dict[str, str], ca_file: str | None, cert_file: str | None
) -> None:
    address = BrokerAddress.parse(url, env=env)
    assert (address.ca_file, address.cert_file) == (ca_file, cert_file)


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("mqtt://edge:s3cret@broker?ca_file=/srv/ca.pem", "needs TLS"),
        ("mqtts://edge:s3cret@broker?cafile=/srv/ca.pem", "unknown parameter"),
        ("mqtts://edge:s3cret@broker?cert_file=/srv/c.pem", "cert_file and key_file together"),
    ],
)
def test_a_wrong_tls_parameter_is_refused_without_showing_the_password(url: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint) as raised:
        BrokerAddress.parse(url, env={})
    assert "s3cret" not in str(raised.value)


def test_the_tls_context_trusts_exactly_the_given_ca(tmp_path: Path) -> None:
    ca = DevelopmentCA.create("wardlink test CA")
    (tmp_path / "ca.crt").write_bytes(ca.issued.certificate_pem)
    address = BrokerAddress.parse(f"mqtts://edge%2Fs%2Fe:pw@127.0.0.1:8883?ca_file={tmp_path / 'ca.crt'}", env={})
    kwargs = address.client_kwargs()
    context = kwargs["tls_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    subjects = [dict(pair[0] for pair in cert["subject"]) for cert in context.get_ca_certs()]
    assert subjects == [{"organizationName": "wardlink development CA", "commonName": "wardlink test CA"}]
    assert (kwargs["username"], kwargs["password"]) == ("edge/s/e", "pw")


def test_a_client_certificate_is_loaded_into_the_context(tmp_path: Path) -> None:
    ca = DevelopmentCA.create()
    ca.issue_client("edge/s/e").write(tmp_path / "client.crt", tmp_path / "client.key")
    url = f"mqtts://broker?cert_file={tmp_path / 'client.crt'}&key_file={tmp_path / 'client.key'}"
    assert BrokerAddress.parse(url, env={}).tls_context() is not None
    (tmp_path / "client.key").write_bytes(ca.issue_client("someone-else").key_pem)
    with pytest.raises(ssl.SSLError):  # a key that does not match its certificate is caught before connecting
        BrokerAddress.parse(url, env={}).tls_context()


def test_a_plain_url_has_no_tls_context() -> None:
    assert "tls_context" not in BrokerAddress.parse("mqtt://broker:1883", env=ENV).client_kwargs()


async def test_every_client_sends_small_packets_at_once(infra: Infra) -> None:
    """Nagle's algorithm off: an ack written while the last PUBACK is unacknowledged must not wait ~40 ms."""
    async with aiomqtt.Client(**BrokerAddress.parse(infra.mqtt_url).client_kwargs()) as client:
        raw = client._client.socket()  # paho's socket: aiomqtt applies the options right after connecting
        assert isinstance(raw, socket.socket)
        assert raw.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
