"""`create_app(settings, store, ingest)`: the FastAPI application, built per gateway, never at import."""

from fastapi import FastAPI

from gateway.api import problems
from gateway.api.routes import devices, edges, events, health, specimens
from gateway.clock import Clock, utc_now
from gateway.ingest import Ingest
from gateway.settings import GatewaySettings
from gateway.store import Store


def create_app(
    settings: GatewaySettings, store: Store, ingest: Ingest | None = None, *, clock: Clock = utc_now
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
    problems.install(app)
    app.include_router(specimens.router, prefix="/api/v1")
    app.include_router(events.router, prefix="/api/v1")
    app.include_router(devices.router, prefix="/api/v1")
    app.include_router(edges.router, prefix="/api/v1")
    app.include_router(health.router)
    return app
