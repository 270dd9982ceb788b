"""From a request to a `Search` checked against the resource's supported parameters, and the ids it names."""

from fastapi import Request

from gateway.clinical.fhir.capability import BY_TYPE
from gateway.clinical.fhir.datatypes import wardlink_id
from gateway.clinical.fhir.search import Search, parse


def search_of(request: Request, resource_type: str) -> Search:
    """The search the query string asks for; a `SearchError` (400 OperationOutcome) when it asks for more."""
    return parse(resource_type, BY_TYPE[resource_type].params, request.query_params.multi_items())


def wanted_ids(search: Search, system: str) -> tuple[str, ...] | None:
    """The wardlink ids `identifier` (in `system`) and `_id` allow together; None when neither is given."""
    logical = search.codes("_id")
    by_id = None if logical is None else frozenset(i for c in logical if (i := wardlink_id(c)) is not None)
    return both(search.codes("identifier", system), by_id)


def both(first: frozenset[str] | None, second: frozenset[str] | None) -> tuple[str, ...] | None:
    """The ids two constraints allow together (None: unconstrained), sorted."""
    if first is None and second is None:
        return None
    if first is not None and second is not None:
        return tuple(sorted(first & second))
    return tuple(sorted(first if first is not None else second or ()))


def page_limit(search: Search) -> int:
    """The rows to ask the store for: at least one, so that `_count=0` still gets the total from the page."""
    return max(search.count, 1)
