"""Profile and site files with one thing broken: the loader answers with `file: field: reason`, never a traceback.

Each shipped profile and the demo site are loaded, one node replaced by something hostile (or the text itself
damaged), written to a temporary folder and loaded again. The loader either takes the file or raises
`ProfileError` whose every problem names the file, a field and a reason.
"""

import shutil
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from device_profiles import load_profiles
from device_profiles.errors import ProfileError
from device_profiles.loader import PROFILES_DIR, load_site
from tests.fuzz_inputs import json_values

SITES_DIR = PROFILES_DIR.parent / "sites"
PROFILE_FILES = sorted(p.name for p in PROFILES_DIR.glob("*.yaml"))
MANY = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _paths(node: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [here] if here else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*here, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _paths(value, (*here, i))
    return found


def _replace(node: Any, path: tuple[Any, ...], value: Any) -> None:
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value


@st.composite
def damaged(draw: st.DrawFn, original: str) -> str:
    """The file's text with one node replaced, one node removed, or a slice of the text itself garbled."""
    tree = yaml.safe_load(original)
    how = draw(st.sampled_from(["replace", "replace", "remove", "garble"]))
    if how == "garble":
        at = draw(st.integers(0, len(original)))
        return original[:at] + draw(st.text(max_size=20)) + original[at + draw(st.integers(0, 20)) :]
    path = draw(st.sampled_from(_paths(tree)))
    if how == "remove":
        parent = tree
        for part in path[:-1]:
            parent = parent[part]
        del parent[path[-1]]
    else:
        _replace(tree, path, draw(json_values | st.sampled_from([-1, 0, 10**30, "x" * 500, [], {}])))
    return yaml.safe_dump(tree, allow_unicode=True)


def _assert_named(error: ProfileError, file_name: str) -> None:
    assert error.problems
    for problem in error.problems:
        assert problem.file
        assert problem.field
        assert problem.reason
        assert "Traceback" not in problem.reason
    assert any(file_name in problem.file for problem in error.problems), str(error)


@MANY
@given(data=st.data())
def test_a_damaged_profile_is_taken_or_refused_with_file_field_and_reason(tmp_path_factory: Any, data: Any) -> None:
    folder: Path = tmp_path_factory.mktemp("profiles")
    for name in PROFILE_FILES:
        shutil.copy(PROFILES_DIR / name, folder / name)
    name = data.draw(st.sampled_from(PROFILE_FILES))
    (folder / name).write_text(data.draw(damaged((PROFILES_DIR / name).read_text())), encoding="utf-8")
    try:
        load_profiles(folder)
    except ProfileError as error:
        _assert_named(error, name)


@MANY
@given(data=st.data())
def test_a_damaged_site_is_taken_or_refused_with_file_field_and_reason(tmp_path_factory: Any, data: Any) -> None:
    folder: Path = tmp_path_factory.mktemp("site")
    site = folder / "demo.yaml"
    site.write_text(data.draw(damaged((SITES_DIR / "demo.yaml").read_text())), encoding="utf-8")
    try:
        load_site(site)
    except ProfileError as error:
        _assert_named(error, "demo.yaml")
