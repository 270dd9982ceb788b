"""The PillPort PP-7's JSON, as its PP-Link 1.3 firmware writes it (the shapes `pillport-pp7.yaml` maps).

Unlike the MV-40: snake_case; no message id at all; `time` in epoch seconds, a string with milliseconds on events
("1795422612.250") and a number on climate readings; a stock message carries `lines` (the simulator sends one line
per movement, as a nurse taking one item would); numeric alarm codes with `active: true/false`; the full count
nests drawers -> bins -> items, an item not repeating its bin; requests and responses matched by `ref`.
"""

import json
from datetime import datetime
from typing import Any

from simulators.cabinets.dialect import ALARM_TEXT, CabinetCommand, Dialect, Movement, Out, Reply
from simulators.cabinets.stock import BinStock

FIRMWARE = "1.3.7"
ALARM_CODES = {"A-101": 17, "A-201": 31, "A-202": 32, "A-301": 45}
"""The simulator's alarm identities (the MV-40's codes) -> the PP-7's numeric codes."""
OPS: dict[Movement, str] = {"removed": "pick", "returned": "return", "restocked": "refill"}
REPLY_STATUS: dict[Reply, str] = {"granted": "ok", "denied": "refused", "ok": "ok", "error": "error"}


def event_time(at: datetime) -> str:
    """Epoch seconds with milliseconds, as a string: how the PP-7 stamps events."""
    return f"{at.timestamp():.3f}"


def _item(line: BinStock, count: int) -> dict[str, Any]:
    return {"gtin": line.gtin, "batch": line.lot, "expires": line.expiry.isoformat(), "count": count}


class Pp7Dialect(Dialect):
    profile = "pillport-pp7"
    key_prefix = "PP7"
    client_prefix = "pp7"
    topics = ("status", "access", "stock", "alarms", "climate", "inventory", "requests", "responses")
    commands_topic = "requests"
    distinct_times = True

    def stamp(self, topic_name: str, body: dict[str, Any], message_id: str, at: datetime) -> dict[str, Any]:
        """No message id (the PP-7 has none); `time` as a string, but a number on climate readings."""
        return {"time": round(at.timestamp(), 3) if topic_name == "climate" else event_time(at), **body}

    def status(self, online: bool, at: datetime, boot: int, cause: str | None = None) -> bytes:
        body: dict[str, Any] = {"connected": online, "time": event_time(at), "boot": boot, "firmware": FIRMWARE}
        if cause:
            body["reason"] = cause
        return json.dumps(body).encode()

    def last_will(self) -> str:
        return json.dumps({"connected": False, "reason": "connection lost"})

    def door(self, opened: bool, badge: str | None) -> Out:
        return "access", {"door": "opened" if opened else "closed", "operator": {"badge": badge}}

    def movement(
        self,
        kind: Movement,
        line: BinStock,
        quantity: int,
        badge: str | None,
        txn_id: str,
        *,
        order_ref: str | None = None,
        delivery_ref: str | None = None,
    ) -> Out:
        entry: dict[str, Any] = {"slot": line.bin, **_item(line, quantity)}
        if order_ref is not None:
            entry["order"] = order_ref
        body: dict[str, Any] = {"op": OPS[kind], "transaction": txn_id, "operator": {"badge": badge}}
        if delivery_ref is not None:
            body["delivery"] = delivery_ref
        return "stock", {**body, "lines": [entry]}

    def alarm(self, code: str, raised: bool, text: str | None = None, badge: str | None = None) -> Out:
        body: dict[str, Any] = {"code": ALARM_CODES[code], "active": raised, "message": text or ALARM_TEXT[code]}
        if badge:
            body["operator"] = {"badge": badge}
        return "alarms", body

    def climate(self, temperature_c: float, setpoint_c: float, door_open: bool) -> Out:
        return "climate", {"fridge": {"celsius": temperature_c, "target": setpoint_c}}

    def snapshot(self, stock: dict[str, BinStock], request_id: Any) -> Out:
        drawers: dict[str, list[dict[str, Any]]] = {}
        for line in stock.values():
            drawers.setdefault(line.bin.split("-")[0], []).append(
                {"slot": line.bin, "par": line.par, "items": [_item(line, line.quantity)]}
            )
        body = {"ref": request_id, "drawers": [{"drawer": d, "bins": b} for d, b in drawers.items()]}
        return "inventory", body

    def command(self, body: dict[str, Any]) -> CabinetCommand:
        request = body.get("request")
        kinds: dict[Any, Any] = {"unlock": "unlock", "count": "inventory"}
        badge = body.get("badge")
        badge_id = None if badge is None else str(badge)
        return CabinetCommand(kinds.get(request, "unknown"), body.get("ref"), badge_id, request)

    def reply(self, command: CabinetCommand, result: Reply, why: str | None = None) -> Out:
        body: dict[str, Any] = {"request": command.name, "ref": command.request_id, "status": REPLY_STATUS[result]}
        if why is not None:
            body["error"] = why
        return "responses", body

    def malformed(self, kind: str, message_id: str, at: datetime) -> tuple[str, bytes]:
        time = event_time(at)
        if kind == "truncated":
            return "stock", json.dumps({"time": time, "op": "pick", "lines": [{"slot": "D1-01"}]}).encode()[:-9]
        if kind == "not_json":
            return "access", b"\x00\x17PP7 trace \xff\xfe"
        if kind == "unknown_event":
            return "access", json.dumps({"time": time, "door": "jammed"}).encode()
        if kind == "bad_gtin":
            line = {"slot": "D1-01", "gtin": "00614141001017", "batch": "L00A000", "expires": "2027-01-31", "count": 1}
            return "stock", json.dumps({"time": time, "op": "pick", "operator": {}, "lines": [line]}).encode()
        raise ValueError(f"unknown malformed kind {kind!r}")
