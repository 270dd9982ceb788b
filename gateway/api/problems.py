"""Every error as `application/problem+json` whose `detail` tells the caller what to do."""

from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from gateway.api.models import Problem

PROBLEM_JSON = "application/problem+json"


def problem_response(status: int, detail: str) -> JSONResponse:
    body = Problem(title=HTTPStatus(status).phrase, status=status, detail=detail)
    return JSONResponse(body.model_dump(), status_code=status, media_type=PROBLEM_JSON)


def _validation_detail(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"] if p not in ("path", "query", "body"))
        parts.append(f"{where}: {error['msg']}" if where else error["msg"])
    return "; ".join(parts) + "; fix the request and try again"


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return problem_response(exc.status_code, str(exc.detail))


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return problem_response(422, _validation_detail(exc))


def install(app: FastAPI) -> None:
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)


PROBLEM_RESPONSES: dict[int | str, dict[str, object]] = {
    422: {"model": Problem, "description": "The request names something the contract rejects."},
}
