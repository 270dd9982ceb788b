"""Search over resources already built (the reference data and devices, a few thousand at most), by their JSON.

Token parameters match a resource's values for that parameter (`system|code` exactly, a bare code in any
system); string parameters match names as FHIR says (starts with, ignoring case, unless :exact or :contains);
`_lastUpdated` matches `meta.lastUpdated`. Every parameter given must match (AND), any value of one (OR).
"""

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from gateway.clinical.fhir.search import Search, Token


def _identifiers(resource: dict[str, Any]) -> list[tuple[str | None, str]]:
    return [(i.get("system"), i["value"]) for i in resource.get("identifier", ())]


def _codings(resource: dict[str, Any]) -> list[tuple[str | None, str]]:
    return [(c.get("system"), c["code"]) for c in resource.get("code", {}).get("coding", ())]


ANY_SYSTEM = "*"
"""A status is a code of the resource's own required value set: any system named with it is taken as that one."""

TOKENS: dict[str, Callable[[dict[str, Any]], list[tuple[str | None, str]]]] = {
    "_id": lambda r: [(None, r["id"])],
    "identifier": _identifiers,
    "status": lambda r: [(ANY_SYSTEM, r["status"])] if "status" in r else [],
    "code": _codings,
}
STRINGS: dict[str, Callable[[dict[str, Any]], list[str | None]]] = {
    "name": lambda r: [r["name"]] if isinstance(r.get("name"), str) else [n.get("text") for n in r.get("name", ())],
    "device-name": lambda r: [d["name"] for d in r.get("deviceName", ())],
}


def _token_matches(token: Token, values: list[tuple[str | None, str]]) -> bool:
    return any(
        code == token.code and (token.system is None or system in (token.system, ANY_SYSTEM)) for system, code in values
    )


def _updated(resource: dict[str, Any]) -> datetime | None:
    text = resource.get("meta", {}).get("lastUpdated")
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def matches(resource: dict[str, Any], search: Search) -> bool:
    for name, groups in search.tokens.items():
        values = TOKENS[name](resource)
        if not all(any(_token_matches(t, values) for t in group) for group in groups):
            return False
    for name in search.strings:
        if not search.text_matches(name, STRINGS[name](resource)):
            return False
    return search.updated.holds(_updated(resource))


def found(resources: Sequence[dict[str, Any]], search: Search) -> tuple[list[dict[str, Any]], int]:
    """The page of `resources` (in id order) that match `search`, and how many match in all."""
    hits = sorted((r for r in resources if matches(r, search)), key=lambda r: str(r["id"]))
    return hits[search.offset : search.offset + search.count], len(hits)
