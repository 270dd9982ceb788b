"""`create_app(settings, store, ingest)`: the FastAPI application, built per gateway, never at import."""

from fastapi import FastAPI

from gateway.api import problems
from gateway.api.routes import (
    alerts,
    cabinets,
    carriers,
    custody,
    deliveries,
    devices,
    edges,
    events,
    health,
    integrations,
    rules,
    specimens,
    stream,
    turnaround,
)
from gateway.clock import Clock, utc_now
from gateway.ingest import Ingest
from gateway.live import LiveHub
from gateway.settings import GatewaySettings
from gateway.store import Store


def create_app(
    settings: GatewaySettings,
    store: Store,
    ingest: Ingest | None = None,
    *,
    clock: Clock = utc_now,
    live: LiveHub | None = None,
) -> FastAPI:
    app = FastAPI(
        title="wardlink gateway",
        summary="Specimens, devices, events, edges and the gateway's health, from what the edges publish.",
        version="1",
        responses=problems.PROBLEM_RESPONSES,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.ingest = ingest
    app.state.clock = clock
    if live is None:  # an app without a Gateway (tests, tools) still streams what its store commits
        live = LiveHub()
        store.listeners.append(live.publish)
    app.state.live = live
    problems.install(app)
    app.include_router(specimens.router, prefix="/api/v1")
    app.include_router(carriers.router, prefix="/api/v1")
    app.include_router(turnaround.router, prefix="/api/v1")
    app.include_router(integrations.router, prefix="/api/v1")
    app.include_router(events.router, prefix="/api/v1")
    app.include_router(devices.router, prefix="/api/v1")
    app.include_router(edges.router, prefix="/api/v1")
    app.include_router(deliveries.router, prefix="/api/v1")
    app.include_router(cabinets.router, prefix="/api/v1")
    app.include_router(cabinets.replenishment_router, prefix="/api/v1")
    app.include_router(custody.router, prefix="/api/v1")
    app.include_router(stream.router, prefix="/api/v1")
    app.include_router(alerts.router, prefix="/api/v1")
    app.include_router(rules.router, prefix="/api/v1")
    app.include_router(health.router)
    return app
