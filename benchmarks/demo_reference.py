"""Writes the demo hospital's fictional reference data (simulators/hospital/reference/*.csv) from the simulators.

    .venv/bin/python -m benchmarks.demo_reference

Run it again after adding a ward, a device family or a formulary item to the simulators; it fails naming any
place it has no name for. Every id comes from walking the simulators and the site files, never typed here: tube
stations and their zones, the robots' map nodes, the lab benches, devices up to each family's scenario limit
(with the ward each cabinet hangs on), every badge number the staff rosters can draw, and the formulary.
"""

import csv
import random
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from contract import Topics
from device_profiles import SITES_DIR, Site, load_profiles, load_site
from simulators.cabinets.stock import FORMULARY, NURSE_BADGES, PHARMACY_BADGES, REFRIGERATED, gtin14
from simulators.clinical.journey import CATEGORIES, STAFF_NUMBERS, STAFF_ROLES
from simulators.hospital.devices import WARDS, HospitalDevices
from simulators.hospital.scenario import Devices
from simulators.tubes.network import HOSPITAL
from simulators.tubes.traffic import RELEASE_BADGES

OUT = Path(__file__).resolve().parent.parent / "simulators" / "hospital" / "reference"
BUILDING = "Main building"
PLACES: dict[str, tuple[str, str, str]] = {
    # id: (name, kind, floor) for the places the simulators name by id only
    "lab": ("Laboratory", "lab", "0"),
    "core-lab": ("Core laboratory, pre-analytics", "lab", "0"),
    "blood-bank": ("Blood bank", "lab", "0"),
    "ed": ("Emergency department", "ward", "0"),
    "or": ("Operating theatres", "ward", "1"),
    "icu": ("Intensive care unit", "ward", "3"),
    "pharmacy": ("Inpatient pharmacy", "pharmacy", "0"),
    "ward-3a": ("Ward 3A (Cardiology)", "ward", "3"),
    "ward-3b": ("Ward 3B (Respiratory medicine)", "ward", "3"),
    "ward-4a": ("Ward 4A (General surgery)", "ward", "4"),
    "ward-4b": ("Ward 4B (Orthopaedics)", "ward", "4"),
    "ward-5a": ("Ward 5A (Care of the elderly)", "ward", "5"),
    "oncology": ("Oncology day unit", "ward", "5"),
    "tube-plant-room": ("Tube system plant room", "other", "-1"),
}
MEDICATIONS: dict[str, tuple[str, str, str, bool]] = {
    # formulary reference: (name, strength, form, controlled)
    "00101": ("Paracetamol 500 mg tablets", "500 mg", "tablet", False),
    "00102": ("Ibuprofen 400 mg tablets", "400 mg", "tablet", False),
    "00117": ("Ondansetron 4 mg orodispersible tablets", "4 mg", "orodispersible tablet", False),
    "00123": ("Metoclopramide 10 mg tablets", "10 mg", "tablet", False),
    "00135": ("Enoxaparin 40 mg/0.4 ml pre-filled syringe", "40 mg/0.4 ml", "pre-filled syringe", False),
    "00142": ("Furosemide 20 mg/2 ml injection", "20 mg/2 ml", "ampoule", False),
    "00158": ("Morphine sulfate 10 mg/1 ml injection", "10 mg/1 ml", "ampoule", True),
    "00161": ("Oxycodone 5 mg capsules", "5 mg", "capsule", True),
    "00176": ("Amoxicillin 500 mg capsules", "500 mg", "capsule", False),
    "00189": ("Sodium chloride 0.9 % 10 ml injection", "0.9 %", "ampoule", False),
    "00193": ("Insulin aspart 100 units/ml pre-filled pen", "100 units/ml", "pre-filled pen", False),
    "00204": ("Heparin sodium 5,000 units/ml injection", "5000 units/ml", "vial", False),
}
INITIALS = "ABCDEFGHIJKLMNOPRSTVWY"
SURNAMES = [
    "Abara",
    "Achterberg",
    "Adeyemi",
    "Ahmadi",
    "Alvarez",
    "Amsel",
    "Andersen",
    "Antonelli",
    "Arslan",
    "Asante",
    "Bakker",
    "Baptiste",
    "Barros",
    "Bauer",
    "Bergstrom",
    "Bianchi",
    "Bogdan",
    "Brandt",
    "Byrne",
    "Caldwell",
    "Castillo",
    "Chaudhry",
    "Chen",
    "Chowdhury",
    "Costa",
    "Dahl",
    "Dalca",
    "Delacroix",
    "Diallo",
    "Dimitrov",
    "Dubois",
    "Duarte",
    "Eklund",
    "Esposito",
    "Evans",
    "Farouk",
    "Fenwick",
    "Ferreira",
    "Fischer",
    "Fontaine",
    "Gallagher",
    "Garcia",
    "Gashi",
    "Gonzaga",
    "Grady",
    "Haddad",
    "Hansen",
    "Haruna",
    "Hernandez",
    "Holm",
    "Horvath",
    "Hughes",
    "Ibekwe",
    "Idowu",
    "Ivanova",
    "Jansen",
    "Jaramillo",
    "Jovanovic",
    "Kamara",
    "Kaplan",
    "Kaur",
    "Keane",
    "Kim",
    "Kowalski",
    "Kruger",
    "Kumar",
    "Lambert",
    "Larsen",
    "Lebedev",
    "Lindqvist",
    "Lopez",
    "Lund",
    "Maddox",
    "Mahlangu",
    "Malik",
    "Marchetti",
    "Mbeki",
    "Mendes",
    "Moreau",
    "Morris",
    "Mwangi",
    "Nakamura",
    "Navarro",
    "Ndlovu",
    "Nguyen",
    "Nielsen",
    "Novak",
    "Nowak",
    "Nunes",
    "Obi",
    "Okafor",
    "Okonkwo",
    "Olsen",
    "Ortiz",
    "Osei",
    "Ozturk",
    "Pajari",
    "Papadopoulos",
    "Patel",
    "Pereira",
    "Petrov",
    "Popescu",
    "Quinn",
    "Rahman",
    "Ramos",
    "Reyes",
    "Rossi",
    "Russo",
    "Sahin",
    "Salazar",
    "Santos",
    "Sato",
    "Schmidt",
    "Schultz",
    "Sefton",
    "Shah",
    "Silva",
    "Sokolov",
    "Soto",
    "Suzuki",
    "Szabo",
    "Tanaka",
    "Teixeira",
    "Thornton",
    "Torres",
    "Tran",
    "Ueda",
    "Umarov",
    "Valdez",
    "Varga",
    "Vasquez",
    "Vogel",
    "Wagner",
    "Walsh",
    "Weber",
    "Wiśniewski",
    "Xu",
    "Yamamoto",
    "Yilmaz",
    "Young",
    "Zaman",
    "Zhang",
    "Zielinski",
]


