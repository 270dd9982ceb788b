"""The MV-40's JSON, as the cabinet writes it: status, stock movements, alarms, snapshots, and broken frames.

Only the shapes live here; `CabinetSimulator` decides when to send them and adds `msgId` and `ts`.
"""

import json
from typing import Any

from simulators.cabinets.stock import BinStock

FIRMWARE = "4.2.1"
ALARM_TEXT = {
    "A-101": "door open too long",
    "A-201": "fridge temperature above range",
    "A-202": "fridge temperature below range",
    "A-301": "badge not enrolled",
}
MALFORMED_KINDS = ("truncated", "not_json", "unknown_event", "bad_gtin")


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
