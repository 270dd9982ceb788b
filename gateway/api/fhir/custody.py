"""Provenance: the custody log's records of one subject (search by target) or one record (read by position).

Who may read whose custody follows the custody API (gateway.api.routes.custody.KIND_ROLES): the lab its
specimens and carriers, the pharmacy its deliveries and cabinets, engineers all. A ward-scoped caller finds
nothing about another ward's specimen or delivery.
"""

from fastapi import HTTPException, Request

from gateway.api.deps import ClockDep, CustodyDep, DatabaseDep, ReferenceDep, RulesDep
from gateway.api.fhir.responses import FhirResponse, bundle_response, not_found, resource_response
from gateway.api.fhir.searching import page_limit, search_of
from gateway.api.routes.custody import KIND_ROLES
from gateway.auth.deps import AuditDep, PrincipalDep
from gateway.auth.principal import Principal
from gateway.auth.scope import WARDED_KINDS, subject_ward
from gateway.clinical.fhir.datatypes import wardlink_id
from gateway.clinical.fhir.provenance import TARGET_TYPES, provenance_resource
from gateway.clinical.fhir.search import Search, SearchError
from gateway.custody.log import CustodyRecord
from gateway.rules.in_force import RulesInForce
from gateway.storage.database import Database

KINDS_OF: dict[str, tuple[str, ...]] = {
    t: tuple(k for k, tt in TARGET_TYPES.items() if tt == t) for t in set(TARGET_TYPES.values())
}
"""The custody subject kinds each target type stands for (a Device is a carrier or a cabinet)."""


def _check_role(caller: Principal, kind: str) -> None:
    if caller.role not in KIND_ROLES[kind]:
        raise HTTPException(
            403,
            f"the {caller.role} role may not read {kind} custody; it needs "
            f"{' or '.join(sorted(KIND_ROLES[kind]))}: ask an admin for access",
        )


async def _hidden(caller: Principal, db: Database, rules: RulesInForce, kind: str, subject_id: str) -> bool:
    """Whether the subject belongs to a ward the caller may not see."""
    return (
        caller.scoped
        and kind in WARDED_KINDS
        and not caller.can_see_ward(await subject_ward(db, rules, kind, subject_id))
    )


def _target(search: Search) -> tuple[str, str]:
    """The one target searched for, as (resource type, wardlink id)."""
    groups = search.references.get("target", ())
    target_type, _, fhir_id = groups[0][0].partition("/") if len(groups) == 1 and len(groups[0]) == 1 else ("", "", "")
    subject = wardlink_id(fhir_id)
    if target_type not in KINDS_OF or subject is None:
        raise SearchError(
            "Provenance search needs exactly one target=Type/id, where Type is "
            f"{', '.join(sorted(KINDS_OF))} (e.g. target=Specimen/S-1001)"
        )
    return target_type, subject


async def search_provenance(
    request: Request,
    caller: PrincipalDep,
    custody: CustodyDep,
    db: DatabaseDep,
    rules: RulesDep,
    reference: ReferenceDep,
    clock: ClockDep,
    audit: AuditDep,
) -> FhirResponse:
    """The target's custody records in log order."""
    search = search_of(request, "Provenance")
    target_type, subject_id = _target(search)
    records: list[CustodyRecord] = []
    total = 0
    for kind in KINDS_OF[target_type]:
        if caller.role not in KIND_ROLES[kind] or await _hidden(caller, db, rules, kind, subject_id):
            continue
        records, counted = await custody.records(
            kind, subject_id, limit=page_limit(search), offset=search.offset, exact_total=True
        )
        total = counted.value
        if total:
            await audit("custody.view", target=f"{kind} {subject_id}")
            break
    resources = [provenance_resource(record, reference) for record in records[: search.count]]
    return bundle_response(request, search, resources, total, clock())


async def read_provenance(
    resource_id: str,
    caller: PrincipalDep,
    custody: CustodyDep,
    db: DatabaseDep,
    rules: RulesDep,
    reference: ReferenceDep,
    audit: AuditDep,
) -> FhirResponse:
    record = await custody.record(int(resource_id)) if resource_id.isdigit() and len(resource_id) < 19 else None
    if record is None or caller.role not in KIND_ROLES[record.subject_kind]:  # another role's custody: as if unknown
        raise not_found("Provenance", resource_id)
    if await _hidden(caller, db, rules, record.subject_kind, record.subject_id):  # as if unknown
        raise not_found("Provenance", resource_id)
    await audit("custody.view", target=f"{record.subject_kind} {record.subject_id}")
    return resource_response(provenance_resource(record, reference))
