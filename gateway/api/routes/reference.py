"""Reference data: the version in force, its versions, each kind's list, export, and import (admin only).

Lists are for every signed-in role (staff screens show names beside ids); export is for engineers and admins;
import is for admins and is recorded in the access audit trail, whether it was stored or refused.
"""

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse

from gateway.api.deps import ClockDep, ReferenceDep, ReferenceStoreDep, SettingsDep
from gateway.api.models import Problem
from gateway.api.paging import Limit, Offset
from gateway.api.problems import PROBLEM_JSON
from gateway.api.reference_models import (
    ReferenceListPublic,
    ReferenceVersionListPublic,
    ReferenceVersionPublic,
    public,
)
from gateway.auth.deps import AuditDep, PrincipalDep, current_principal, require
from gateway.reference.export import to_bundle, to_csv
from gateway.reference.fhir_mapping import systems_from
from gateway.reference.importer import Source, import_sources
from gateway.reference.problems import ReferenceImportError

Kind = Literal["locations", "staff", "medications", "devices"]
FHIR_JSON = "application/fhir+json"
CSV = "text/csv"

router = APIRouter(prefix="/reference", tags=["reference"], dependencies=[Depends(current_principal)])


@router.get("", response_model=ReferenceVersionPublic)
async def reference_in_force(store: ReferenceStoreDep) -> ReferenceVersionPublic:
    """The version in force: who imported it, when, from which files, and how many of each kind."""
    versions = await store.versions()
    newest = versions[0] if versions else None
    return ReferenceVersionPublic.of(newest, newest.version if newest else 0)


@router.get("/versions", response_model=ReferenceVersionListPublic)
async def reference_versions(
    store: ReferenceStoreDep, limit: Limit = 100, offset: Offset = 0
) -> ReferenceVersionListPublic:
    """Every imported version, newest first; `count` is all of them, `data` one page."""
    versions = await store.versions()
    in_force = versions[0].version if versions else 0
    data = [ReferenceVersionPublic.of(v, in_force) for v in versions[offset : offset + limit]]
    return ReferenceVersionListPublic(data=data, count=len(versions))


@router.get(
    "/export",
    dependencies=[require("engineer")],
    responses={
        200: {"description": "CSV of one kind, or a FHIR R4 Bundle.", "content": {CSV: {}, FHIR_JSON: {}}},
        404: {"model": Problem},
        422: {"model": Problem},
    },
)
async def export_reference(
    store: ReferenceStoreDep,
    format: Annotated[Literal["csv", "fhir"], Query(description="csv: one kind per file; fhir: a Bundle")] = "fhir",
    kind: Annotated[Kind | None, Query(description="Required for csv; for fhir, default every kind.")] = None,
    version: Annotated[int | None, Query(ge=0, le=2**31 - 1, description="Default: the one in force.")] = None,
) -> Response:
    """The reference data as `wardlink reference import` and POST /reference/import take it back."""
    if version is None:
        versions = await store.versions()
        version = versions[0].version if versions else 0
    data = await store.at(version)
    if data is None:
        detail = f"no reference data version {version}; see /api/v1/reference/versions"
        raise HTTPException(status_code=404, detail=detail)
    if format == "csv":
        if kind is None:
            raise HTTPException(status_code=422, detail="kind: a CSV holds one kind; add kind=locations|staff|...")
        headers = {"Content-Disposition": f'attachment; filename="{kind}.csv"'}
        return Response(to_csv(data, kind), media_type=f"{CSV}; charset=utf-8", headers=headers)
    bundle = to_bundle(data, (kind,) if kind else ("locations", "staff", "medications", "devices"))
    return Response(json.dumps(bundle, ensure_ascii=False), media_type=FHIR_JSON)


@router.get("/{kind}", response_model=ReferenceListPublic)
async def reference_list(kind: Kind, data: ReferenceDep, limit: Limit = 100, offset: Offset = 0) -> ReferenceListPublic:
    """One kind's records in force, by id; an id missing here shows on screens as unknown to the reference data."""
    records = [record for _, record in sorted(getattr(data, kind).items())]
    page = [public(kind, r) for r in records[offset : offset + limit]]
    return ReferenceListPublic(version=data.version, kind=kind, data=page, count=len(records))


@router.post(
    "/import",
    status_code=201,
    dependencies=[require("admin")],
    response_model=ReferenceVersionPublic,
    responses={413: {"model": Problem}, 422: {"model": Problem}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "One CSV file (text/csv; the header tells the kind) or a FHIR R4 Bundle.",
            "content": {
                CSV: {"schema": {"type": "string"}},
                FHIR_JSON: {"schema": {"type": "object"}},
                "application/json": {"schema": {"type": "object"}},
            },
        }
    },
)
async def import_reference(
    request: Request,
    store: ReferenceStoreDep,
    settings: SettingsDep,
    clock: ClockDep,
    caller: PrincipalDep,
    audit: AuditDep,
    kind: Annotated[Kind | None, Query(description="CSV only: the kind, when the header fits two.")] = None,
    name: Annotated[
        str, Query(min_length=1, max_length=120, description="The file name problems and the history name.")
    ] = "request body",
    comment: Annotated[str, Query(max_length=200, description="Why, for the version history.")] = "",
) -> Any:
    """Check a file and make it the next version, in force at once; 422 lists every file/row/field/reason."""
    body = await request.body()
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise HTTPException(status_code=422, detail="the body is not UTF-8 text: save the file as UTF-8") from None
    source = Source(name, text, media_type=request.headers.get("content-type"), kind=kind)
    try:
        data = await import_sources(
            store, [source], by=caller.name, comment=comment, now=clock(), systems=systems_from(settings)
        )
    except ReferenceImportError as exc:
        await audit("reference.import", target="reference", outcome="failed", detail=str(exc))
        problem = Problem(title="Unprocessable Content", status=422, detail=f"{exc}; fix the file and POST it again")
        errors = [p.as_dict() for p in exc.problems]
        return JSONResponse({**problem.model_dump(), "errors": errors}, status_code=422, media_type=PROBLEM_JSON)
    counts = ", ".join(f"{n} {k}" for k, n in data.counts().items())
    await audit("reference.import", target=f"reference version {data.version}", detail=f"{name}: {counts}")
    found = next(v for v in await store.versions() if v.version == data.version)
    return ReferenceVersionPublic.of(found, data.version)
