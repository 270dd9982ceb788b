"""The browsable API docs, /docs (Swagger UI) and /redoc (ReDoc), served from the gateway's own files.

FastAPI's own pages load both viewers from a public CDN and start them with an inline script, so on a hospital
network without internet they are blank. These pages load the vendored copies in `static/docs/` (versions and
licences in its README) and start them from script files, so the strict policy of `security_headers.py` holds.
"""

import hashlib
from functools import cache
from html import escape
from pathlib import Path

from fastapi import APIRouter, FastAPI, HTTPException
from fastapi.responses import HTMLResponse, Response

DOCS_STATIC = Path(__file__).resolve().parent / "static" / "docs"
ASSETS = "/api-docs"
IMMUTABLE = "public, max-age=31536000, immutable"
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


@cache
def release() -> str:
    """A digest of the vendored files: an updated viewer gets new URLs, so no browser keeps an old one."""
    digest = hashlib.sha256()
    for path in sorted(DOCS_STATIC.iterdir()):
        if path.suffix in TYPES:
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _url(name: str) -> str:
    return f"{ASSETS}/{release()}/{name}"


@cache
def _read(name: str) -> bytes | None:
    path = DOCS_STATIC / name
    if "/" in name or Path(name).suffix not in TYPES or not path.is_file():
        return None
    return path.read_bytes()


def _page(title: str, head: str, body: str) -> HTMLResponse:
    html = (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<title>{escape(title)}</title>\n<link rel="icon" href="data:,">\n{head}</head>\n'
        f"<body>\n{body}</body>\n</html>\n"
    )
    return HTMLResponse(html)


def docs_router(app: FastAPI) -> APIRouter:
    """/docs, /redoc and their files, for `app`'s OpenAPI document."""
    router = APIRouter(include_in_schema=False)
    title = app.title
    openapi = escape(app.openapi_url or "/openapi.json")

    @router.get("/docs")
    async def swagger_ui() -> HTMLResponse:
        head = f'<link rel="stylesheet" href="{_url("swagger-ui.css")}">\n'
        body = (
            f'<div id="swagger-ui" data-openapi="{openapi}"></div>\n'
            f'<script src="{_url("swagger-ui-bundle.js")}"></script>\n'
            f'<script src="{_url("swagger-init.js")}"></script>\n'
        )
        return _page(f"{title} - Swagger UI", head, body)

    @router.get("/redoc")
    async def redoc() -> HTMLResponse:
        body = (
            f'<div id="redoc" data-openapi="{openapi}"></div>\n'
            f'<script src="{_url("redoc.standalone.js")}"></script>\n'
            f'<script src="{_url("redoc-init.js")}"></script>\n'
        )
        return _page(f"{title} - ReDoc", "", body)

    @router.get(ASSETS + "/{version}/{file}")
    async def docs_file(version: str, file: str) -> Response:
        body = _read(file)
        if body is None:
            raise HTTPException(status_code=404, detail=f"no API docs file {file!r}")
        cache_control = IMMUTABLE if version == release() else "no-cache"
        return Response(body, media_type=TYPES[Path(file).suffix], headers={"Cache-Control": cache_control})

    return router
