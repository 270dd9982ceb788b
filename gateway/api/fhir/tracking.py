"""Specimen, Task and SupplyDelivery: read and search over the tracking tables, scoped to the caller's wards.

A ward-scoped caller searching finds only its wards' specimens and deliveries; reading another ward's is a 404,
as if it did not exist (gateway.auth.deps). Tasks follow the caller's role: the lab's are the specimens', the
pharmacy's the deliveries', an admin's both.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import Request

from gateway.api.deps import ClockDep, DeliveriesDep, ReferenceDep, SpecimensDep
from gateway.api.fhir.responses import FhirResponse, bundle_response, not_found, resource_response
from gateway.api.fhir.searching import both, page_limit, search_of, wanted_ids
from gateway.auth.deps import AuditDep, PrincipalDep
from gateway.auth.principal import Principal
from gateway.clinical.fhir import specimen, supply_delivery, task
from gateway.clinical.fhir.datatypes import DELIVERY_ID, SPECIMEN_BARCODE, TASK_CODE, TEST_CATEGORY, wardlink_id
from gateway.clinical.fhir.search import Search
from gateway.tracking.deliveries.fold import DeliveryRow
from gateway.tracking.deliveries.queries import DeliveryQueries
from gateway.tracking.specimens.store import SpecimenFilter

TASK_KINDS: dict[str, tuple[task.TaskKind, ...]] = {
    "lab": ("specimen",),
    "pharmacy": ("delivery",),
    "admin": ("specimen", "delivery"),
}
"""Whose transports each role may see as Tasks (the roles `require` lets through)."""


def _specimen_filter(search: Search, caller: Principal, statuses: Sequence[str] | None) -> SpecimenFilter:
    categories = search.codes("type", TEST_CATEGORY)
    return SpecimenFilter(
        wards=caller.wards or None,
        barcodes=wanted_ids(search, SPECIMEN_BARCODE),
        statuses=None if statuses is None else tuple(statuses),
        categories=None if categories is None else tuple(sorted(categories)),
        updated_since=search.updated.since,
        updated_before=search.updated.before,
    )


async def search_specimens(
    request: Request, caller: PrincipalDep, specimens: SpecimensDep, reference: ReferenceDep, clock: ClockDep
) -> FhirResponse:
    """Specimens by barcode, status, test category and _lastUpdated, the most recently active first."""
    search = search_of(request, "Specimen")
    codes = search.codes("status", specimen.FHIR_STATUS_SYSTEM)
    where = _specimen_filter(search, caller, None if codes is None else specimen.tracked_statuses(codes))
    rows, total = await specimens.page(limit=page_limit(search), offset=search.offset, where=where)
    rows = rows[: search.count]
    collectors = await specimens.collectors([row.barcode for row in rows])
    resources = [specimen.specimen_resource(row, collectors.get(row.barcode), reference) for row in rows]
    return bundle_response(request, search, resources, total, clock())


async def read_specimen(
    resource_id: str, caller: PrincipalDep, specimens: SpecimensDep, reference: ReferenceDep, audit: AuditDep
) -> FhirResponse:
    """One specimen, audited like the API's specimen view (it names who collected it and who holds it)."""
    barcode = wardlink_id(resource_id)
    found = await specimens.get(barcode) if barcode else None
    if found is None or not caller.can_see_ward(found[0].ward):  # another ward's specimen: as if unknown
        raise not_found("Specimen", resource_id)
    row = found[0]
    await audit("custody.view", target=f"specimen {row.barcode}")
    collector = (await specimens.collectors([row.barcode])).get(row.barcode)
    return resource_response(specimen.specimen_resource(row, collector, reference))


async def _delivery_page(
    deliveries: DeliveryQueries, search: Search, caller: Principal, statuses: Sequence[str] | None, offset: int
) -> tuple[list[DeliveryRow], int]:
    return await deliveries.page(
        wards=caller.wards or None,
        ids=wanted_ids(search, DELIVERY_ID),
        statuses=statuses,
        updated_since=search.updated.since,
        updated_before=search.updated.before,
        limit=page_limit(search),
        offset=offset,
    )


