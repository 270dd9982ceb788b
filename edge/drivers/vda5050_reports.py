"""Reading what a VDA 5050 robot reports: its error types as fault codes, and what its errors and information
say about master control's order (a refusal, a drawer released)."""

import re
from typing import Any

from contract.ids import InvalidIdentifierError, check_identifier
from device_profiles.vda5050 import RELEASED_INFO


def fault_code(error_type: str) -> str:
    """VDA error types are camelCase (pathBlocked); the contract's fault codes are snake_case (path_blocked)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", error_type).lower()[:64] or "unknown"


def error_component(error: dict[str, Any]) -> str | None:
    for ref in error.get("errorReferences") or []:
        if ref["referenceKey"] in ("edgeId", "nodeId", "actionId", "topic"):
            try:
                return check_identifier(ref["referenceValue"], what="component")
            except InvalidIdentifierError:
                return None
    return None


def _refs(entry: dict[str, Any], key: str) -> dict[str, str]:
    return {r["referenceKey"]: r["referenceValue"] for r in entry.get(key) or []}


def order_refusal(state: dict[str, Any], order_id: str) -> str | None:
    """The robot's reason for not taking the order: any error naming it before the robot took it (VDA 5050
    6.6.4: validationError, orderError, orderUpdateError; noRouteError and makers' own types likewise)."""
    for error in state["errors"]:
        if _refs(error, "errorReferences").get("orderId") == order_id:
            reason = error.get("errorDescription") or "no reason given"
            return f"robot refused the order ({error['errorType']}): {reason}"[:200]
    return None


def released_badge(state: dict[str, Any], order_id: str, action_id: str | None) -> str | None:
    """The badge of a drawer release the robot reports for the order (and action): '' when released without a
    usable badge (a PIN), None when there is no such release."""
    for info in state.get("information") or []:
        refs = _refs(info, "infoReferences")
        if info["infoType"] != RELEASED_INFO or refs.get("orderId") != order_id:
            continue
        if action_id is not None and refs.get("actionId") != action_id:
            continue
        try:
            return check_identifier(refs["badge"], what="badge") if refs.get("badge") else ""
        except InvalidIdentifierError:
            return ""
    return None
