"""Master control for one VDA 5050 robot, without a network: deliveries in, orders out, states to events.

`MasterControl` takes dispatch commands and the robot's `state` messages and answers with a `Reaction`: the
events to record and the messages to send. Each delivery's steps (accepted, departed, arrived, handed_over,
failed) are recorded once: the steps taken, the robot's active faults and its status are the driver's cursor,
stored with the events, so neither a repeated state nor an edge restart records a step twice.
"""

import json
import re
from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from contract.base import SubjectKind
from contract.command import DispatchDelivery
from contract.ids import InvalidIdentifierError, check_identifier
from device_profiles.maps import NodeGraph, NoRouteError
from device_profiles.vda5050 import RELEASED_INFO, Channel, Headers, Vda5050Profile, parse_timestamp
from edge.drivers.vda5050_orders import handover_action_id, instant_actions_message, order_message

RESEND_ORDER_S = 3.0
"""Orders travel at QoS 0 (VDA 5050 6.2): resend until the robot's state shows it; the robot ignores repeats."""
PIN_PAD = "pin-pad"
"""The `badge` of a hand-over released with the PIN alone (the contract requires a badge id)."""
_ORDER_REJECTIONS = ("orderError", "validationError", "orderUpdateError")


@dataclass(frozen=True, slots=True)
class Happened:
    """An event to record: type, subject and data (the driver turns it into an observation)."""

    type: str
    subject_kind: SubjectKind
    subject_id: str
    data: dict[str, Any]
    occurred_at: datetime | None = None


@dataclass
class Reaction:
    events: list[Happened] = field(default_factory=list)
    messages: list[tuple[Channel, dict[str, Any]]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.events or self.messages)


@dataclass
class Delivery:
    delivery: str
    order_id: str
    destination: str
    drawer: str
    start: str
    steps: list[str] = field(default_factory=list)
    # Not kept in the cursor: the order (with its PIN) and the timers live only in memory.
    order: dict[str, Any] | None = field(default=None, repr=False)
    sent_at: float | None = None
    first_sent_at: float | None = None
    blocked_since: float | None = None

    @property
    def finished(self) -> bool:
        return "handed_over" in self.steps or "failed" in self.steps

    def saved(self) -> dict[str, Any]:
        return {
            k: v
            for k, v in asdict(self).items()
            if k in ("delivery", "order_id", "destination", "drawer", "start", "steps")
        }


