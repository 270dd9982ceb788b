"""Security headers on every response: what a browser may load, frame, sniff and remember about the gateway.

The dashboard has no inline script or style (its modules and stylesheet are files under /static), so its policy
allows only the gateway's own origin. The browsable API pages FastAPI renders (/docs, /redoc) load Swagger UI and
ReDoc from a CDN and start them with an inline script: they get a policy naming that CDN and the SHA-256 of the
exact inline scripts they were sent with, so no other inline script runs there either. HSTS is sent only on
https (a direct TLS connection, or a trusted proxy's `X-Forwarded-Proto: https`), never over plain HTTP.
"""

import base64
import hashlib
import re

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

DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})
_CDN = "https://cdn.jsdelivr.net"
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)

HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}
HSTS = "max-age=63072000"
"""Two years; no includeSubDomains: other hosts of the hospital's domain are not the gateway's to decide."""


def docs_policy(html: bytes) -> str:
    """The policy for a FastAPI docs page: its CDN, and only the inline scripts in `html` (by hash)."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'"
        for script in _INLINE_SCRIPT.findall(html)
    )
    return "; ".join(
        (
            "default-src 'self'",
            f"script-src 'self' {_CDN} {hashes}".rstrip(),
            # Swagger UI and ReDoc set styles at run time (ReDoc writes <style> elements): styles only, no script.
            f"style-src 'self' {_CDN} https://fonts.googleapis.com 'unsafe-inline'",
            "font-src 'self' https://fonts.gstatic.com",
            "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly",
            "worker-src 'self' blob:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        )
    )


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
        if scope["path"] in DOCS_PATHS:
            await self._docs(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                self._add(scope, MutableHeaders(scope=message), CONTENT_SECURITY_POLICY)
            await send(message)

        await self.app(scope, receive, with_headers)

    async def _docs(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Hold a docs page (a few kB of HTML) until its body is known, then send it with its own policy."""
        start: Message | None = None
        body = b""

        async def held(message: Message) -> None:
            nonlocal start, body
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] == "http.response.body" and start is not None:
                body += message.get("body", b"")
                if message.get("more_body", False):
                    return
                self._add(scope, MutableHeaders(scope=start), docs_policy(body))
                await send(start)
                await send({"type": "http.response.body", "body": body})
                return
            await send(message)

        await self.app(scope, receive, held)

    @staticmethod
    def _add(scope: Scope, headers: MutableHeaders, policy: str) -> None:
        headers.setdefault("Content-Security-Policy", policy)
        for name, value in HEADERS.items():
            headers.setdefault(name, value)
        if _secure(scope):
            headers.setdefault("Strict-Transport-Security", HSTS)
