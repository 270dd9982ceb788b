"""Credentials for tests: service tokens and logged-in clients for any role, against a Store or a running Gateway.

headers = await bearer(gateway, "lab", wards=("ward-3a",))
async with authorised(gateway, "pharmacy") as client: ...
async with logged_in(gateway, "lab") as client: ...   # a real session cookie from POST /auth/login
"""

import secrets
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import httpx

from gateway.api import create_app
from gateway.auth.accounts import HasEngine, create_token, create_user
from gateway.composition.stores import Stores
from gateway.service import Gateway
from gateway.settings import GatewaySettings
from wardlink.stack import Stack

Target = HasEngine | Gateway | Stack
"""A `Store`, a running `Gateway`, or a running `Stack` (its gateway)."""


def _store(target: Target) -> HasEngine:
    if isinstance(target, Stack):
        if target.gateway is None:
            raise RuntimeError("the stack is not running: use it inside `async with Stack(...)`")
        target = target.gateway
    if isinstance(target, Gateway):
        if target.store is None:
            raise RuntimeError("the gateway is not running: use it inside `async with Gateway(...)`")
        return target.store.db
    return target


async def bearer(target: Target, role: str = "admin", wards: Sequence[str] = ()) -> dict[str, str]:
    """Headers with a fresh service token of `role` (scoped to `wards`, if any)."""
    name = f"test-{role}-{secrets.token_hex(4)}"
    secret = await create_token(_store(target), name=name, role=role, wards=tuple(wards))
    return {"Authorization": f"Bearer {secret}"}


async def new_user(
    target: Target, role: str = "lab", wards: Sequence[str] = (), name: str | None = None
) -> tuple[str, str]:
    """A new user of `role`; returns (name, password)."""
    name = name or f"{role}-{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(16)
    await create_user(_store(target), name=name, password=password, role=role, wards=tuple(wards))
    return name, password


@asynccontextmanager
async def in_process(settings: GatewaySettings, store: Stores, role: str = "admin") -> AsyncIterator[httpx.AsyncClient]:
    """A client of the API served in process over `store` (no socket), sending a service token of `role`."""
    transport = httpx.ASGITransport(app=create_app(settings, store))
    headers = await bearer(store.db, role)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway", headers=headers) as client:
        yield client


@asynccontextmanager
async def authorised(
    gateway: Gateway | Stack, role: str = "admin", wards: Sequence[str] = ()
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the running gateway's (or stack's) API that sends a service token of `role`."""
    headers = await bearer(gateway, role, wards)
    async with httpx.AsyncClient(base_url=gateway.api_url, headers=headers, timeout=10) as client:
        yield client


@asynccontextmanager
async def logged_in(gateway: Gateway, role: str = "lab", wards: Sequence[str] = ()) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client that logged in as a new user of `role` (its cookie jar holds the session)."""
    name, password = await new_user(gateway, role, wards)
    client = httpx.AsyncClient(base_url=gateway.api_url, timeout=10)
    async with client:
        response = await client.post("/api/v1/auth/login", json={"username": name, "password": password})
        response.raise_for_status()
        yield client
