"""The demo's fictional reference data names every id its hospital can produce, and `wardlink demo` imports it.

The ids are walked from the simulators and the site files, never listed here: a new ward, device or formulary item
in the simulators fails this test until `python -m benchmarks.demo_reference` has named it.
"""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from device_profiles import SITES_DIR, load_site
from gateway.composition.stores import Stores
from gateway.reference.importer import read_sources
from gateway.reference.model import ReferenceData
from simulators.cabinets.stock import FORMULARY, NURSE_BADGES, PHARMACY_BADGES, REFRIGERATED, gtin14
from simulators.clinical.journey import CATEGORIES, STAFF_NUMBERS, STAFF_ROLES
from simulators.hospital.devices import WARDS
from simulators.hospital.hospital import Hospital
from simulators.hospital.scenario import Devices, Scenario, available, load_scenario
from simulators.tubes.traffic import RELEASE_BADGES, dispatches
from wardlink.demo_reference import IMPORTED_BY, demo_sources, import_demo_reference
from wardlink.stack import Stack, StackConfig

NOW = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
NOWHERE = "mqtt://127.0.0.1:1"
"""The hospitals here are built, never connected."""


@pytest.fixture(scope="module")
def demo() -> ReferenceData:
    return ReferenceData.of(version=1, **read_sources(demo_sources(), ReferenceData()))


def unnamed(ids: set[str], named: object) -> list[str]:
    return sorted(i for i in ids if i not in named)  # type: ignore[operator]  # a Mapping of the reference data


@pytest.fixture(params=[(name, seed) for name in available() for seed in (None, 2, 3)], ids=str)
async def hospital(request: pytest.FixtureRequest) -> AsyncIterator[Hospital]:
    name, seed = request.param
    scenario: Scenario = load_scenario(name)
    if seed is not None:
        scenario = scenario.model_copy(update={"seed": seed})
    built = Hospital(scenario, NOWHERE)
    modbus = [*built.sorters.values(), *built.tube_systems.values()]
    for sim in modbus:
        await sim.start()  # a real port each, for the site file the edge is given
    try:
        yield built
    finally:
        for sim in modbus:
            await sim.stop()


async def test_every_id_a_scenarios_hospital_uses_is_named(hospital: Hospital, demo: ReferenceData) -> None:
    site = hospital.site()
    stations = {s for tubes in hospital.tube_systems.values() for s in tubes.network.stations}
    places = {
        *stations,
        *WARDS,
        *(d.location for d in site.devices if d.location),
        *(node.id for node in hospital.devices.graph.nodes),
        *(category.bench for category in CATEGORIES.values()),
        *hospital.cabinets,
    }
    staff = hospital.staff
    badges = {
        *(b for ward in staff.nurses.values() for b in ward),
        *staff.lab,
        *staff.pharmacy,
        *(b for cabinet in hospital.cabinets.values() for b in [*cabinet.nurses, *cabinet.pharmacy]),
        *(
            d.badge
            for tubes in hospital.tube_systems.values()
            for d in dispatches(hospital.scenario.seed, tubes.network, 3000)
            if d.badge
        ),
    }
    gtins = {line.gtin for cabinet in hospital.cabinets.values() for line in cabinet.stock.values()}
    devices = {*hospital.devices.ids, hospital.lis.device, hospital.pharmacy.device}

    assert min(len(places), len(badges), len(gtins), len(devices)) > 3  # the walk found what the day uses
    assert unnamed(places, demo.locations) == []
    assert unnamed(badges, demo.staff) == []
    assert unnamed(gtins, demo.medications) == []
    assert unnamed(devices, demo.devices) == []
    for cabinet, ward in hospital.cabinet_ward.items():
        assert demo.locations[cabinet].part_of == ward
        assert demo.devices[cabinet].location == ward


def test_every_badge_every_device_and_the_whole_formulary_any_scenario_can_draw_are_named(demo: ReferenceData) -> None:
    badges = {f"{prefix}-{n:04d}" for prefix in STAFF_ROLES for n in STAFF_NUMBERS}
    badges |= {f"N-{n}" for n in NURSE_BADGES} | {f"P-{n}" for n in PHARMACY_BADGES} | {f"B{n}" for n in RELEASE_BADGES}
    families = ("sorters", "tube_systems", "robots", "cabinets")
    fields = Devices.model_fields
    largest = Devices(**{name: next(m.le for m in fields[name].metadata if hasattr(m, "le")) for name in families})
    sites = [load_site(path)[0] for path in sorted(SITES_DIR.glob("*.yaml"))]

    assert unnamed(badges, demo.staff) == []
    assert unnamed({d for ids in largest.ids().values() for d in ids}, demo.devices) == []
    assert unnamed({d.id for site in sites for d in site.devices}, demo.devices) == []
    assert unnamed({d.location for site in sites for d in site.devices if d.location}, demo.locations) == []
    assert {gtin14(ref) for ref, _ in FORMULARY} == set(demo.medications)
    cold = {gtin14(ref) for ref in REFRIGERATED}
    assert {gtin for gtin, m in demo.medications.items() if m.refrigerated} == cold
    assert {m.role for m in demo.staff.values()} == {*STAFF_ROLES.values(), "porter"}


async def test_the_demo_imports_its_names_only_into_a_database_that_has_none(store: Stores) -> None:
    data, imported = await import_demo_reference(store.reference, NOW)
    again, imported_again = await import_demo_reference(store.reference, NOW)

    assert (data.version, imported, again.version, imported_again) == (1, True, 1, False)
    (version,) = await store.reference.versions()
    assert (version.imported_by, version.source) == (
        IMPORTED_BY,
        "devices.csv, locations.csv, medications.csv, staff.csv",
    )
    assert data.location_name("ward-3a") == "Ward 3A (Cardiology)"
    assert data.medication_name(gtin14("00158")) == "Morphine sulfate 10 mg/1 ml injection"


async def test_a_stack_started_for_the_demo_says_in_one_line_what_it_imported(
    tmp_path: Path, demo: ReferenceData
) -> None:
    counts = ", ".join(f"{n} {kind}" for kind, n in demo.counts().items())
    config = StackConfig(data_dir=tmp_path / "data", api_port=0, stream_rate_per_s=None, reference_data=True)
    async with Stack(config) as stack:
        assert stack.reference is not None
        assert stack.reference == f"version 1 imported: the demo hospital's fictional names ({counts})"
    async with Stack(config) as stack:
        assert stack.reference == f"version 1 in force ({counts}); the demo's own is not imported over it"
