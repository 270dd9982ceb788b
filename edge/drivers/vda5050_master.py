"""Master control for one VDA 5050 robot, without a network: deliveries in, orders out, states to events.

`MasterControl` takes dispatch commands, the robot's `connection`, `state` and `factsheet` messages and answers
with a `Reaction`: the events to record and the messages to send. Each delivery's steps (accepted, departed,
arrived, handed_over, failed) are recorded once: the steps taken, the robot's active faults and its task state
are the driver's cursor, stored with the events, so neither a repeated state nor an edge restart records a
step twice.

By the book (VDA 5050 2.0/2.1): when the robot comes ONLINE master control asks for its state (`stateRequest`)
and its factsheet (`factsheetRequest`); a dispatch without a fresh state asks again before it plans a route from
where the robot is; an order the robot refuses (any error naming the order before the robot took it:
validationError, orderError, orderUpdateError, noRouteError, ...) fails the delivery with the robot's own
reason; a delivery whose robot lost its connection mid-route fails after the profile's `lost_after_s`.
"""

import logging
import uuid
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Any

from contract.command import DispatchDelivery
from device_profiles.maps import NodeGraph, NoRouteError
from device_profiles.vda5050 import (
    HANDOVER_ACTION,
    Headers,
    Vda5050Profile,
    VdaVersion,
    parse_timestamp,
)
from edge.drivers.vda5050_factsheet import Capabilities
from edge.drivers.vda5050_orders import (
    OwnMessageError,
    fresh_header,
    handover_action_id,
    handover_node_action,
    instant_actions_message,
    order_message,
    pickup_action_id,
    pickup_node_action,
)
from edge.drivers.vda5050_reports import error_component, fault_code, order_refusal, released_badge
from edge.drivers.vda5050_steps import Delivery, Happened, Reaction, restore_cursor, save_cursor
from edge.drivers.vda5050_task import task_state

log = logging.getLogger(__name__)

RESEND_ORDER_S = 3.0
"""Orders travel at QoS 0 (VDA 5050 6.2): resend until the robot's state shows it; the robot ignores repeats."""
STATE_FRESH_S = 5.0
"""A state older than this is not trusted to plan a route from: master control asks for a new one first."""
STATE_WAIT_S = 5.0
"""How long a dispatch waits for the answer to its `stateRequest` before it plans from the last state it has."""
PIN_PAD = "pin-pad"
"""The `badge` of a hand-over released with the PIN alone (the contract requires a badge id)."""
VERSION_FAULT = "protocol_version_mismatch"
"""The fault of a robot that speaks another major VDA 5050 version than it is configured for."""
AT_ROBOT = "at-robot"
"""The `badge` of a hand-over no badge was shown for: a standard drop, or a trigger at the robot."""


