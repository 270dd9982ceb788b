"""The tracking rules: the version in force (JSON or YAML), every version, and PUT to import a new one."""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse

from gateway.api.alert_models import RulesVersionListPublic, RulesVersionPublic
from gateway.api.deps import ClockDep, RulesVersionsDep
from gateway.api.models import Problem
from gateway.api.paging import MAX_OFFSET, Limit, Offset, page
from gateway.api.problems import PROBLEM_JSON
from gateway.auth.deps import AuditDep, PrincipalDep, require
from gateway.rules import TrackingRules
from gateway.rules.store import RulesInvalidError, parse_rules, rules_yaml

MAX_BODY = 1_000_000
YAML = "application/yaml"

router = APIRouter(prefix="/rules", tags=["rules"], dependencies=[require("engineer")])

_RULES_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The rules (JSON, or YAML with `format=yaml`).",
        "content": {"application/json": {}, YAML: {}},
    }
}


def _render(rules: TrackingRules, format: str, about: Any = None) -> Response:
    if format == "yaml":
        return Response(rules_yaml(rules, about), media_type=YAML)
    return JSONResponse(rules.model_dump(mode="json"))


@router.get("", responses={**_RULES_RESPONSE, 404: {"model": Problem}})
async def read_rules(
    versions: RulesVersionsDep,
    format: Annotated[
        Literal["json", "yaml"], Query(description="yaml: a file `wardlink rules import` takes")
    ] = "json",
    version: Annotated[
        int | None, Query(ge=0, le=MAX_OFFSET, description="A past version; default the one in force.")
    ] = None,
) -> Response:
    """The rules in force (or one version): turnaround targets, alert thresholds, pharmacy rules."""
    current = versions.current
    if version is None or version == current.version:
        found = await versions.at(current.version)
        return _render(current, format, found[1] if found else None)
    found = await versions.at(version)
    if found is None:
        raise HTTPException(status_code=404, detail=f"no rules version {version}; see /api/v1/rules/versions")
    return _render(found[0], format, found[1])


@router.get("/versions", response_model=RulesVersionListPublic)
async def list_versions(versions: RulesVersionsDep, limit: Limit = 100, offset: Offset = 0) -> RulesVersionListPublic:
    """Every version, newest first, with who imported it and why; `count` is all of them, `data` one page."""
    every = await versions.all()
    in_force = versions.current.version
    data = [
        RulesVersionPublic(
            version=v.version,
            created_at=v.created_at,
            created_by=v.created_by,
            comment=v.comment,
            in_force=v.version == in_force,
        )
        for v in page(every, limit, offset)
    ]
    return RulesVersionListPublic(data=data, count=len(every))


@router.put(
    "",
    status_code=201,
    dependencies=[require("admin")],
    responses={
        201: {"description": "The new version, now in force."},
        413: {"model": Problem},
        422: {"model": Problem},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "A rules document (as GET returns it), YAML or JSON.",
            "content": {YAML: {"schema": {"type": "string"}}, "application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def put_rules(
    request: Request,
    versions: RulesVersionsDep,
    clock: ClockDep,
    caller: PrincipalDep,
    audit: AuditDep,
    by: Annotated[
        str | None,
        Query(min_length=1, max_length=64, description="Who imports them (user or badge id); default the caller."),
    ] = None,
    comment: Annotated[str, Query(max_length=200, description="Why, for the version history.")] = "",
) -> Response:
    """Validate a rules document and make it the next version, in force at once (admin only)."""
    by = caller.name if by is None else by
    if not by.strip():
        raise HTTPException(status_code=422, detail="by: say who imports the rules (a user or badge id)")
    body = await request.body()
    if len(body) > MAX_BODY:
        raise HTTPException(status_code=413, detail=f"a rules document is at most {MAX_BODY} bytes")
    try:
        rules = parse_rules(body, "request body", media_type=request.headers.get("content-type", YAML))
    except RulesInvalidError as exc:
        problem = Problem(title="Unprocessable Content", status=422, detail=f"{exc}; fix the document and PUT again")
        errors = [{"field": p.field, "reason": p.reason} for p in exc.problems]
        await audit("rules.import", target="rules", outcome="failed", detail=str(exc))
        return JSONResponse({**problem.model_dump(), "errors": errors}, status_code=422, media_type=PROBLEM_JSON)
    stored = await versions.adopt(rules, by=by, comment=comment, now=clock())
    await audit("rules.import", target=f"rules version {stored.version}", detail=comment or None)
    return JSONResponse(stored.model_dump(mode="json"), status_code=201)
