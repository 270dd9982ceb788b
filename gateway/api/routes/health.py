"""Health: is the database reachable, is the broker connected, and what have event and telemetry ingest done."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from gateway.api.deps import DatabaseDep, IngestDep, ProjectionDep
from gateway.api.models import HealthPublic, IngestPublic, ProjectionPublic, TelemetryCountersPublic

router = APIRouter(tags=["health"])


@router.get(
    "/healthz",
    response_model=HealthPublic,
    responses={503: {"model": HealthPublic, "description": "The database is unreachable."}},
)
async def health(db: DatabaseDep, runner: ProjectionDep, ingest: IngestDep) -> HealthPublic | JSONResponse:
    """200 while the database answers (`degraded` if the broker link is down), 503 when it does not."""
    database = await db.ping()
    broker = ingest is not None and ingest.connected.is_set()
    counters = IngestPublic()
    if ingest is not None:
        c = ingest.counters
        counters = IngestPublic(
            accepted=c.accepted,
            duplicates=c.duplicates,
            rejected=dict(c.rejected.counts),
            batches=c.batches,
            acks_published=c.acks_published,
            store_failures=c.store_failures,
        )
    telemetry = TelemetryCountersPublic()
    if ingest is not None:
        t = ingest.telemetry.counters
        telemetry = TelemetryCountersPublic(
            messages=t.messages,
            readings=t.readings,
            dropped=t.dropped,
            rejected=dict(t.rejected.counts),
            batches=t.batches,
            store_failures=t.store_failures,
            downsample_passes=t.downsample_passes,
            raw_folded=t.raw_folded,
            expired=t.expired,
        )
    projection = ProjectionPublic()
    if database:
        backlog, failed = await runner.backlog()
        projected = ingest.projection.counters.projected if ingest is not None else 0
        projection = ProjectionPublic(backlog=backlog, failed=failed, projected=projected)
    status = "unavailable" if not database else "ok" if broker else "degraded"
    body = HealthPublic(
        status=status, database=database, broker=broker, ingest=counters, projection=projection, telemetry=telemetry
    )
    if not database:
        return JSONResponse(body.model_dump(mode="json"), status_code=503)
    return body
