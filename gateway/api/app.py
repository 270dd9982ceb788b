"""`create_app(settings, stores, ingest)`: the FastAPI application, built per gateway, never at import."""

from fastapi import FastAPI

from gateway.api import error_docs, problems
from gateway.api.body_limit import BodyLimit
from gateway.api.docs_pages import docs_router
from gateway.api.fhir import responses as fhir_responses
from gateway.api.fhir.router import fhir_router
from gateway.api.live import LiveHub
from gateway.api.metrics import EventLatency, GatewayMetrics
from gateway.api.routes import (
    accounts,
    alerts,
    audit,
    auth,
    cabinets,
    carriers,
    custody,
    deliveries,
    devices,
    edges,
    events,
    health,
    hospital_clock,
    integrations,
    manual_custody,
    reference,
    robots,
    rules,
    simulation,
    specimens,
    stream,
    turnaround,
)
from gateway.api.routes import metrics as metrics_route
from gateway.api.same_origin import SameOrigin
from gateway.api.security_headers import SecurityHeaders
from gateway.composition.stores import Stores
from gateway.dashboard.pages import router as dashboard_router
from gateway.ingest.subscriber import Ingest
from gateway.runtime.clock import Clock, utc_now
from gateway.settings import GatewaySettings
from gateway.simulation.control import SimulationLink


def create_app(
    settings: GatewaySettings,
    stores: Stores,
    ingest: Ingest | None = None,
    *,
    clock: Clock = utc_now,
    live: LiveHub | None = None,
    latency: EventLatency | None = None,
    simulation_link: SimulationLink | None = None,
) -> FastAPI:
    """The API over `stores`; `live` and `latency` are fed by the stores' observers (`Stores.build`), so a hub or
    histograms made here for an app without a `Gateway` hear nothing: pass the ones the stores were built with."""
    app = FastAPI(
        title="wardlink gateway",
        summary="Specimens, devices, events, edges and the gateway's health, from what the edges publish.",
        version="1",
        responses=problems.PROBLEM_RESPONSES,
        docs_url=None,  # served by docs_router from vendored files, not from a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.stores = stores
    app.state.ingest = ingest
    app.state.clock = clock
    app.state.live = live or LiveHub()
    app.state.simulation = simulation_link
    app.state.metrics = GatewayMetrics(stores.db, ingest, latency)
    problems.install(app)
    fhir_responses.install(app)  # OperationOutcome, not problem+json, under /fhir/r4
    app.add_middleware(BodyLimit, max_bytes=settings.api_max_body_bytes)  # 413 problem (docs/api.md)
    app.add_middleware(SameOrigin)  # 403 for a change sent from another origin's page (docs/security.md)
    app.add_middleware(SecurityHeaders)  # outermost: CSP, frame and sniffing headers on every answer
    app.include_router(specimens.router, prefix="/api/v1")
    app.include_router(manual_custody.router, prefix="/api/v1")
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
    app.include_router(reference.router, prefix="/api/v1")
    app.include_router(auth.router, prefix="/api/v1")
    app.include_router(accounts.router, prefix="/api/v1")
    app.include_router(audit.router, prefix="/api/v1")
    app.include_router(simulation.router, prefix="/api/v1")
    app.include_router(robots.router, prefix="/api/v1")
    app.include_router(hospital_clock.router, prefix="/api/v1")
    app.include_router(fhir_router())  # FHIR R4 read and search (gateway/api/fhir), outside /api/v1
    app.include_router(dashboard_router)  # the staff pages and their static files (gateway/dashboard)
    app.include_router(health.router)
    app.include_router(docs_router(app))  # /docs and /redoc, working with no internet (gateway/api/docs_pages.py)
    app.include_router(metrics_route.router)  # /metrics: Prometheus, engineer or admin (gateway/api/metrics.py)
    error_docs.install(app)  # 400/401/403 in the OpenAPI of the operations that can answer them
    return app
