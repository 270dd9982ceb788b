"""`GET /metrics`: the gateway's Prometheus metrics (gateway/api/metrics.py), for engineers, admins and scrapers.

Prometheus scrapes it with a service token (`authorization: {type: Bearer, credentials_file: ...}`); an engineer
token is enough. docs/deployment.md has the scrape configuration.
"""

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from gateway.api.metrics import GatewayMetrics
from gateway.auth.deps import require

router = APIRouter(tags=["metrics"], dependencies=[require("engineer", "admin")])


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "content": {CONTENT_TYPE_PLAIN_0_0_4: {}},
            "description": "Prometheus text format (OpenMetrics if the Accept header asks).",
        }
    },
)
async def metrics(request: Request) -> Response:
    """Ingest counters and lag, telemetry, alerts open, device and edge states, edge outboxes, links up or down."""
    gateway_metrics: GatewayMetrics = request.app.state.metrics
    await gateway_metrics.refresh()
    body, content_type = gateway_metrics.exposition(request.headers.get("accept"))
    return Response(body, media_type=content_type)
