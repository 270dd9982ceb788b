"""The compose file's TLS proxy: how docker-compose.yml wires it, and nginx with its configuration for real.

The gateways publish nothing; the proxy is the one published way in and the one address they trust. Then nginx
runs deploy/nginx/wardlink.conf in front of a running gateway, only the addresses changed (the upstream is this
test's gateway, the listeners free loopback ports, the certificate the one `deploy/compose-init.sh` issues, here
with `--host 127.0.0.1` as the docs say to add a name). Through it: TLS with the generated CA, plain HTTP only
redirects, the gateway sees https (Secure cookie, HSTS), a client's own X-Forwarded-For is replaced by the proxy,
and the gateway's same-origin check accepts its own pages' origin. The nginx part is skipped where nginx is not
installed (`apt-get install nginx-light`).
"""

import asyncio
import ipaddress
import os
import re
import shutil
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from cryptography import x509

from gateway.service import Gateway
from gateway.settings import GatewaySettings
from tests.auth import authorised, new_user
from tests.deploy.test_compose import GATEWAYS, TEST_SECRETS, _fields, environment, interpolated, local_path, mounts
from tests.infra import Infra, embedded_infra
from tests.paths import ROOT
from wardlink.net import free_port

CONF = ROOT / "deploy" / "nginx" / "wardlink.conf"
INIT_SCRIPT = ROOT / "deploy" / "compose-init.sh"


def _nginx() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found is None:
        pytest.skip("the TLS proxy test needs nginx: apt-get install nginx-light")
    return found