class MasterControl:
    def __init__(
        self,
        device_id: str,
        profile: Vda5050Profile,
        graph: NodeGraph,
        serial: str,
        cursor: str | None = None,
        *,
        version: VdaVersion | None = None,
    ) -> None:
        self.device_id, self.profile, self.graph = device_id, profile, graph
        self.version: VdaVersion = version or profile.vda_version
        self.headers = Headers(profile.manufacturer, serial, self.version)
        self.queue: deque[DispatchDelivery] = deque()
        self.queued_at: dict[str, float] = {}
        """When each queued delivery came in: one that waits beyond the profile's patience fails with the reason."""
        self.current: Delivery | None = None
        self.faults: dict[str, dict[str, Any]] = {}
        self.status: str | None = None
        self.state: dict[str, Any] | None = None
        self.state_at: float | None = None
        self.state_requested_at: float | None = None
        self.factsheet: dict[str, Any] | None = None
        self.factsheet_requested_at: float | None = None
        self.online = False
        self.offline_since: float | None = None
        self._instant_ids = 0
        self._nonce = uuid.uuid4().hex[:8]
        """In every instant action id: a vehicle that remembers ids must not take a restarted edge's for old ones."""
        self._cancelled: str | None = None
        """The order of a failed delivery master control last asked the robot to cancel."""
        if cursor:
            self._restore(cursor)

    # -- the cursor: what was already recorded -----------------------------------------------------------------
    def cursor(self) -> str:
        return save_cursor(self.current, self.faults, self.status)

    def _restore(self, cursor: str) -> None:
        self.current, faults, self.status = restore_cursor(cursor)
        self.faults = {key: {} for key in faults}

    # -- the robot's connection and factsheet -------------------------------------------------------------------
    def connected(self, now: float) -> Reaction:
        """The robot said ONLINE: ask for its state and factsheet rather than wait for them (VDA 5050 6.10)."""
        self.online, self.offline_since = True, None
        out = self.instant("stateRequest")
        out.messages += self.instant("factsheetRequest").messages
        self.state_requested_at = self.factsheet_requested_at = now
        self._start_next(out, now)
        return out

    def disconnected(self, now: float) -> None:
        """The robot said OFFLINE or its Last Will said CONNECTIONBROKEN (or its broker is out of reach)."""
        self.online = False
        self.offline_since = self.offline_since if self.offline_since is not None else now

    def on_factsheet(self, factsheet: dict[str, Any], now: float | None = None) -> Reaction:
        self.factsheet, self.factsheet_requested_at = factsheet, None
        out = Reaction()
        if now is not None:
            self._start_next(out, now)
        return out

    def wrong_version(self, detail: str, at: datetime | None = None) -> Reaction:
        """A message of another major version: one device fault until the robot speaks the configured one."""
        out = Reaction()
        key = f"{VERSION_FAULT}@"
        if key not in self.faults:
            self.faults[key] = {"code": VERSION_FAULT, "component": None}
            data = {"code": VERSION_FAULT, "severity": "critical", "description": detail[:200], "component": None}
            out.events.append(Happened("device.fault_raised", "device", self.device_id, data, at))
        return out

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
            self.queued_at[command.delivery] = now
            if self.online and not self._state_fresh(now) and self.state_requested_at is None:
                out.messages += self.instant("stateRequest").messages
                self.state_requested_at = now
            self._start_next(out, now)
        return out

    def instant(self, kind: str, action_id: str | None = None) -> Reaction:
        if action_id is None:
            self._instant_ids += 1
            action_id = f"{kind}.{self._nonce}.{self._instant_ids}"
        try:
            message = instant_actions_message(self.headers, (kind, action_id, {}))
        except OwnMessageError as exc:
            log.error("robot %s: %s not sent: %s", self.device_id, kind, exc)
            return Reaction()
        return Reaction(messages=[("instantActions", message)])

    def _state_fresh(self, now: float) -> bool:
        return self.state_at is not None and now - self.state_at <= STATE_FRESH_S

    def _ready_to_plan(self, now: float) -> bool:
        """A fresh state to plan from (or the last one once the robot had its time to answer a stateRequest), and
        the factsheet asked for on connect (or its time to come is over: a robot may not send one)."""
        if self.state is None or not self.online:
            return False
        asked = self.factsheet_requested_at
        if asked is not None and now - asked <= STATE_WAIT_S:
            return False
        if self._state_fresh(now) or self.state_requested_at is None:
            return True
        return now - self.state_requested_at > STATE_WAIT_S

    def _cannot_hand_over(self) -> str | None:
        """Why the robot's factsheet rules out this profile's hand-over or pick-up (None: fine, or not known)."""
        if self.factsheet is None:
            return None
        capabilities = Capabilities.of(self.factsheet)
        needed = [a for a in (self.profile.handover.action, self.profile.pickup and self.profile.pickup.action) if a]
        for action in needed:
            if action != "none" and (reason := capabilities.missing_node_action(action)):
                return reason
        return None

    def _free(self) -> bool:
        """No delivery in hand, or one with no hand-over action whose robot has arrived: with `handover: none` the
        robot is done with it there, and waiting for a release must not hold its next delivery."""
        d = self.current
        return d is None or d.finished or (d.handover == "none" and "arrived" in d.steps)

    def _cancel_abandoned(self, state: dict[str, Any], out: Reaction) -> None:
        """A delivery failed (lost robot, failed pick-up or hand-over) whose order the robot still carries out:
        ask it once to cancel, or it drives on and holds every later delivery."""
        d = self.current
        if d is None or "failed" not in d.steps or state["orderId"] != d.order_id or self._cancelled == d.order_id:
            return
        if state["nodeStates"] or any(a["actionStatus"] in ("WAITING", "RUNNING") for a in state["actionStates"]):
            self._cancel(d, out)

    def _busy_too_long(self, out: Reaction, state: dict[str, Any], now: float) -> None:
        """Fail the deliveries that waited beyond the profile's patience for a robot busy with another order."""
        patience = self.profile.patience_s
        while self.queue and now - self.queued_at.get(self.queue[0].delivery, now) > patience:
            command = self.queue.popleft()
            self.queued_at.pop(command.delivery, None)
            on = state["orderId"] or "an order of its own"
            self._fail_now(out, command.delivery, f"robot busy with {on} for more than {patience:g} s")

    def _cancel(self, d: Delivery, out: Reaction) -> None:
        self._cancelled = d.order_id
        out.messages.extend(self.instant("cancelOrder", f"{d.order_id}.cancel").messages)

    def _fail_now(self, out: Reaction, delivery: str, reason: str) -> None:
        data = {"robot": self.device_id, "reason": reason[:200]}
        out.events.append(Happened("delivery.failed", "delivery", delivery, data))

    def _start_next(self, out: Reaction, now: float) -> None:
        while self.queue and self._free() and self._ready_to_plan(now):
            state = self.state
            assert state is not None  # checked by _ready_to_plan
            if state["nodeStates"] or any(a["actionStatus"] in ("WAITING", "RUNNING") for a in state["actionStates"]):
                self._busy_too_long(out, state, now)  # busy with an order master control did not give it
                return
            command = self.queue.popleft()
            self.queued_at.pop(command.delivery, None)
            if reason := self._cannot_hand_over():
                self._fail_now(out, command.delivery, reason)
                continue
            start = state["lastNodeId"]
            try:
                route = self.graph.shortest_path(start, command.destination)
            except NoRouteError as exc:
                self._fail_now(out, command.delivery, str(exc))
                continue
            order_id = f"{command.delivery[:54]}.{command.id.hex[:8]}"
            load = command.delivery
            handover = handover_node_action(
                self.profile.handover, order_id, drawer=command.drawer, load_id=load, pin=command.release_pin
            )
            pickup = pickup_node_action(self.profile.pickup, order_id, load_id=load) if self.profile.pickup else None
            try:
                order = order_message(self.headers, order_id, route, handover=handover, pickup=pickup)
            except OwnMessageError as exc:
                log.error("robot %s: %s", self.device_id, exc)
                self._fail_now(out, command.delivery, f"no valid order could be built: {exc}")
                continue
            self.current = Delivery(command.delivery, order_id, command.destination, command.drawer, start)
            self.current.handover = self.profile.handover.action
            self.current.order, self.current.sent_at, self.current.first_sent_at = order, now, now
            out.messages.append(("order", order))

    # -- what the robot says -----------------------------------------------------------------------------------
    def on_state(self, state: dict[str, Any], now: float) -> Reaction:
        out = Reaction()
        self.state, self.state_at, self.state_requested_at = state, now, None
        self.online, self.offline_since = True, None  # a state is proof of life, whatever the connection topic said
        self._cancel_abandoned(state, out)
        at = parse_timestamp(state["timestamp"])
        self._faults(state, at, out)
        status = task_state(state)
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
            code, component = fault_code(error["errorType"]), error_component(error)
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

        if state["orderId"] != d.order_id:
            if "accepted" in d.steps:
                now_on = f"it is on order {state['orderId']}" if state["orderId"] else "it has no order"
                step("failed", {"reason": f"robot gave up the order before the hand-over ({now_on})"[:200]})
            elif refused := order_refusal(state, d.order_id):
                step("failed", {"reason": refused})
            return
        d.order = None  # the robot has it: no more resending
        step("accepted", {"order_id": d.order_id, "destination": d.destination, "drawer": d.drawer})
        last, pending = state["lastNodeId"], bool(state["nodeStates"])
        if state["driving"] or last != d.start or (last == d.destination and not pending):
            step("departed", {"node": d.start})
        if last == d.destination and not pending:
            step("arrived", {"node": d.destination})
        if self._handover(d, state, step):
            return
        fatal = [e for e in state["errors"] if e["errorLevel"] == "FATAL"]
        if fatal:
            step("failed", {"reason": f"{fatal[0]['errorType']}: {fatal[0].get('errorDescription', '')}"[:200]})
            self._cancel(d, out)
            return
        blocked = any(e["errorType"] == "pathBlocked" for e in state["errors"])
        d.blocked_since = (d.blocked_since or now) if blocked else None

    def _handover(self, d: Delivery, state: dict[str, Any], step: Callable[[str, dict[str, Any]], None]) -> bool:
        """Record the hand-over (or its failure) when the robot reports it; True once the delivery is over."""
        actions = {a["actionId"]: a for a in state["actionStates"]}
        pickup = actions.get(pickup_action_id(d.order_id))
        if pickup and pickup["actionStatus"] == "FAILED":
            step("failed", {"reason": f"pick-up failed: {pickup.get('resultDescription') or 'no reason given'}"[:200]})
            return True
        if d.handover == "none":
            release = released_badge(state, d.order_id, None)
            if "arrived" in d.steps and release is not None:
                step("handed_over", {"drawer": d.drawer, "badge": release or PIN_PAD})
                return True
            return False
        handover = actions.get(handover_action_id(d.order_id))
        if handover and handover["actionStatus"] == "FINISHED":
            badge = released_badge(state, d.order_id, handover["actionId"])
            step(
                "handed_over",
                {"drawer": d.drawer, "badge": badge or (PIN_PAD if d.handover == HANDOVER_ACTION else AT_ROBOT)},
            )
            return True
        if handover and handover["actionStatus"] == "FAILED":
            step(
                "failed",
                {"reason": f"hand-over failed: {handover.get('resultDescription') or 'no reason given'}"[:200]},
            )
            return True
        return False

    # -- time --------------------------------------------------------------------------------------------------
    def tick(self, now: float) -> Reaction:
        """Resend an unconfirmed order; give up on one blocked or unconfirmed beyond the profile's patience, and
        on one whose robot has been gone longer than `lost_after_s`."""
        out = Reaction()
        d, patience = self.current, self.profile.patience_s
        lost = self.offline_since is not None and now - self.offline_since > self.profile.lost_after_s
        if d and not d.finished and lost and "accepted" in d.steps:
            d.steps.append("failed")
            gone = f"{self.profile.lost_after_s:g} s"
            out.events.append(self._failed(d, f"robot lost its connection mid-route and was not back within {gone}"))
        elif d and not d.finished:
            if "accepted" not in d.steps:
                d.first_sent_at = d.first_sent_at or now
                if now - d.first_sent_at > patience:
                    d.steps.append("failed")
                    reason = f"robot did not take the order within {patience:g} s"
                    out.events.append(self._failed(d, reason))
                elif d.order is not None and self.online and now - (d.sent_at or 0) >= RESEND_ORDER_S:
                    d.sent_at = now
                    d.order = fresh_header(self.headers, d.order)
                    out.messages.append(("order", d.order))
            elif d.blocked_since is not None and now - d.blocked_since > patience:
                d.steps.append("failed")
                out.events.append(self._failed(d, f"path blocked for more than {patience:g} s; order cancelled"))
                self._cancel(d, out)
        self._start_next(out, now)
        return out

    def _failed(self, d: Delivery, reason: str) -> Happened:
        return Happened("delivery.failed", "delivery", d.delivery, {"robot": self.device_id, "reason": reason[:200]})
