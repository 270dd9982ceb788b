"""/api/v1/reference: lists for every signed-in role, export for engineers, import for admins only (audited)."""

import json
from typing import Any

import httpx

from gateway.reference.fhir_mapping import GTIN_SYSTEM
from gateway.service import Gateway
from tests.auth import authorised

LOCATIONS = (
    "id,name,kind,building,floor\nward-3a,Ward 3A (Cardiology),ward,Main,3\ncore-lab,Core laboratory,lab,Main,0\n"
)
CSV = {"content-type": "text/csv"}
FORMULARY = {
    "resourceType": "Bundle",
    "type": "collection",
    "entry": [
        {
            "resource": {
                "resourceType": "Medication",
                "code": {"coding": [{"system": GTIN_SYSTEM, "code": "00614141001019"}], "text": "Paracetamol 500 mg"},
                "form": {"text": "tablet"},
            }
        },
        {"resource": {"resourceType": "Patient", "name": [{"text": "Ada Shelby"}]}},
    ],
}


async def _audit(gateway: Gateway) -> list[tuple[str, str | None, str, str | None]]:
    async with authorised(gateway, "admin") as admin:
        entries: list[dict[str, Any]] = (await admin.get("/api/v1/audit", params={"action": "reference."})).json()[
            "data"
        ]
    return [(e["action"], e["target"], e["outcome"], e["detail"]) for e in entries]


async def test_nothing_imported_is_version_zero(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/v1/reference")

    assert response.status_code == 200
    assert response.json() == {
        "version": 0,
        "imported_at": None,
        "imported_by": None,
        "source": None,
        "comment": None,
        "counts": {"locations": 0, "staff": 0, "medications": 0, "devices": 0},
        "in_force": True,
    }
    assert (await api.get("/api/v1/reference/staff")).json() == {"version": 0, "kind": "staff", "data": [], "count": 0}


async def test_an_admin_imports_csv_and_every_role_reads_the_lists(gateway: Gateway, api: httpx.AsyncClient) -> None:
    imported = await api.post(
        "/api/v1/reference/import",
        content=LOCATIONS,
        headers=CSV,
        params={"name": "locations.csv", "comment": "wards"},
    )

    assert imported.status_code == 201
    body = imported.json()
    assert (body["version"], body["source"], body["comment"], body["in_force"]) == (1, "locations.csv", "wards", True)
    assert body["counts"] == {"locations": 2, "staff": 0, "medications": 0, "devices": 0}
    for role in ("lab", "pharmacy", "engineer", "integration"):
        async with authorised(gateway, role) as client:
            listed = await client.get("/api/v1/reference/locations", params={"limit": 1, "offset": 1})
        assert listed.status_code == 200, role
        assert listed.json() == {
            "version": 1,
            "kind": "locations",
            "count": 2,
            "data": [
                {
                    "id": "ward-3a",
                    "name": "Ward 3A (Cardiology)",
                    "kind": "ward",
                    "building": "Main",
                    "floor": "3",
                    "zone": None,
                    "part_of": None,
                }
            ],
        }
    async with httpx.AsyncClient(base_url=gateway.api_url) as anonymous:
        assert (await anonymous.get("/api/v1/reference/locations")).status_code == 401


async def test_only_an_admin_may_import(gateway: Gateway) -> None:
    for role in ("lab", "pharmacy", "engineer", "integration"):
        async with authorised(gateway, role) as client:
            refused = await client.post("/api/v1/reference/import", content=LOCATIONS, headers=CSV)
        assert refused.status_code == 403, role
        assert refused.json()["detail"].startswith(f"the {role} role may not use this; it needs admin")
    async with authorised(gateway, "admin") as admin:
        assert (await admin.get("/api/v1/reference")).json()["version"] == 0


async def test_a_bad_file_is_a_422_listing_every_problem_audited_and_nothing_stored(
    gateway: Gateway, api: httpx.AsyncClient
) -> None:
    refused = await api.post(
        "/api/v1/reference/import",
        content=json.dumps(FORMULARY),
        headers={"content-type": "application/fhir+json"},
        params={"name": "formulary.json"},
    )
    bad_csv = await api.post(
        "/api/v1/reference/import", content="badge,name,role\nrn-1,,nurse\n,X,nurse\n", headers=CSV
    )

    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["errors"] == [
        {
            "file": "formulary.json",
            "row": None,
            "entry": 1,
            "field": "resourceType",
            "reason": "a Patient: reference data holds staff only, never patients; remove the entry",
        }
    ]
    assert "Ada Shelby" not in refused.text
    assert [(e["row"], e["field"], e["reason"]) for e in bad_csv.json()["errors"]] == [
        (2, "name", "is required and empty"),
        (3, "badge", "is required and empty"),
    ]
    assert (await api.get("/api/v1/reference/versions")).json() == {"data": [], "count": 0}
    assert [(action, target, outcome) for action, target, outcome, _ in await _audit(gateway)] == [
        ("reference.import", "reference", "failed"),
        ("reference.import", "reference", "failed"),
    ]


async def test_a_fhir_bundle_imports_and_exports_as_csv_or_fhir(gateway: Gateway, api: httpx.AsyncClient) -> None:
    await api.post("/api/v1/reference/import", content=LOCATIONS, headers=CSV, params={"name": "locations.csv"})
    formulary = {**FORMULARY, "entry": FORMULARY["entry"][:1]}
    imported = await api.post(
        "/api/v1/reference/import", json=formulary, params={"name": "formulary.json", "comment": "from the EPR"}
    )

    assert imported.status_code == 201
    assert imported.json()["counts"] == {"locations": 2, "staff": 0, "medications": 1, "devices": 0}
    versions = (await api.get("/api/v1/reference/versions")).json()
    assert [(v["version"], v["source"], v["in_force"]) for v in versions["data"]] == [
        (2, "formulary.json", True),
        (1, "locations.csv", False),
    ]
    assert (await _audit(gateway))[0] == (
        "reference.import",
        "reference version 2",
        "ok",
        "formulary.json: 2 locations, 0 staff, 1 medications, 0 devices",
    )

    csv = await api.get("/api/v1/reference/export", params={"format": "csv", "kind": "medications"})
    assert csv.status_code == 200
    assert csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert (
        csv.text == "gtin,name,strength,form,refrigerated,controlled\n00614141001019,Paracetamol 500 mg,,tablet,no,no\n"
    )
    old = await api.get("/api/v1/reference/export", params={"format": "fhir", "version": 1})
    assert old.headers["content-type"] == "application/fhir+json"
    assert [e["resource"]["name"] for e in old.json()["entry"]] == ["Core laboratory", "Ward 3A (Cardiology)"]
    assert (await api.get("/api/v1/reference/export", params={"format": "csv"})).status_code == 422
    assert (await api.get("/api/v1/reference/export", params={"version": 9})).status_code == 404
    async with authorised(gateway, "lab") as lab:
        assert (await lab.get("/api/v1/reference/export")).status_code == 403
