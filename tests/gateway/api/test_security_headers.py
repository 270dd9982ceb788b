"""Every answer carries the security headers; HSTS only over https; the docs pages allow exactly their scripts."""

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from gateway.service import Gateway
from gateway.settings import GatewaySettings
from tests.auth import logged_in

EXPECTED = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


@pytest.fixture
async def behind_proxy(gateway_settings: GatewaySettings) -> AsyncIterator[Gateway]:
    async with Gateway(gateway_settings.model_copy(update={"trusted_proxies": ["127.0.0.1"]})) as running:
        yield running


@pytest.mark.parametrize("path", ["/login", "/lab", "/healthz", "/api/v1/specimens", "/nowhere", "/openapi.json"])
async def test_every_answer_has_the_headers_and_no_hsts_over_plain_http(gateway: Gateway, path: str) -> None:
    async with httpx.AsyncClient(base_url=gateway.api_url) as client:
        response = await client.get(path)
    for name, value in EXPECTED.items():
        assert response.headers[name] == value, name
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy
    assert "script-src 'self';" in policy  # no inline script, no other origin
    assert "strict-transport-security" not in response.headers


async def test_errors_and_dashboard_pages_of_a_logged_in_user_have_them_too(gateway: Gateway) -> None:
    async with logged_in(gateway, "lab") as client:
        page = await client.get("/lab")
        refused = await client.get("/pharmacy")
    assert page.status_code == 200
    assert refused.status_code == 403
    for response in (page, refused):
        assert response.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


async def test_hsts_when_a_trusted_proxy_says_the_client_used_https(behind_proxy: Gateway) -> None:
    async with httpx.AsyncClient(base_url=behind_proxy.api_url) as client:
        over_tls = await client.get("/login", headers={"X-Forwarded-Proto": "https"})
        plain = await client.get("/login", headers={"X-Forwarded-Proto": "http"})
    assert over_tls.headers["strict-transport-security"] == "max-age=63072000"
    assert "strict-transport-security" not in plain.headers


async def test_an_untrusted_caller_cannot_claim_https(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.api_url) as client:
        response = await client.get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "strict-transport-security" not in response.headers


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
async def test_the_docs_pages_run_only_the_gateways_own_scripts(gateway: Gateway, path: str) -> None:
    async with httpx.AsyncClient(base_url=gateway.api_url) as client:
        response = await client.get(path)
        scripts = re.findall(r'<script src="([^"]+)"', response.text)
        files = [await client.get(src) for src in scripts]
    assert response.status_code == 200
    directives = dict(d.strip().split(" ", 1) for d in response.headers["content-security-policy"].split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "<script>" not in response.text  # no inline script: the policy would block it
    assert "http" not in " ".join(scripts)  # nothing from another origin
    assert scripts
    assert all(f.status_code == 200 and f.headers["content-type"].startswith("text/javascript") for f in files)
