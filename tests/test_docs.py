"""The documents that are generated from code stay in step with it (`make docs` regenerates them)."""

from contract.schema import render as render_schema
from device_profiles import load_profiles, profile_json_schema
from device_profiles.reference import render
from tests.paths import ROOT


def test_docs_devices_shows_the_register_and_topic_map_of_every_profile() -> None:
    document = (ROOT / "docs" / "devices.md").read_text()
    assert render(load_profiles()).rstrip("\n") in document, "docs/devices.md is stale: run `make docs`"


def test_the_published_device_profile_schema_matches_the_models() -> None:
    published = (ROOT / "docs" / "schemas" / "device-profile.schema.json").read_text()
    assert published == render_schema(profile_json_schema()), "device-profile.schema.json is stale: run `make docs`"