async def search_supply_deliveries(
    request: Request, caller: PrincipalDep, deliveries: DeliveriesDep, reference: ReferenceDep, clock: ClockDep
) -> FhirResponse:
    """Deliveries by id, status and _lastUpdated, the most recently active first."""
    search = search_of(request, "SupplyDelivery")
    codes = search.codes("status", supply_delivery.FHIR_STATUS_SYSTEM)
    statuses = None if codes is None else list(supply_delivery.tracked_statuses(codes))
    rows, total = await _delivery_page(deliveries, search, caller, statuses, search.offset)
    resources = [supply_delivery.supply_delivery_resource(row, reference) for row in rows[: search.count]]
    return bundle_response(request, search, resources, total, clock())


async def read_supply_delivery(
    resource_id: str, caller: PrincipalDep, deliveries: DeliveriesDep, reference: ReferenceDep
) -> FhirResponse:
    delivery = wardlink_id(resource_id)
    found = await deliveries.get(delivery) if delivery else None
    if found is None or not caller.can_see_ward(found[0].ward):  # another ward's delivery: as if unknown
        raise not_found("SupplyDelivery", resource_id)
    return resource_response(supply_delivery.supply_delivery_resource(found[0], reference))


def _task_statuses(search: Search, table: Mapping[Any, str]) -> tuple[str, ...] | None:
    codes = search.codes("status", task.FHIR_STATUS_SYSTEM)
    return None if codes is None else tuple(status for status, code in table.items() if code in codes)


def _subject_ids(search: Search, kind: task.TaskKind, system: str) -> tuple[str, ...] | None:
    """The subject ids of `kind` that `identifier` and `_id` (Task ids) allow together; None: not constrained."""
    ids = search.codes("_id")
    by_id = None if ids is None else frozenset(s[1] for i in ids if (s := task.task_subject(i)) and s[0] == kind)
    return both(search.codes("identifier", system), by_id)


async def search_tasks(
    request: Request,
    caller: PrincipalDep,
    specimens: SpecimensDep,
    deliveries: DeliveriesDep,
    reference: ReferenceDep,
    clock: ClockDep,
) -> FhirResponse:
    """The specimens' transports, then the deliveries' (those the caller's role sees), each most recent first."""
    search = search_of(request, "Task")
    codes = search.codes("code", TASK_CODE)
    kinds = [k for k in TASK_KINDS.get(caller.role, ()) if codes is None or task.CODES[k] in codes]
    resources: list[dict[str, Any]] = []
    total, offset, wanted = 0, search.offset, search.count
    if "specimen" in kinds:
        where = SpecimenFilter(
            wards=caller.wards or None,
            barcodes=_subject_ids(search, "specimen", SPECIMEN_BARCODE),
            statuses=_task_statuses(search, task.SPECIMEN_TASK_STATUS),
            updated_since=search.updated.since,
            updated_before=search.updated.before,
        )
        rows, count = await specimens.page(limit=max(wanted, 1), offset=offset, where=where)
        resources += [task.specimen_task(row, reference) for row in rows[:wanted]]
        total, offset, wanted = total + count, max(offset - count, 0), wanted - len(rows[:wanted])
    if "delivery" in kinds:
        rows_, count = await deliveries.page(
            wards=caller.wards or None,
            ids=_subject_ids(search, "delivery", DELIVERY_ID),
            statuses=_task_statuses(search, task.DELIVERY_TASK_STATUS),
            updated_since=search.updated.since,
            updated_before=search.updated.before,
            limit=max(wanted, 1),
            offset=offset,
        )
        resources += [task.delivery_task(row, reference) for row in rows_[:wanted]]
        total += count
    return bundle_response(request, search, resources, total, clock())


async def read_task(
    resource_id: str,
    caller: PrincipalDep,
    specimens: SpecimensDep,
    deliveries: DeliveriesDep,
    reference: ReferenceDep,
    audit: AuditDep,
) -> FhirResponse:
    subject = task.task_subject(resource_id)
    if subject is None or subject[0] not in TASK_KINDS.get(caller.role, ()):
        raise not_found("Task", resource_id)
    kind, subject_id = subject
    if kind == "specimen":
        found = await specimens.get(subject_id)
        if found is not None and caller.can_see_ward(found[0].ward):
            await audit("custody.view", target=f"specimen {subject_id}")  # the Task names who holds it
            return resource_response(task.specimen_task(found[0], reference))
    else:
        delivery = await deliveries.get(subject_id)
        if delivery is not None and caller.can_see_ward(delivery[0].ward):
            return resource_response(task.delivery_task(delivery[0], reference))
    raise not_found("Task", resource_id)
