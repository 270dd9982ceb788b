"""Cross-site request forgery: a change sent by a browser must come from one of the gateway's own pages.

The session cookie is `SameSite=Strict`, but "site" ignores the port: a page on another port of the same host (or
another host of the same registrable domain) is the same site, and its forms carry the cookie. So every
state-changing request (POST, PUT, PATCH, DELETE) that does not authenticate with a bearer token must name the
gateway's own origin in `Origin` (or, where a browser leaves that out, `Referer`); `Origin: null` (a sandboxed or
privacy-stripped page) and a Fetch Metadata `Sec-Fetch-Site` other than same-origin are refused too. A request with
none of these headers did not come from a browser page (curl, a script) and is let through: forging one needs no
victim's browser. Bearer-token callers carry their credential explicitly, which a forged form cannot, and are
not checked. The gateway's own origin is the scheme it was reached by (https behind a trusted proxy that says so)
and the `Host` the caller asked for.
"""

from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.api.problems import problem_response

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _normalised(scheme: str, netloc: str) -> str | None:
    """`scheme://host:port` with the default port written out, or None when `netloc` is not a host."""
    try:
        parts = urlsplit(f"{scheme}://{netloc}")
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not host:
        return None
    return f"{scheme}://{host}:{port or _DEFAULT_PORTS.get(scheme, 0)}"


def _claimed(headers: Headers) -> str | None:
    """The origin the browser says the request comes from: `Origin`, else the origin part of `Referer`."""
    value = headers.get("origin") or headers.get("referer")
    if value is None:
        return None
    parts = urlsplit(value)
    return _normalised(parts.scheme.lower(), parts.netloc) if parts.scheme and parts.netloc else "null"


def own_origin(scope: Scope, headers: Headers) -> str | None:
    """The origin the caller reached the gateway at."""
    scheme = "https" if scope.get("scheme") == "https" else "http"
    return _normalised(scheme, headers.get("host", ""))


def refusal(scope: Scope) -> str | None:
    """Why this request looks forged from another origin's page, or None when it may go ahead."""
    if scope["method"] in SAFE_METHODS:
        return None
    headers = Headers(scope=scope)
    if headers.get("authorization"):
        return None
    claimed = _claimed(headers)
    if claimed is None:
        fetch_site = headers.get("sec-fetch-site")
        if fetch_site is None or fetch_site in ("same-origin", "none"):
            return None
        return f"the browser says it comes from a {fetch_site} page"
    ours = own_origin(scope, headers)
    if claimed == "null" or claimed != ours:
        return f"it comes from a page of {headers.get('origin') or 'another origin'}, not of this gateway"
    return None


class SameOrigin:
    """ASGI middleware: 403 problem for a state-changing cookie (or anonymous) request from another origin."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (reason := refusal(scope)) is not None:
            detail = (
                f"refused: {reason}; the gateway accepts changes only from its own pages "
                "(or with 'Authorization: Bearer <service token>')"
            )
            await problem_response(403, detail)(scope, receive, send)
            return
        await self.app(scope, receive, send)
