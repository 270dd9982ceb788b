"""`named`: a model marks its id fields once; the names beside them come from the reference data, None when unknown."""

import importlib
import inspect
import pkgutil
from typing import Annotated, Any

import pytest
from pydantic import BaseModel

import gateway.api
import gateway.api.routes
from gateway.api.names import HOLDER, DataNames, DevicePlace, Formulary, Named, NamedByKind, marks, named
from gateway.reference.model import DeviceInfo, Location, Medication, ReferenceData, StaffMember

REFERENCE = ReferenceData.of(
    version=3,
    locations=[Location("ward-3a", "Ward 3A", "ward"), Location("lab-main", "Main laboratory", "lab")],
    staff=[StaffMember("rn-1001", "K. Okafor", "nurse")],
    medications=[Medication("00614141001019", "Paracetamol", "500 mg", "tablet")],
    devices=[DeviceInfo("sorter-1", "Lab sorter", location="lab-main"), DeviceInfo("pc-1", "Porter's PC")],
)


class Ref(BaseModel):
    kind: str
    id: Annotated[str, NamedByKind()]
    name: str | None = None


class Line(BaseModel):
    gtin: Annotated[str, Formulary()]
    medication_name: str | None = None
    medication_strength: str | None = None


class Step(BaseModel):
    device: Annotated[str, DevicePlace()]
    device_name: str | None = None
    location: str | None = None
    location_name: str | None = None
    data: Annotated[dict[str, Any], DataNames()]
    data_names: dict[str, str | None] = {}


class Specimen(BaseModel):
    ward: Annotated[str | None, Named("location")]
    ward_name: str | None = None
    custodian: Annotated[str | None, Named(*HOLDER)]
    custodian_name: str | None = None
    refs: list[Ref] = []
    lines: list[Line] = []
    step: Step | None = None


def test_names_go_beside_known_ids_and_none_beside_unknown_ones() -> None:
    known = named(Specimen(ward="ward-3a", custodian="rn-1001"), REFERENCE)
    assert (known.ward, known.ward_name, known.custodian_name) == ("ward-3a", "Ward 3A", "K. Okafor")
    unknown = named(Specimen(ward="ward-9z", custodian=None), REFERENCE)
    assert (unknown.ward, unknown.ward_name, unknown.custodian_name) == ("ward-9z", None, None)


def test_a_holder_is_looked_up_among_staff_then_devices_then_locations() -> None:
    names = [named(Specimen(ward=None, custodian=c), REFERENCE).custodian_name for c in ("sorter-1", "lab-main")]
    assert names == ["Lab sorter", "Main laboratory"]


def test_nested_models_and_lists_are_named_too_and_the_original_is_left_alone() -> None:
    specimen = Specimen(
        ward="ward-3a",
        custodian="C-77",
        refs=[Ref(kind="person", id="rn-1001"), Ref(kind="ward", id="ward-3a"), Ref(kind="carrier", id="C-77")],
        lines=[Line(gtin="00614141001019"), Line(gtin="00614141001026")],
        step=Step(device="sorter-1", data={"badge": "rn-1001", "station": "LAB-9", "lane": 3}),
    )
    done = named(specimen, REFERENCE)
    assert [r.name for r in done.refs] == ["K. Okafor", "Ward 3A", None]
    assert [(ln.medication_name, ln.medication_strength) for ln in done.lines] == [
        ("Paracetamol", "500 mg"),
        (None, None),
    ]
    assert done.step is not None
    assert (done.step.device_name, done.step.location, done.step.location_name) == (
        "Lab sorter",
        "lab-main",
        "Main laboratory",
    )
    assert done.step.data_names == {"badge": "K. Okafor", "station": None}  # lane is no id
    assert specimen.refs[0].name is None


def test_a_ref_kind_that_names_nothing_gets_no_name_even_when_its_id_is_a_known_one() -> None:
    assert named(Ref(kind="specimen", id="ward-3a"), REFERENCE).name is None


def test_version_zero_knows_no_name() -> None:
    done = named(
        Specimen(ward="ward-3a", custodian="rn-1001", refs=[Ref(kind="person", id="rn-1001")]), ReferenceData()
    )
    assert (done.ward_name, done.custodian_name, done.refs[0].name) == (None, None, None)


def test_a_mark_without_the_field_it_fills_is_refused_with_the_field_it_lacks() -> None:
    class Careless(BaseModel):
        robot: Annotated[str, Named("device")]

    with pytest.raises(TypeError, match=r"Careless\.robot .* no field robot_name"):
        named(Careless(robot="robot-1"), REFERENCE)


def _response_models() -> list[type[BaseModel]]:
    found = []
    for package in (gateway.api, gateway.api.routes):
        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{package.__name__}.{info.name}")
            found += [
                value
                for value in vars(module).values()
                if inspect.isclass(value) and issubclass(value, BaseModel) and value.__module__ == module.__name__
            ]
    return found


def test_every_api_model_marks_only_fields_it_can_fill_and_the_families_are_marked() -> None:
    marked = {model.__name__: [field for field, _ in marks(model)] for model in _response_models()}
    assert marked["SpecimenBase"] == ["ward", "place", "custodian"]
    assert marked["DeliveryBase"] == ["ward", "destination", "cabinet", "robot", "location", "handed_over_by"]
    assert marked["CabinetBase"] == ["cabinet", "ward", "last_access_by"]
    assert marked["PickLinePublic"] == ["cabinet", "ward", "gtin"]
    assert marked["TripPublic"] == ["device", "from_station", "to_station", "station", "released_by"]
    assert marked["DeviceBase"] == ["device"]
    assert marked["AlertPublic"] == ["ward", "details", "acknowledged_by"]
    assert marked["RobotPublic"] == ["robot", "node"]
    assert marked["CustodyRecordPublic"] == ["device", "data"]
