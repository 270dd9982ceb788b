"""FHIR responses: resources and Bundles as application/fhir+json, and every error under /fhir/ an OperationOutcome.

`install(app)` wraps the API's problem+json handlers (gateway.api.problems): a request under `PREFIX` gets an
OperationOutcome with the same status and reason (401, 403, 404, 405, 500 and search errors as 400); any other
request gets the problem+json it got before.
"""

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.responses import Response

from gateway.clinical.fhir.bundle import searchset
from gateway.clinical.fhir.datatypes import FHIR_JSON
from gateway.clinical.fhir.outcome import IssueCode, issue_code, operation_outcome
from gateway.clinical.fhir.search import Search, SearchError

PREFIX = "/fhir/r4"

log = logging.getLogger(__name__)


class FhirResponse(JSONResponse):
    media_type = FHIR_JSON


def base_url(request: Request) -> str:
    """The server's FHIR base as the caller reached it, for fullUrl and links."""
    return str(request.base_url).rstrip("/") + PREFIX


def resource_response(resource: dict[str, Any]) -> FhirResponse:
    return FhirResponse(resource)


def bundle_response(
    request: Request, search: Search, resources: Sequence[dict[str, Any]], total: int, now: datetime
) -> FhirResponse:
    return FhirResponse(searchset(base_url(request), search, resources, total, now))


def not_found(resource_type: str, resource_id: str) -> HTTPException:
    """404 for an unknown id, and for another ward's (as if it did not exist)."""
    return HTTPException(404, f"{resource_type}/{resource_id} is not known here: check the id, or search by identifier")


def outcome_response(
    status: int, diagnostics: str, code: IssueCode | None = None, headers: Mapping[str, str] | None = None
) -> FhirResponse:
    body = operation_outcome(diagnostics, code or issue_code(status))
    return FhirResponse(body, status_code=status, headers=headers)


def _is_fhir(request: Request) -> bool:
    return request.url.path == PREFIX or request.url.path.startswith(PREFIX + "/")


def _http_detail(request: Request, exc: HTTPException) -> str:
    if exc.status_code == 404 and exc.detail == "Not Found":
        return f"there is nothing at {request.url.path}: GET {PREFIX}/metadata lists the resources and searches"
    if exc.status_code == 405:
        return f"{request.method} is not supported here: this FHIR server answers read and search (GET) only"
    return str(exc.detail)


Handler = Callable[[Request, Exception], Awaitable[Response]]


def install(app: FastAPI) -> None:
    """OperationOutcomes under `PREFIX`; call after `gateway.api.problems.install`, whose handlers it keeps."""
    handlers: dict[Any, Handler] = app.exception_handlers  # type: ignore[assignment]  # Starlette's loose typing
    previous_http, previous_validation = handlers[HTTPException], handlers[RequestValidationError]
    previous_error = handlers[Exception]

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if not _is_fhir(request):
            return await previous_http(request, exc)
        return outcome_response(exc.status_code, _http_detail(request, exc), headers=exc.headers)

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        if not _is_fhir(request):
            return await previous_validation(request, exc)
        reasons = "; ".join(str(e["msg"]) for e in exc.errors())
        return outcome_response(400, f"{reasons}; fix the request and try again")

    async def search_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, SearchError)
        return outcome_response(400, str(exc), exc.code)  # type: ignore[arg-type]  # SearchError's codes are issue codes

    async def internal_error(request: Request, exc: Exception) -> Response:
        if not _is_fhir(request):
            return await previous_error(request, exc)
        log.error("%s %s failed: %s", request.method, request.url.path, type(exc).__name__)
        return outcome_response(500, "the gateway failed on this request (it is logged): try again", "exception")

    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(SearchError, search_error)
    app.add_exception_handler(Exception, internal_error)
