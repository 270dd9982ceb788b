"""The dashboard's static files, served under a content-versioned path so browsers may cache them for good."""

import hashlib
import mimetypes
from functools import cache
from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response

STATIC_DIR = Path(__file__).resolve().parent / "static"
IMMUTABLE = "public, max-age=31536000, immutable"
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}

router = APIRouter(include_in_schema=False)


@cache
def version() -> str:
    """A digest of every static file: a new release gets new URLs, so a cached old file is never used."""
    digest = hashlib.sha256()
    for path in sorted(STATIC_DIR.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(STATIC_DIR).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def url(name: str) -> str:
    """The URL of a static file, e.g. `url("js/lab.js")`."""
    return f"/static/{version()}/{name}"


@cache
def _read(name: str) -> bytes | None:
    path = (STATIC_DIR / name).resolve()
    if not path.is_relative_to(STATIC_DIR) or not path.is_file():
        return None
    return path.read_bytes()


@router.get("/static/{release}/{name:path}")
async def static_file(release: str, name: str) -> Response:
    """A static file; cached for a year when asked for under the current release, not cached otherwise."""
    body = _read(name)
    if body is None:
        raise HTTPException(status_code=404, detail=f"no static file {name!r}")
    suffix = Path(name).suffix
    media_type = TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"
    cache_control = IMMUTABLE if release == version() else "no-cache"
    return Response(body, media_type=media_type, headers={"Cache-Control": cache_control})
