"""A request body larger than `api_max_body_bytes` gets a 413 problem, however the client sends it.

A declared `Content-Length` over the limit is refused before a byte of the body is read; a body without one
(chunked) or with a smaller one is counted as it arrives and refused as soon as it passes the limit, so a client
cannot make the gateway buffer more than the limit by lying about the size or by streaming.
"""

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.api.problems import problem_response


def _too_large_detail(limit: int) -> str:
    return (
        f"the request body is larger than this gateway accepts ({limit} bytes): send less per request "
        "(split a batch), or raise WARDLINK_API_MAX_BODY_BYTES"
    )


class BodyTooLargeError(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=_too_large_detail(limit))


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class BodyLimit:
    """ASGI middleware: 413 `application/problem+json` for bodies over `max_bytes`."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None and declared > self.max_bytes:
            await problem_response(413, _too_large_detail(self.max_bytes))(scope, receive, send)
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLargeError(self.max_bytes)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLargeError:
            if started:
                raise
            await problem_response(413, _too_large_detail(self.max_bytes))(scope, receive, send)
