"""The live stream: server-sent events, one `change` per newly stored event, for the dashboard and any client.

Frames: `event: change` with a `Change` as JSON, plus `subject_name` (the subject's name from the reference data:
a cabinet's or a device's; null when unknown or for subjects that have none); a `: heartbeat` comment when nothing
happened for a while; `event: end` with the reason as the last frame (the client fell behind, changes may have gone
unheard, or the gateway is stopping).
"""

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from contract import EVENT_TYPES, Identifier, SubjectKind
from gateway.api.deps import DatabaseDep, ReferenceStoreDep, RulesDep
from gateway.api.live import ChangeFilter, LiveHub, StreamEnd
from gateway.api.names import subject_name
from gateway.auth.deps import PrincipalDep, require
from gateway.auth.scope import Admits, stream_admits
from gateway.reference.model import ReferenceData

router = APIRouter(tags=["stream"], dependencies=[require("lab", "pharmacy", "engineer")])

EVENT_STREAM = "text/event-stream"
RETRY_MS = 3000


ALERT_CHANGES = frozenset({"alert.raised", "alert.acknowledged", "alert.cleared", "alert.escalated"})
STREAM_TYPES = EVENT_TYPES | ALERT_CHANGES
"""What a change's `type` can be: a stored event's type, or what happened to an alert (its id is the alert's)."""


def get_live(request: Request) -> LiveHub:
    return request.app.state.live  # type: ignore[no-any-return]  # app.state is untyped


def frame(event: str, body: Mapping[str, object]) -> str:
    return f"event: {event}\ndata: {json.dumps(body, separators=(',', ':'))}\n\n"


async def frames(
    hub: LiveHub,
    where: ChangeFilter,
    admits: Admits | None = None,
    reference: Callable[[], Awaitable[ReferenceData]] | None = None,
) -> AsyncIterator[str]:
    """The stream's frames until the subscription ends; leaving early (client gone) unsubscribes.

    `admits` (a ward-scoped caller's) drops the changes of other wards, and those with no ward; `reference` (the
    reference data in force, cached by its store) names each change's subject.
    """
    with hub.subscribe(where) as subscription:
        # The subscription exists before the first byte goes out: a client that has read it misses nothing after.
        yield f"retry: {RETRY_MS}\n: stream open\n\n"
        while True:
            try:
                async with asyncio.timeout(hub.heartbeat_s):
                    item = await subscription.next()
            except TimeoutError:
                yield ": heartbeat\n\n"
                continue
            if isinstance(item, StreamEnd):
                yield frame("end", item.as_json())
                return
            if admits is None or await admits(item):
                body: dict[str, object] = dict(item.as_json())
                if reference is not None:
                    body["subject_name"] = subject_name(await reference(), item.subject_kind, item.subject_id)
                yield frame("change", body)


@router.get(
    "/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {EVENT_STREAM: {}}, "description": "Server-sent events: change, end."}},
)
async def stream_changes(
    request: Request,
    db: DatabaseDep,
    rules: RulesDep,
    caller: PrincipalDep,
    reference: ReferenceStoreDep,
    subject_kind: Annotated[SubjectKind | None, Query(description="Only changes about this kind of subject.")] = None,
    subject_id: Annotated[Identifier | None, Query(description="Only changes about this subject id.")] = None,
    type_: Annotated[
        str | None,
        Query(
            alias="type",
            description="Only event types starting with this, e.g. `specimen.`, `delivery.failed` or `alert.`.",
        ),
    ] = None,
) -> StreamingResponse:
    """Every newly stored event as it is committed, as server-sent events; re-read state from the API on `end`."""
    if type_ is not None and not any(t.startswith(type_) for t in STREAM_TYPES):
        raise HTTPException(
            status_code=422,
            detail=f"no event type starts with {type_!r}; use a prefix of one of {', '.join(sorted(STREAM_TYPES))}",
        )
    where = ChangeFilter(subject_kind=subject_kind, subject_id=subject_id, type_prefix=type_)
    return StreamingResponse(
        frames(get_live(request), where, stream_admits(caller, db, rules), reference.current),
        media_type=EVENT_STREAM,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