def _name(id_: str) -> str:
    """`chemistry-analyser-1` -> `Chemistry analyser 1`."""
    return id_.replace("-", " ").capitalize()


def _write(path: Path, header: Iterable[str], rows: Iterable[Iterable[object]]) -> int:
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(header)
        count = 0
        for row in rows:
            writer.writerow(["yes" if c is True else "no" if c is False else "" if c is None else c for c in row])
            count += 1
    return count


def most_devices() -> HospitalDevices:
    """The largest hospital a scenario can ask for: every device id any scenario can produce."""
    limits = {
        name: next(m.le for m in field.metadata if hasattr(m, "le"))
        for name, field in Devices.model_fields.items()
        if name in ("sorters", "tube_systems", "robots", "cabinets")
    }
    spec = Devices(**limits)
    return HospitalDevices(
        spec, load_profiles(), "mqtt://127.0.0.1:1", seed=1, speed=1, clock=lambda: datetime.now(UTC)
    )


def hospital_site(devices: HospitalDevices) -> Site:
    """Where every device is, as the demo's edge is told (`HospitalDevices.site`)."""
    for n, sim in enumerate([*devices.sorters.values(), *devices.tube_systems.values()], start=1):
        sim._port = 5000 + n  # never started: the site file wants distinct ports, any will do
    return devices.site(Topics(site="general-hospital", edge="hospital-edge"), "")


