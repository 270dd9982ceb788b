"""Searchset Bundles: the page's resources, the total, and self / next / previous links with an opaque cursor."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from uuid import uuid4

from gateway.clinical.fhir.datatypes import instant
from gateway.clinical.fhir.search import CURSOR, Search, cursor


def _link(base: str, search: Search, offset: int, relation: str) -> dict[str, str]:
    query = [*search.query, ("_count", str(search.count))]
    if offset:
        query.append((CURSOR, cursor(search, offset)))
    text = urlencode(query, safe="/:|,")  # readable links: references, systems and OR lists as FHIR writes them
    return {"relation": relation, "url": f"{base}/{search.resource_type}?{text}"}


def searchset(
    base: str, search: Search, resources: Sequence[dict[str, Any]], total: int, now: datetime
) -> dict[str, Any]:
    """A searchset Bundle of one page; `base` is the server's base URL (…/fhir/r4), `total` counts every match."""
    links = [_link(base, search, search.offset, "self")]
    if search.count and search.offset + search.count < total:
        links.append(_link(base, search, search.offset + search.count, "next"))
    if search.count and search.offset > 0:
        links.append(_link(base, search, max(search.offset - search.count, 0), "previous"))
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": str(uuid4()),
        "meta": {"lastUpdated": instant(now)},
        "type": "searchset",
        "total": total,
        "link": links,
    }
    if resources:  # FHIR JSON has no empty arrays
        bundle["entry"] = [
            {
                "fullUrl": f"{base}/{resource['resourceType']}/{resource['id']}",
                "resource": resource,
                "search": {"mode": "match"},
            }
            for resource in resources
        ]
    return bundle
