"""A real HTTP server on a loopback port that answers InfluxDB 2's write API, for tests without an InfluxDB.

It implements what the gateway uses: `POST /api/v2/write?org=&bucket=&precision=` with `Authorization: Token ...`
and a line-protocol body, answered 204 (stored), 400 (a line that does not parse, with InfluxDB's JSON error),
401 (wrong token) or 404 (unknown org or bucket); `GET /ping` and `/health`. `fail_next(n, status)` makes the next
n writes answer 503 or 429 (with `Retry-After`), as InfluxDB does when it is overloaded or starting; `hold()`
keeps writes waiting until `release()`, as a slow InfluxDB does.
"""

import gzip
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

_PRECISION_TO_NS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000}


class LineProtocolError(ValueError):
    pass


@dataclass(frozen=True)
class LinePoint:
    measurement: str
    tags: dict[str, str]
    fields: dict[str, float | int | str | bool]
    time_ns: int | None


def _split(text: str, separator: str) -> list[str]:
    """Split on `separator` outside double quotes and not escaped with a backslash; escapes are kept."""
    parts, current, quoted, i = [], [], False, 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            current.append(text[i : i + 2])
            i += 2
            continue
        if char == '"':
            quoted = not quoted
        if char == separator and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    if quoted:
        raise LineProtocolError(f"unterminated string in {text!r}")
    parts.append("".join(current))
    return parts


def _unescape(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in ', ="\\':
            out.append(text[i + 1])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _field_value(raw: str) -> float | int | str | bool:
    if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
        return _unescape(raw[1:-1])
    if raw in ("t", "T", "true", "True", "TRUE"):
        return True
    if raw in ("f", "F", "false", "False", "FALSE"):
        return False
    if raw.endswith("i"):
        return int(raw[:-1])
    if raw.endswith("u"):
        return int(raw[:-1])
    return float(raw)


def parse_line(line: str, precision: str = "ns") -> LinePoint:
    """One line of InfluxDB line protocol: `measurement,tag=v field=1.5 1700000000000`."""
    sections = _split(line, " ")
    if len(sections) not in (2, 3) or not sections[0] or not sections[1]:
        raise LineProtocolError(f"expected 'measurement[,tags] fields [time]': {line!r}")
    key, *tag_pairs = _split(sections[0], ",")
    tags: dict[str, str] = {}
    for pair in tag_pairs:
        name, _, value = pair.partition("=")
        if not name or not value:
            raise LineProtocolError(f"bad tag {pair!r} in {line!r}")
        tags[_unescape(name)] = _unescape(value)
    fields: dict[str, float | int | str | bool] = {}
    for pair in _split(sections[1], ","):
        name, _, value = pair.partition("=")
        if not name or not value:
            raise LineProtocolError(f"bad field {pair!r} in {line!r}")
        try:
            fields[_unescape(name)] = _field_value(value)
        except ValueError:
            raise LineProtocolError(f"bad field value {value!r} in {line!r}") from None
    time_ns = None
    if len(sections) == 3:
        try:
            time_ns = int(sections[2]) * _PRECISION_TO_NS[precision]
        except (ValueError, KeyError):
            raise LineProtocolError(f"bad timestamp {sections[2]!r} (precision {precision!r})") from None
    return LinePoint(_unescape(key), tags, fields, time_ns)


@dataclass
class InfluxState:
    token: str
    org: str
    bucket: str
    points: list[LinePoint] = field(default_factory=list)
    requests: list[tuple[int, int]] = field(default_factory=list)
    """(status answered, lines in the body) per write request, in order."""
    failures: list[tuple[int, str | None]] = field(default_factory=list)
    """Answers for the next write requests instead of storing: (status, Retry-After)."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    open: threading.Event = field(default_factory=threading.Event)
    """Cleared by `hold()`: write requests wait (a slow InfluxDB) until it is set again."""
    arrived: int = 0
    """Write requests received, answered or not."""

    def __post_init__(self) -> None:
        self.open.set()


class _Handler(BaseHTTPRequestHandler):
    server: "InfluxServer"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _answer(self, status: int, body: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if data:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/ping":
            self._answer(204)
        elif path == "/health":
            self._answer(200, {"name": "influxdb", "status": "pass", "message": "ready for queries and writes"})
        else:
            self._answer(404, {"code": "not found", "message": "path not found"})

    def do_POST(self) -> None:
        parts = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if parts.path != "/api/v2/write":
            self._answer(404, {"code": "not found", "message": "path not found"})
            return
        state = self.server.state
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        lines = [line for line in body.decode().split("\n") if line.strip() and not line.startswith("#")]
        with state.lock:
            state.arrived += 1
        state.open.wait(timeout=30)
        with state.lock:
            status = self._write(state, parse_qs(parts.query), lines)
            state.requests.append((status, len(lines)))

    def _write(self, state: InfluxState, query: dict[str, list[str]], lines: list[str]) -> int:
        if self.headers.get("Authorization") != f"Token {state.token}":
            self._answer(401, {"code": "unauthorized", "message": "unauthorized access"})
            return 401
        if state.failures:
            status, retry_after = state.failures.pop(0)
            self._answer(status, {"code": "unavailable", "message": "try again"}, {"Retry-After": retry_after or "0"})
            return status
        if query.get("org", [""])[0] != state.org or query.get("bucket", [""])[0] != state.bucket:
            self._answer(404, {"code": "not found", "message": "bucket not found"})
            return 404
        precision = query.get("precision", ["ns"])[0]
        try:
            points = [parse_line(line, precision) for line in lines]
        except LineProtocolError as exc:
            self._answer(400, {"code": "invalid", "message": f"unable to parse: {exc}"})
            return 400
        state.points.extend(points)
        self._answer(204)
        return 204


class InfluxServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: InfluxState) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def fail_next(self, count: int, status: int, retry_after: str | None = None) -> None:
        with self.state.lock:
            self.state.failures.extend([(status, retry_after)] * count)

    def hold(self) -> None:
        """Keep write requests waiting, unanswered, until `release()`."""
        self.state.open.clear()

    def release(self) -> None:
        self.state.open.set()

    def arrived(self) -> int:
        with self.state.lock:
            return self.state.arrived

    def points(self) -> list[LinePoint]:
        with self.state.lock:
            return list(self.state.points)

    def statuses(self) -> list[int]:
        with self.state.lock:
            return [status for status, _ in self.state.requests]


@contextmanager
def influx_server(token: str, org: str = "wardlink", bucket: str = "telemetry") -> Iterator[InfluxServer]:
    """An InfluxDB write endpoint on a free loopback port, served from a thread until the block ends."""
    server = InfluxServer(InfluxState(token=token, org=org, bucket=bucket))
    thread = threading.Thread(target=server.serve_forever, name="influx-server", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
