"""OperationOutcome: how the FHIR API says no, with the reason and what to do in `diagnostics`."""

from typing import Any, Literal

IssueCode = Literal[
    "invalid", "not-supported", "not-found", "login", "forbidden", "security", "exception", "too-costly"
]

_BY_STATUS: dict[int, IssueCode] = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    413: "too-costly",
    422: "invalid",
}


def issue_code(status: int) -> IssueCode:
    """The issue code that matches an HTTP status (`exception` for anything unexpected)."""
    return _BY_STATUS.get(status, "exception")


def operation_outcome(diagnostics: str, code: IssueCode, *, severity: str = "error") -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": diagnostics}],
    }
