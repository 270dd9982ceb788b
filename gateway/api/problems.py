"""Every error as `application/problem+json` whose `detail` tells the caller what to do."""

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from gateway.api.models import Problem
from gateway.storage.keyset import InvalidCursorError

PROBLEM_JSON = "application/problem+json"

log = logging.getLogger(__name__)


def problem_response(status: int, detail: str) -> JSONResponse:
    body = Problem(title=HTTPStatus(status).phrase, status=status, detail=detail)
    return JSONResponse(body.model_dump(), status_code=status, media_type=PROBLEM_JSON)


def _validation_detail(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"] if p not in ("path", "query", "body"))
        parts.append(f"{where}: {error['msg']}" if where else error["msg"])
    return "; ".join(parts) + "; fix the request and try again"


_UNPARSABLE = "There was an error parsing the body"
"""FastAPI's 400 for a JSON body it could not decode (not UTF-8, say); the cause tells what was wrong."""


def _unparsable_detail(cause: BaseException | None) -> str:
    if isinstance(cause, UnicodeDecodeError):
        where = f"byte {cause.object[cause.start]:#04x} at offset {cause.start}"
        return f"the request body is not UTF-8 ({where}): send JSON encoded as UTF-8 (RFC 8259)"
    reason = type(cause).__name__ if cause is not None else "unreadable"
    return f"the request body could not be read as JSON ({reason}): send JSON encoded as UTF-8 (RFC 8259)"


def _http_detail(request: Request, exc: HTTPException) -> str:
    """Starlette's bare "Not Found" and "Method Not Allowed" (unknown path, wrong method) made useful."""
    if exc.status_code == 400 and exc.detail == _UNPARSABLE:
        return _unparsable_detail(exc.__cause__)
    if exc.status_code == 404 and exc.detail == "Not Found":
        return (
            f"there is nothing at {request.url.path}: check the path; the API is under /api/v1 "
            "and /openapi.json lists every route"
        )
    if exc.status_code == 405 and exc.detail == "Method Not Allowed":
        allowed = (exc.headers or {}).get("Allow", "")
        return f"{request.method} is not allowed on {request.url.path}; use {allowed or 'another method'}"
    return str(exc.detail)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    response = problem_response(exc.status_code, _http_detail(request, exc))
    response.headers.update(exc.headers or {})  # WWW-Authenticate on a 401, Retry-After on a 429
    return response


async def _invalid_cursor(_: Request, exc: Exception) -> JSONResponse:
    return problem_response(400, str(exc))


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return problem_response(422, _validation_detail(exc))


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    # Starlette logs the traceback after this answer; the caller gets no internals, only what to do.
    log.error("%s %s failed: %s", request.method, request.url.path, type(exc).__name__)
    return problem_response(
        500, "the gateway failed on this request (it is logged): try again; if it persists, tell the engineers"
    )


def _problems_as_problem_json(schema: dict[str, Any]) -> dict[str, Any]:
    """Routes declare `{"model": Problem}`, which FastAPI documents as application/json; what they send is
    application/problem+json, so the schema says that."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for response in operation.get("responses", {}).values():
                content = response.get("content", {})
                body = content.get("application/json", {})
                if body.get("schema", {}).get("$ref", "").endswith("/Problem"):
                    content[PROBLEM_JSON] = content.pop("application/json")
    return schema


def install(app: FastAPI) -> None:
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(InvalidCursorError, _invalid_cursor)
    app.add_exception_handler(Exception, _internal_error)
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _problems_as_problem_json(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to adapt the schema


def _problem(description: str) -> dict[str, object]:
    return {"model": Problem, "description": description}


PROBLEM_RESPONSES: dict[int | str, dict[str, object]] = {
    413: _problem("The request body is larger than the gateway accepts (`WARDLINK_API_MAX_BODY_BYTES`)."),
    422: _problem("The request names something the contract rejects."),
    500: _problem("The gateway failed on this request; it is logged."),
}
