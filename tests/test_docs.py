"""The documents that are generated from code stay in step with it (`make docs` regenerates them)."""

from pathlib import Path

from device_profiles import load_profiles
from device_profiles.reference import render

ROOT = Path(__file__).resolve().parent.parent


def test_docs_devices_shows_the_register_and_topic_map_of_every_profile() -> None:
    document = (ROOT / "docs" / "devices.md").read_text()
    assert render(load_profiles()).rstrip("\n") in document, "docs/devices.md is stale: run `make docs`"