def fault_code(error_type: str) -> str:
    """VDA error types are camelCase (pathBlocked); the contract's fault codes are snake_case (path_blocked)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", error_type).lower()[:64] or "unknown"


def _component(error: dict[str, Any]) -> str | None:
    for ref in error.get("errorReferences") or []:
        if ref["referenceKey"] in ("edgeId", "nodeId", "actionId", "topic"):
            try:
                return check_identifier(ref["referenceValue"], what="component")
            except InvalidIdentifierError:
                return None
    return None


def _status(state: dict[str, Any]) -> str:
    if any(e["errorLevel"] == "FATAL" for e in state["errors"]):
        return "fault"
    if state.get("paused"):
        return "paused"
    if state["driving"]:
        return "driving"
    if state["batteryState"]["charging"]:
        return "charging"
    if any(a["actionStatus"] == "RUNNING" for a in state["actionStates"]):
        return "waiting"
    return "idle"


class MasterControl:
    def __init__(
        self, device_id: str, profile: Vda5050Profile, graph: NodeGraph, serial: str, cursor: str | None = None
    ) -> None:
        self.device_id, self.profile, self.graph = device_id, profile, graph
        self.headers = Headers(profile.manufacturer, serial)
        self.queue: deque[DispatchDelivery] = deque()
        self.current: Delivery | None = None
        self.faults: dict[str, dict[str, Any]] = {}
        self.status: str | None = None
        self.state: dict[str, Any] | None = None
        self.online = False
        if cursor:
            self._restore(cursor)

    # -- the cursor: what was already recorded -----------------------------------------------------------------
    def cursor(self) -> str:
        return json.dumps(
            {
                "delivery": self.current.saved() if self.current else None,
                "faults": sorted(self.faults),
                "status": self.status,
            },
            separators=(",", ":"),
        )

    def _restore(self, cursor: str) -> None:
        try:
            saved = json.loads(cursor)
            if saved.get("delivery"):
                self.current = Delivery(**saved["delivery"])
            self.faults = {key: {} for key in saved.get("faults", [])}
            self.status = saved.get("status")
        except (ValueError, TypeError, AttributeError):
            self.current, self.faults, self.status = None, {}, None  # a cursor of another format: start afresh

    # -- commands ----------------------------------------------------------------------------------------------
    def dispatch(self, command: DispatchDelivery, now: float) -> Reaction:
        out = Reaction()
        known = {c.delivery for c in self.queue} | ({self.current.delivery} if self.current else set())
        if command.delivery in known:
            return out  # the same command again (QoS 1 redelivery): already in hand
        if command.destination not in self.graph.by_id:
            self._fail_now(out, command.delivery, f"unknown destination {command.destination!r} on {self.graph.name}")
        elif command.drawer not in self.profile.drawers:
            self._fail_now(out, command.delivery, f"robot has no drawer {command.drawer!r}")
        else:
            self.queue.append(command)
            self._start_next(out, now)
        return out

    def instant(self, kind: str, action_id: str) -> Reaction:
        return Reaction(messages=[("instantActions", instant_actions_message(self.headers, (kind, action_id, {})))])

    def _fail_now(self, out: Reaction, delivery: str, reason: str) -> None:
        data = {"robot": self.device_id, "reason": reason[:200]}
        out.events.append(Happened("delivery.failed", "delivery", delivery, data))

    def _start_next(self, out: Reaction, now: float) -> None:
        state = self.state
        while self.queue and (self.current is None or self.current.finished) and state and self.online:
            if state["nodeStates"] or any(a["actionStatus"] in ("WAITING", "RUNNING") for a in state["actionStates"]):
                return  # the robot is still busy with an order of its own: wait
            command = self.queue.popleft()
            start = state["lastNodeId"]
            try:
                route = self.graph.shortest_path(start, command.destination)
            except NoRouteError as exc:
                self._fail_now(out, command.delivery, str(exc))
                continue
            order_id = f"{command.delivery[:54]}.{command.id.hex[:8]}"
            order = order_message(
                self.headers, order_id, route, drawer=command.drawer, load_id=command.delivery, pin=command.release_pin
            )
            self.current = Delivery(command.delivery, order_id, command.destination, command.drawer, start)
            self.current.order, self.current.sent_at, self.current.first_sent_at = order, now, now
            out.messages.append(("order", order))

    # -- what the robot says -----------------------------------------------------------------------------------
    def on_state(self, state: dict[str, Any], now: float) -> Reaction:
        out = Reaction()
        self.state = state
        at = parse_timestamp(state["timestamp"])
        self._faults(state, at, out)
        status = _status(state)
        if status != self.status:
            data = {"status": status, "previous": self.status}
            out.events.append(Happened("device.status_changed", "device", self.device_id, data, at))
            self.status = status
        if self.current and not self.current.finished:
            self._progress(self.current, state, at, now, out)
        self._start_next(out, now)
        return out

    def _faults(self, state: dict[str, Any], at: datetime, out: Reaction) -> None:
        seen: dict[str, dict[str, Any]] = {}
        for error in state["errors"]:
            code, component = fault_code(error["errorType"]), _component(error)
            seen[f"{code}@{component or ''}"] = {"code": code, "component": component, "error": error}
        for key, fault in seen.items():
            if key not in self.faults:
                error = fault["error"]
                data = {
                    "code": fault["code"],
                    "severity": "critical" if error["errorLevel"] == "FATAL" else "warning",
                    "description": (error.get("errorDescription") or error["errorType"])[:200],
                    "component": fault["component"],
                }
                out.events.append(Happened("device.fault_raised", "device", self.device_id, data, at))
        for key in self.faults:
            if key not in seen:
                code, _, component = key.partition("@")
                data = {"code": code, "component": component or None}
                out.events.append(Happened("device.fault_cleared", "device", self.device_id, data, at))
        self.faults = seen

    def _progress(self, d: Delivery, state: dict[str, Any], at: datetime, now: float, out: Reaction) -> None:
        def step(name: str, data: dict[str, Any]) -> None:
            if name not in d.steps:
                d.steps.append(name)
                out.events.append(
                    Happened(f"delivery.{name}", "delivery", d.delivery, {"robot": self.device_id, **data}, at)
                )

        for error in state["errors"]:
            refs = {r["referenceKey"]: r["referenceValue"] for r in error.get("errorReferences") or []}
            if error["errorType"] in _ORDER_REJECTIONS and refs.get("orderId") == d.order_id:
                step("failed", {"reason": f"robot rejected the order: {error.get('errorDescription', '')}"[:200]})
                return
        if state["orderId"] != d.order_id:
            if "accepted" in d.steps:
                step("failed", {"reason": f"robot dropped the order (now on {state['orderId'] or 'none'!r})"[:200]})
            return
        d.order = None  # the robot has it: no more resending
        step("accepted", {"order_id": d.order_id, "destination": d.destination, "drawer": d.drawer})
        last, pending = state["lastNodeId"], bool(state["nodeStates"])
        if state["driving"] or last != d.start or (last == d.destination and not pending):
            step("departed", {"node": d.start})
        if last == d.destination and not pending:
            step("arrived", {"node": d.destination})
        handover = next((a for a in state["actionStates"] if a["actionId"] == handover_action_id(d.order_id)), None)
        if handover and handover["actionStatus"] == "FINISHED":
            step("handed_over", {"drawer": d.drawer, "badge": self._badge(state, handover["actionId"])})
            return
        if handover and handover["actionStatus"] == "FAILED":
            step("failed", {"reason": (handover.get("resultDescription") or "hand-over failed")[:200]})
            return
        fatal = [e for e in state["errors"] if e["errorLevel"] == "FATAL"]
        if fatal:
            step("failed", {"reason": f"{fatal[0]['errorType']}: {fatal[0].get('errorDescription', '')}"[:200]})
            out.messages.extend(self.instant("cancelOrder", f"{d.order_id}.cancel").messages)
            return
        blocked = any(e["errorType"] == "pathBlocked" for e in state["errors"])
        d.blocked_since = (d.blocked_since or now) if blocked else None

    @staticmethod
    def _badge(state: dict[str, Any], action_id: str) -> str:
        for info in state.get("information") or []:
            refs = {r["referenceKey"]: r["referenceValue"] for r in info.get("infoReferences") or []}
            if info["infoType"] == RELEASED_INFO and refs.get("actionId") == action_id and refs.get("badge"):
                try:
                    return check_identifier(refs["badge"], what="badge")
                except InvalidIdentifierError:
                    break
        return PIN_PAD

    # -- time --------------------------------------------------------------------------------------------------
    def tick(self, now: float) -> Reaction:
        """Resend an unconfirmed order; give up on one blocked or unconfirmed beyond the profile's patience."""
        out = Reaction()
        d, patience = self.current, self.profile.patience_s
        if d and not d.finished:
            if "accepted" not in d.steps:
                d.first_sent_at = d.first_sent_at or now
                if now - d.first_sent_at > patience:
                    d.steps.append("failed")
                    reason = f"robot did not take the order within {patience:g} s"
                    out.events.append(self._failed(d, reason))
                elif d.order is not None and self.online and now - (d.sent_at or 0) >= RESEND_ORDER_S:
                    d.sent_at = now
                    out.messages.append(("order", d.order))
            elif d.blocked_since is not None and now - d.blocked_since > patience:
                d.steps.append("failed")
                out.events.append(self._failed(d, f"path blocked for more than {patience:g} s; order cancelled"))
                out.messages.extend(self.instant("cancelOrder", f"{d.order_id}.cancel").messages)
        self._start_next(out, now)
        return out

    def _failed(self, d: Delivery, reason: str) -> Happened:
        return Happened("delivery.failed", "delivery", d.delivery, {"robot": self.device_id, "reason": reason[:200]})
