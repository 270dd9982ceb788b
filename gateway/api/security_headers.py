"""Security headers on every response: what a browser may load, frame, sniff and remember about the gateway.

The dashboard has no inline script or style (its modules and stylesheet are files under /static), so its policy
allows only the gateway's own origin. The browsable API pages (/docs, /redoc, `docs_pages.py`) load vendored
Swagger UI and ReDoc from the gateway too, started by script files: their policy also allows only the gateway's
own scripts, and adds what the viewers need at run time (inline styles, ReDoc's search worker from a blob).
HSTS is sent only on https (a direct TLS connection, or a trusted proxy's `X-Forwarded-Proto: https`), never
over plain HTTP.
"""

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
"""The dashboard's and the API's policy: the gateway's own files only, never framed."""

DOCS_PATHS = frozenset({"/docs", "/redoc"})
DOCS_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        # Swagger UI and ReDoc set styles at run time (ReDoc writes <style> elements): styles only, no script.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "worker-src 'self' blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
"""The API docs pages' policy: the gateway's own files only, as the dashboard's, plus the viewers' run-time styles."""

HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}
HSTS = "max-age=63072000"
"""Two years; no includeSubDomains: other hosts of the hospital's domain are not the gateway's to decide."""


def _secure(scope: Scope) -> bool:
    return scope.get("scheme") in ("https", "wss")


class SecurityHeaders:
    """ASGI middleware adding the headers above to every HTTP response that does not set its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = DOCS_POLICY if scope["path"] in DOCS_PATHS else CONTENT_SECURITY_POLICY

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                self._add(scope, MutableHeaders(scope=message), policy)
            await send(message)

        await self.app(scope, receive, with_headers)

    @staticmethod
    def _add(scope: Scope, headers: MutableHeaders, policy: str) -> None:
        headers.setdefault("Content-Security-Policy", policy)
        for name, value in HEADERS.items():
            headers.setdefault(name, value)
        if _secure(scope):
            headers.setdefault("Strict-Transport-Security", HSTS)