def locations(devices: HospitalDevices) -> list[tuple[object, ...]]:
    rows: dict[str, tuple[object, ...]] = {}
    graph = devices.graph
    zones = HOSPITAL.stations
    site = hospital_site(devices)
    ids = [*zones, *WARDS, *(d.location for d in site.devices), *(n.id for n in graph.nodes)]
    for path in sorted(SITES_DIR.glob("*.yaml")):
        ids += [d.location for d in load_site(path)[0].devices if d.location]
    nodes = {n.id: n for n in graph.nodes}
    for id_ in dict.fromkeys(i for i in ids if i):
        if id_ in PLACES:
            name, kind, floor = PLACES[id_]
        elif id_ in nodes:  # a corridor, lift or charger on the robots' map: its description names it
            node = nodes[id_]
            name, kind, floor = node.description or _name(id_), "other", node.map.removeprefix("floor-")
        else:
            sys.exit(f"no name for location {id_!r}: add it to PLACES in {__file__}")
        rows[id_] = (id_, name, kind, BUILDING, floor, zones.get(id_), "lab" if id_ == "core-lab" else None)
    for category in CATEGORIES.values():
        rows[category.bench] = (category.bench, _name(category.bench), "bench", BUILDING, "0", None, "core-lab")
    for cabinet, ward in devices.cabinet_ward.items():
        number = cabinet.removeprefix("cabinet-")
        name = f"Medication cabinet {number}, {PLACES[ward][0]}"
        rows[cabinet] = (cabinet, name, "cabinet", BUILDING, PLACES[ward][2], zones.get(ward), ward)
    return list(rows.values())


def staff() -> list[tuple[str, str, str]]:
    rng = random.Random(20261206)
    badges = [(f"{p}-{n:04d}", role) for p, role in STAFF_ROLES.items() for n in STAFF_NUMBERS]
    badges += [(f"N-{n}", "nurse") for n in NURSE_BADGES]
    badges += [(f"P-{n}", "pharmacy technician") for n in PHARMACY_BADGES]
    badges += [(f"B{n}", "porter") for n in RELEASE_BADGES]
    return [(badge, f"{rng.choice(INITIALS)}. {rng.choice(SURNAMES)}", role) for badge, role in badges]


def medications() -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    for reference, description in FORMULARY:
        if reference not in MEDICATIONS:
            sys.exit(f"no formulary entry for {reference} ({description}): add it to MEDICATIONS in {__file__}")
        name, strength, form, controlled = MEDICATIONS[reference]
        rows.append((gtin14(reference), name, strength, form, reference in REFRIGERATED, controlled))
    return rows


def devices(hospital: HospitalDevices) -> list[tuple[object, ...]]:
    site = hospital_site(hospital)
    profiles = load_profiles()
    rows: list[tuple[object, ...]] = []
    for device in site.devices:
        family, number = device.id.rsplit("-", 1)
        model = profiles[device.profile]
        title = {"sorter": "Specimen sorter", "tubes": "Pneumatic tube system", "robot": "Delivery robot"}.get(
            family, "Medication cabinet"
        )
        rows.append((device.id, f"{title} {number} ({model.manufacturer} {model.model})", device.location))
    rows.append(("lis", "Laboratory information system", "lab"))
    rows.append(("pharmacy", "Pharmacy system", "pharmacy"))
    return rows


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    hospital = most_devices()
    counts = {
        "locations": _write(
            OUT / "locations.csv", ("id", "name", "kind", "building", "floor", "zone", "part_of"), locations(hospital)
        ),
        "staff": _write(OUT / "staff.csv", ("badge", "name", "role"), staff()),
        "medications": _write(
            OUT / "medications.csv", ("gtin", "name", "strength", "form", "refrigerated", "controlled"), medications()
        ),
        "devices": _write(OUT / "devices.csv", ("id", "name", "location"), devices(hospital)),
    }
    print(f"wrote {OUT}: " + ", ".join(f"{n} {kind}" for kind, n in counts.items()))


if __name__ == "__main__":
    main()