def _version(nginx: str) -> tuple[int, ...]:
    out = subprocess.run([nginx, "-v"], capture_output=True, text=True, check=True)  # noqa: S603
    match = re.search(r"nginx/(\d+)\.(\d+)", out.stderr)
    assert match, out.stderr
    return tuple(int(part) for part in match.groups())


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return interpolated(yaml.safe_load((ROOT / "docker-compose.yml").read_text()), TEST_SECRETS)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tls") / "secure-mqtt"
    done = subprocess.run(  # noqa: S603 - the documented init script, with one more host name
        ["sh", str(INIT_SCRIPT), "--host", "127.0.0.1"],  # noqa: S607
        env={**os.environ, "OUT": str(out), "WARDLINK": str(Path(sys.executable).parent / "wardlink")},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return out


# -- the compose file and the configuration ----------------------------------------------------------------------


def _nginx_directives(name: str) -> list[str]:
    """The arguments of every `name ...;` directive in the proxy's configuration (comments left out)."""
    text = "\n".join(line.split("#", 1)[0] for line in CONF.read_text().splitlines())
    return [match.strip() for match in re.findall(rf"(?m)^\s*{name}\s+([^;]*);", text)]


def test_only_the_tls_proxy_is_published_and_plain_http_only_redirects(compose: dict[str, Any]) -> None:
    services = compose["services"]
    published = {name for name, service in services.items() if "ports" in service}
    assert published == {"proxy", "mosquitto", "influxdb"}  # the broker is TLS-only (8883); InfluxDB its own
    assert services["proxy"]["ports"] == ["443:443", "80:80"]
    assert _nginx_directives("listen") == ["80", "443 ssl"]
    assert _nginx_directives("return") == ["308 https://$host$request_uri"]
    assert _nginx_directives("ssl_protocols") == ["TLSv1.2 TLSv1.3"]


def test_the_proxy_serves_the_generated_certificate_and_forwards_to_both_gateways(
    compose: dict[str, Any], certificates: Path
) -> None:
    proxy = compose["services"]["proxy"]
    volumes = mounts(proxy)
    assert volumes["/etc/nginx/conf.d/default.conf"] == "./deploy/nginx/wardlink.conf"
    for directive in ("ssl_certificate", "ssl_certificate_key"):
        (inside,) = _nginx_directives(directive)
        assert local_path(certificates, volumes[inside]).is_file(), directive
    certificate = x509.load_pem_x509_certificate(
        local_path(certificates, volumes["/etc/nginx/tls/server.crt"]).read_bytes()
    )
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    ports = {
        GatewaySettings.model_validate(_fields(environment(compose["services"][n], certificates))).api_port
        for n in GATEWAYS
    }
    assert _nginx_directives("server")[:2] == [
        f"{name}:{port} max_fails=3 fail_timeout=10s" for name in GATEWAYS for port in ports
    ]
    assert set(proxy["depends_on"]) == set(GATEWAYS)


def test_the_gateways_trust_only_the_proxy_and_send_secure_cookies(compose: dict[str, Any], certificates: Path) -> None:
    address = compose["services"]["proxy"]["networks"]["default"]["ipv4_address"]
    (subnet,) = [pool["subnet"] for pool in compose["networks"]["default"]["ipam"]["config"]]
    assert ipaddress.ip_address(address) in ipaddress.ip_network(subnet)
    for name in GATEWAYS:
        settings = GatewaySettings.model_validate(_fields(environment(compose["services"][name], certificates)))
        assert settings.trusted_proxies == [f"{address}/32"]
        assert settings.cookie_secure is True
    # What the gateways believe is what the proxy sets: the peer's address, replacing any the client sent.
    assert "X-Forwarded-For $remote_addr" in _nginx_directives("proxy_set_header")
    assert "X-Forwarded-Proto https" in _nginx_directives("proxy_set_header")


@pytest.fixture
async def infra(tmp_path: Path) -> AsyncIterator[Infra]:
    async with embedded_infra(tmp_path) as value:
        yield value


@pytest.fixture
async def gateway(gateway_settings: GatewaySettings) -> AsyncIterator[Gateway]:
    """A gateway that trusts the proxy (on 127.0.0.1 here, 172.30.0.10 in compose)."""
    async with Gateway(gateway_settings.model_copy(update={"trusted_proxies": ["127.0.0.1"]})) as running:
        yield running


def _site_conf(gateway: Gateway, certificates: Path, http_port: int, https_port: int, nginx: str) -> str:
    upstream = gateway.api_url.removeprefix("http://")
    text = CONF.read_text()
    text, upstreams = re.subn(r"server gateway-\d:8080", f"server {upstream}", text)
    assert upstreams == 2
    text = text.replace("listen 80;", f"listen 127.0.0.1:{http_port};")
    text = text.replace("listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;")
    text = text.replace("/etc/nginx/tls/server.crt", str(certificates / "broker" / "server.crt"))
    text = text.replace("/etc/nginx/tls/server.key", str(certificates / "broker" / "server.key"))
    if _version(nginx) < (1, 25):
        text = text.replace("http2 on;", "")  # the directive is nginx 1.25.1+ (compose runs 1.27)
    return text


@pytest.fixture
def proxy(gateway: Gateway, certificates: Path, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """nginx running the repository's site configuration; yields (https URL, http URL)."""
    nginx = _nginx()
    http_port, https_port = free_port(), free_port()
    (tmp_path / "wardlink.conf").write_text(_site_conf(gateway, certificates, http_port, https_port, nginx))
    (tmp_path / "nginx.conf").write_text(
        f"daemon off; pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log;\n"
        "events {}\n"
        f"http {{ access_log off; client_body_temp_path {tmp_path}/body; proxy_temp_path {tmp_path}/proxy;\n"
        f"  include {tmp_path}/wardlink.conf; }}\n"
    )
    process = subprocess.Popen(  # noqa: S603
        [nginx, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")], stderr=subprocess.PIPE
    )
    try:
        yield f"https://127.0.0.1:{https_port}", f"http://127.0.0.1:{http_port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _client(certificates: Path, base_url: str) -> httpx.AsyncClient:
    context = ssl.create_default_context(cafile=str(certificates / "ca" / "ca.crt"))
    return httpx.AsyncClient(base_url=base_url, verify=context, timeout=10)


async def _until_up(client: httpx.AsyncClient) -> httpx.Response:
    for _ in range(100):
        try:
            return await client.get("/healthz")
        except httpx.ConnectError:
            await asyncio.sleep(0.05)
    raise AssertionError("nginx did not come up")


async def test_through_the_proxy_tls_secure_cookies_hsts_and_the_real_client(
    gateway: Gateway, proxy: tuple[str, str], certificates: Path
) -> None:
    https_url, http_url = proxy
    name, password = await new_user(gateway, "lab")
    async with _client(certificates, https_url) as client:
        health = await _until_up(client)
        assert health.status_code == 200
        assert health.headers["strict-transport-security"] == "max-age=63072000"
        login = await client.post(
            "/api/v1/auth/login",
            json={"username": name, "password": password},
            headers={"Origin": https_url, "X-Forwarded-For": "203.0.113.66"},
        )
        assert login.status_code == 200, login.text
        cookie = login.headers["set-cookie"]
        assert "Secure" in cookie
        assert "HttpOnly" in cookie
        # A change from another origin is still refused behind the proxy; from its own pages it goes through.
        forged = await client.post("/api/v1/auth/logout", headers={"Origin": "https://127.0.0.1:1"})
        assert forged.status_code == 403
        own = await client.post("/api/v1/auth/logout", headers={"Origin": https_url})
        assert own.status_code == 204
    async with httpx.AsyncClient(base_url=http_url) as plain:
        redirect = await plain.get("/lab?x=1")
    assert redirect.status_code == 308
    assert redirect.headers["location"] == "https://127.0.0.1/lab?x=1"

    async with authorised(gateway, "admin") as admin:
        trail = (await admin.get("/api/v1/audit", params={"actor": name})).json()["data"]
    assert [entry["client"] for entry in trail] == ["127.0.0.1"]  # the proxy's peer, not the claimed address
