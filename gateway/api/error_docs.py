"""The errors each operation can answer, in its OpenAPI: 400 where it reads a body, 401/403 where it is protected.

FastAPI documents the responses a route declares; the ones that come from dependencies and middleware (no
credentials, the wrong role, a change from another origin, a body that is not UTF-8 JSON) it cannot see. This
walks every route's dependencies when the schema is first built and adds those to its operations.
"""

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts

from gateway.api.problems import PROBLEM_JSON
from gateway.api.same_origin import SAFE_METHODS
from gateway.auth.deps import current_principal

BAD_BODY = "The body is not JSON encoded as UTF-8 (RFC 8259): the problem's detail says where it broke."
NO_CREDENTIALS = "No valid credentials: log in (session cookie) or send a service token."
FORBIDDEN = "Your role may not use this, or a browser sent the change from another origin's page."
OTHER_ORIGIN = "A browser sent this change from another origin's page (cross-site request forgery)."


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _calls(dependency)


def _errors(route: RouteContext) -> dict[str, str]:
    """Status code to description, for the errors `route` can answer beyond those it declares."""
    calls = list(_calls(route.dependant))
    errors: dict[str, str] = {}
    if route.body_field is not None:
        errors["400"] = BAD_BODY
    if current_principal in calls:
        errors["401"] = NO_CREDENTIALS
    if any(getattr(call, "__name__", "").startswith("require_") for call in calls):
        errors["403"] = FORBIDDEN
    elif (route.methods or set()) - SAFE_METHODS:
        errors["403"] = OTHER_ORIGIN
    return errors


def document_errors(app: FastAPI, schema: dict[str, Any]) -> dict[str, Any]:
    """Add the 400, 401 and 403 problems to the operations of `schema` that can answer them (declared ones stay)."""
    problem = {"schema": {"$ref": "#/components/schemas/Problem"}}
    paths = schema.get("paths", {})
    for route in iter_route_contexts(app.routes):  # included routers as the schema sees them (prefixes, dependencies)
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        errors = _errors(route)
        for method in route.methods or ():
            operation = paths.get(route.path_format or "", {}).get(method.lower())
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            for status, description in errors.items():
                responses.setdefault(status, {"description": description, "content": {PROBLEM_JSON: problem}})
            operation["responses"] = dict(sorted(responses.items()))
    return schema


def install(app: FastAPI) -> None:
    """Document the errors in the schema the app serves (after `problems.install`, which it builds on)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_errors(app, generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to adapt the schema
