"""`wardlink reference import|show|versions|export`, run as an operator would, against the test's own database."""

import json
from pathlib import Path

import pytest
from fhir.resources.R4B.bundle import Bundle

from gateway.composition.stores import Stores
from gateway.settings import GatewaySettings
from tests.cli import cli_env, wardlink

LOCATIONS = "id,name,kind,floor\nward-3a,Ward 3A (Cardiology),ward,3\ncore-lab,Core laboratory,lab,0\n"
STAFF = "badge,name,role\nrn-0421,K. Okafor,nurse\n"
DEVICES = "id,name,location\nsorter-1,Specimen sorter 1,core-lab\n"


@pytest.fixture
def env(gateway_settings: GatewaySettings) -> dict[str, str]:
    return cli_env(gateway_settings)


def write(folder: Path, **files: str) -> list[str]:
    for name, text in files.items():
        (folder / f"{name}.csv").write_text(text)
    return [str(folder / f"{name}.csv") for name in files]


async def test_several_files_import_as_one_version_and_show_and_versions_tell_it(
    env: dict[str, str], store: Stores, tmp_path: Path
) -> None:
    assert (await wardlink(env, "reference", "show"))[1].startswith("no reference data imported yet (version 0)")
    files = write(tmp_path, locations=LOCATIONS, staff=STAFF, devices=DEVICES)

    code, out, err = await wardlink(env, "reference", "import", *files, "--by", "u123", "--comment", "first lists")
    assert (code, err) == (0, "")
    assert out == "reference data version 1 imported by u123: 2 locations, 1 staff, 0 medications, 1 devices\n"
    await wardlink(
        env, "reference", "import", write(tmp_path, staff="badge,name,role\nbms-0113,L. Brandt,scientist\n")[0]
    )

    code, out, _ = await wardlink(env, "reference", "show")
    assert code == 0
    assert out.startswith("version 2 in force, imported ")
    assert f"UTC by cli from {tmp_path / 'staff.csv'}\n  2 locations, 1 staff, 0 medications, 1 devices\n" in out
    code, out, _ = await wardlink(env, "reference", "versions")
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == ["2", "1"]
    assert lines[1].endswith("2 locations, 1 staff, 0 medications, 1 devices  (first lists)")
    assert (await store.reference.current()).staff_name("bms-0113") == "L. Brandt"


async def test_problems_exit_non_zero_naming_file_row_field_and_reason_and_store_nothing(
    env: dict[str, str], store: Stores, tmp_path: Path
) -> None:
    files = write(
        tmp_path, staff="badge,name,role\nrn 1,K. Okafor,nurse\n", devices="id,name,location\nsorter-1,S,nowhere\n"
    )

    code, out, err = await wardlink(env, "reference", "import", *files, str(tmp_path / "missing.csv"))
    assert (code, out) == (1, "")
    assert err == f"{tmp_path / 'missing.csv'}: (file): No such file or directory\n"

    code, out, err = await wardlink(env, "reference", "import", *files)
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        f"{files[0]}: row 2: badge: badge 'rn 1' contains ' ': use letters, digits and . _ : - only, starting with a "
        "letter or digit",
        f"{files[1]}: row 2: location: no location nowhere in this import or in force: add it first",
        f"2 problem(s) in {files[1]}, {files[0]}; nothing was imported",
    ]
    assert await store.reference.versions() == []


async def test_export_writes_csv_files_and_a_fhir_bundle_that_import_back(
    env: dict[str, str], store: Stores, tmp_path: Path
) -> None:
    await wardlink(env, "reference", "import", *write(tmp_path, locations=LOCATIONS, staff=STAFF, devices=DEVICES))

    code, out, err = await wardlink(env, "reference", "export", "--format", "csv", "--out", str(tmp_path / "csv"))
    assert code == 0
    assert out.split() == [str(tmp_path / "csv" / f"{k}.csv") for k in ("locations", "staff", "medications", "devices")]
    assert err == "version 1: 2 locations, 1 staff, 0 medications, 1 devices\n"
    assert (tmp_path / "csv" / "staff.csv").read_text() == STAFF
    bundle_path = tmp_path / "fhir" / "reference.json"
    code, _, _ = await wardlink(
        env, "reference", "export", "--format", "fhir", "--out", str(bundle_path), "--version", "1"
    )
    assert code == 0
    Bundle.model_validate(json.loads(bundle_path.read_text()))

    code, out, _ = await wardlink(env, "reference", "import", str(bundle_path), "--comment", "round trip")
    assert (code, out) == (
        0,
        "reference data version 2 imported by cli: 2 locations, 1 staff, 0 medications, 1 devices\n",
    )
    first, second = await store.reference.at(1), await store.reference.at(2)
    assert first is not None
    assert second is not None
    assert (first.locations, first.staff, first.devices) == (second.locations, second.staff, second.devices)
    assert (await wardlink(env, "reference", "export", "--out", str(tmp_path / "x"), "--version", "7"))[0] == 1
