"""The MV-40's JSON, as the cabinet writes it: status, stock movements, alarms, snapshots, and broken frames.

The shapes are functions; `Mv40Dialect` is the simulator's view of them (see `dialect`), adding `msgId` and `ts`
(epoch milliseconds) to every message.
"""

import json
from datetime import datetime
from typing import Any

from simulators.cabinets.dialect import (
    ALARM_TEXT,
    MALFORMED_KINDS,
    CabinetCommand,
    Dialect,
    Movement,
    Out,
    Reply,
    epoch_ms,
)
from simulators.cabinets.stock import BinStock

FIRMWARE = "4.2.1"
EVT = {"removed": "ITEM_TAKEN", "returned": "ITEM_RETURNED", "restocked": "ITEM_REFILLED"}


def status(state: str, ts: int, boot: int, cause: str | None = None) -> bytes:
    body: dict[str, Any] = {"state": state, "ts": ts, "boot": boot, "fw": FIRMWARE}
    if cause:
        body["cause"] = cause
    return json.dumps(body).encode()


def last_will() -> str:
    return json.dumps({"state": "OFFLINE", "cause": "connection lost"})


def movement(
    evt: str,
    line: BinStock,
    quantity: int,
    badge: str | None,
    txn_id: str,
    *,
    order_ref: str | None = None,
    delivery_ref: str | None = None,
) -> dict[str, Any]:
    """ITEM_TAKEN / ITEM_RETURNED / ITEM_REFILLED: the bin, the GS1 identity of the item, who did it.

    A removal names the medication order it was made against (`orderRef`; absent for an override), a refill the
    pharmacy delivery it came with (`deliveryRef`).
    """
    item = {"gtin": line.gtin, "lot": line.lot, "exp": line.expiry.isoformat(), "desc": line.description}
    txn: dict[str, Any] = {"txnId": txn_id, "binId": line.bin, "qty": quantity, "item": item}
    if order_ref is not None:
        txn["orderRef"] = order_ref
    if delivery_ref is not None:
        txn["deliveryRef"] = delivery_ref
    return {"evt": evt, "txn": txn, "user": {"badgeId": badge}}


def alarm(code: str, state: str, text: str | None = None, user: dict[str, str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"evt": "ALARM", "alarm": {"code": code, "state": state, "text": text or ALARM_TEXT[code]}}
    if user:
        body["user"] = user
    return body


def snapshot(stock: dict[str, BinStock], request_id: str | None) -> dict[str, Any]:
    """The full stock, bins grouped by drawer (D1..D4, F for the fridge)."""
    drawers: dict[str, list[dict[str, Any]]] = {}
    for line in stock.values():
        drawers.setdefault(line.bin.split("-")[0], []).append(
            {
                "binId": line.bin,
                "gtin": line.gtin,
                "lot": line.lot,
                "exp": line.expiry.isoformat(),
                "onHand": line.quantity,
                "par": line.par,
            }
        )
    return {"reqId": request_id, "drawers": [{"drawerId": d, "bins": b} for d, b in drawers.items()]}


def malformed(kind: str, msg_id: str, ts: int) -> bytes:
    """A frame the edge must set aside: truncated JSON, not JSON, an unknown event, an invalid GTIN."""
    base = {"msgId": msg_id, "ts": ts}
    if kind == "truncated":
        return json.dumps({**base, "evt": "ITEM_TAKEN", "txn": {"binId": "D1-01"}}).encode()[:-7]
    if kind == "not_json":
        return b"\x00\x17MV40 diag dump \xff\xfe"
    if kind == "unknown_event":
        return json.dumps({**base, "evt": "SELF_TEST", "result": "PASS"}).encode()
    if kind == "bad_gtin":
        item = {"gtin": "00614141001017", "lot": "L00A000", "exp": "2027-01-31"}
        return json.dumps({**base, "evt": "ITEM_TAKEN", "txn": {"binId": "D1-01", "qty": 1, "item": item}}).encode()
    raise ValueError(f"unknown malformed kind {kind!r} (known: {', '.join(MALFORMED_KINDS)})")


class Mv40Dialect(Dialect):
    """MedVault MV-40, `medvault-mv40.yaml`: camelCase, `msgId` and `ts` (epoch ms) on every message."""

    profile = "medvault-mv40"
    key_prefix = "MV40"
    client_prefix = "mv40"
    topics = ("status", "events", "telemetry", "inventory", "commands", "replies")
    commands_topic = "commands"

    def stamp(self, topic_name: str, body: dict[str, Any], message_id: str, at: datetime) -> dict[str, Any]:
        return {"msgId": message_id, "ts": epoch_ms(at), **body}

    def status(self, online: bool, at: datetime, boot: int, cause: str | None = None) -> bytes:
        return status("ONLINE" if online else "OFFLINE", epoch_ms(at), boot, cause)

    def last_will(self) -> str:
        return last_will()

    def door(self, opened: bool, badge: str | None) -> Out:
        evt = "DOOR_OPEN" if opened else "DOOR_CLOSE"
        return "events", {"evt": evt, "door": {"id": "main"}, "user": {"badgeId": badge}}

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
        body = movement(EVT[kind], line, quantity, badge, txn_id, order_ref=order_ref, delivery_ref=delivery_ref)
        return "events", body

    def alarm(self, code: str, raised: bool, text: str | None = None, badge: str | None = None) -> Out:
        user = {"badgeId": badge} if badge else None
        return "events", alarm(code, "RAISED" if raised else "CLEARED", text, user)

    def climate(self, temperature_c: float, setpoint_c: float, door_open: bool) -> Out:
        fridge = {"tempC": temperature_c, "setpointC": setpoint_c, "compressor": "ON"}
        return "telemetry", {"fridge": fridge, "door": {"open": door_open}}

    def snapshot(self, stock: dict[str, BinStock], request_id: Any) -> Out:
        return "inventory", snapshot(stock, request_id)

    def command(self, body: dict[str, Any]) -> CabinetCommand:
        cmd, request_id = body.get("cmd"), body.get("reqId")
        kinds: dict[Any, Any] = {"UNLOCK": "unlock", "INVENTORY": "inventory"}
        badge = body.get("badgeId")
        return CabinetCommand(kinds.get(cmd, "unknown"), request_id, None if badge is None else str(badge), cmd)

    def reply(self, command: CabinetCommand, result: Reply, why: str | None = None) -> Out:
        body: dict[str, Any] = {"reqId": command.request_id, "cmd": command.name, "result": result.upper()}
        if why is not None:
            body["why"] = why
        return "replies", body

    def malformed(self, kind: str, message_id: str, at: datetime) -> tuple[str, bytes]:
        return "events", malformed(kind, message_id, epoch_ms(at))
