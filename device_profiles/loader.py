"""Read profile and site YAML files, collecting every problem with its file, field and reason."""

from pathlib import Path
from typing import Any, Protocol, TypeVar

import yaml
from pydantic import TypeAdapter, ValidationError

from device_profiles.errors import ProfileError, ProfileProblem
from device_profiles.kinds import DeviceProfile, profile_adapter
from device_profiles.profile import COLLECT_PROBLEMS
from device_profiles.site import Site


class _Checked(Protocol):
    """A model whose cross-reference problems are collected after validation (profiles, sites)."""

    def problems(self) -> list[tuple[str, str]]: ...


C = TypeVar("C", bound=_Checked)
PACKAGE_DIR = Path(__file__).resolve().parent
PROFILES_DIR = PACKAGE_DIR / "models"
SITES_DIR = PACKAGE_DIR / "sites"
SCHEMA_ID = "https://wardlink.dev/schemas/device-profile.schema.json"


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (plain PyYAML keeps the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice in this mapping", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def display_path(path: Path) -> str:
    """The path as a user would type it: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _read_yaml(path: Path, problems: list[ProfileProblem]) -> Any:
    file = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(ProfileProblem(file, "(file)", f"cannot read: {exc}"))
        return None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(yaml)"
        problems.append(ProfileProblem(file, where, f"YAML syntax: {exc.problem or exc.context}"))
        return None
    except yaml.YAMLError as exc:
        problems.append(ProfileProblem(file, "(yaml)", f"YAML syntax: {exc}"))
        return None
    if not isinstance(data, dict):
        problems.append(ProfileProblem(file, "(top)", f"expected a mapping of fields, got {type(data).__name__}"))
        return None
    return data


def _field(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif "." in part or not part.replace("_", "").isalnum():
            out += f"[{part}]"  # a mapping key such as an event type, not an attribute
        else:
            out += f".{part}" if out else part
    return out or "(top)"


_FRIENDLY = {
    "extra_forbidden": "unknown field (extra fields are forbidden); check the spelling against the schema",
    "missing": "required field is missing",
}


_site_adapter = TypeAdapter(Site)


def _validate(adapter: TypeAdapter[C], data: Any, file: str, problems: list[ProfileProblem]) -> C | None:
    try:
        value = adapter.validate_python(data, context={COLLECT_PROBLEMS: True})
    except ValidationError as exc:
        for error in exc.errors():
            reason = _FRIENDLY.get(error["type"]) or error["msg"].removeprefix("Value error, ")
            tagged = adapter is profile_adapter and error["type"] != "union_tag_invalid"
            loc = error["loc"][1:] if tagged else error["loc"]  # without the union's protocol tag
            problems.append(ProfileProblem(file, _field(loc), reason))
        return None
    problems.extend(ProfileProblem(file, field, reason) for field, reason in value.problems())
    return value


def _load_profile(path: Path, problems: list[ProfileProblem]) -> DeviceProfile | None:
    data = _read_yaml(path, problems)
    if data is None:
        return None
    before = len(problems)
    profile = _validate(profile_adapter, data, display_path(path), problems)
    if profile is not None and profile.name != path.stem:
        problems.append(
            ProfileProblem(display_path(path), "name", f"{profile.name!r} does not match the file name {path.name!r}")
        )
    return profile if len(problems) == before else None


def _collect_profiles(paths: list[Path], problems: list[ProfileProblem]) -> dict[str, DeviceProfile]:
    profiles: dict[str, DeviceProfile] = {}
    for path in paths:
        profile = _load_profile(path, problems)
        if profile is not None:
            profiles[profile.name] = profile
    return profiles


def load_profiles(directory: Path = PROFILES_DIR) -> dict[str, DeviceProfile]:
    """Every `*.yaml` profile in `directory`, by name; raises `ProfileError` listing every problem."""
    problems: list[ProfileProblem] = []
    if not directory.is_dir():
        raise ProfileError([ProfileProblem(display_path(directory), "(folder)", "no such profiles folder")])
    profiles = _collect_profiles(sorted(directory.glob("*.yaml")), problems)
    if problems:
        raise ProfileError(problems)
    return profiles


def _check_site(path: Path, profiles: dict[str, DeviceProfile], problems: list[ProfileProblem]) -> Site | None:
    data = _read_yaml(path, problems)
    if data is None:
        return None
    file = display_path(path)
    before = len(problems)
    site = _validate(_site_adapter, data, file, problems)
    if site is not None:
        for i, device in enumerate(site.devices):
            profile = profiles.get(device.profile)
            if profile is None:
                known = ", ".join(sorted(profiles)) or "none"
                problems.append(
                    ProfileProblem(
                        file, f"devices[{i}].profile", f"unknown profile {device.profile!r} (known: {known})"
                    )
                )
            elif getattr(device, profile.endpoint) is None:
                problems.append(
                    ProfileProblem(
                        file,
                        f"devices[{i}].{profile.endpoint}",
                        f"profile {profile.name!r} speaks {profile.protocol}: give the device a '{profile.endpoint}' "
                        "endpoint",
                    )
                )
            elif device.vda_version is not None and profile.protocol != "vda5050":
                reason = f"profile {profile.name!r} speaks {profile.protocol}, not VDA 5050: remove vda_version"
                problems.append(ProfileProblem(file, f"devices[{i}].vda_version", reason))
    return site if len(problems) == before else None


def load_site(path: Path, profiles_dir: Path = PROFILES_DIR) -> tuple[Site, dict[str, DeviceProfile]]:
    """A site file and the profiles; raises `ProfileError` if either has problems or a device names no profile."""
    profiles = load_profiles(profiles_dir)
    problems: list[ProfileProblem] = []
    site = _check_site(path, profiles, problems)
    if site is None:
        raise ProfileError(problems)
    return site, profiles


def is_site_file(path: Path, data: Any = None) -> bool:
    """Sites have `devices`; profiles have `resources`. Folder name decides when the content cannot."""
    if isinstance(data, dict):
        if "devices" in data or "site" in data:
            return True
        if "resources" in data or "mailbox" in data:
            return False
    return path.parent.name == "sites"


def validate_files(paths: list[Path]) -> list[ProfileProblem]:
    """Every problem in the given profile and site files (empty when all are valid)."""
    problems: list[ProfileProblem] = []
    sites: list[Path] = []
    profile_paths: list[Path] = []
    for path in paths:
        scratch: list[ProfileProblem] = []
        data = _read_yaml(path, scratch)
        (sites if is_site_file(path, data) else profile_paths).append(path)
    given = _collect_profiles(profile_paths, problems)
    for path in sites:
        # A site refers to the profiles beside it (`../models`), else to the packaged ones; profiles given in the
        # same call win. Problems of profiles not asked about are not reported here.
        models_dir = path.resolve().parent.parent / "models"
        if not models_dir.is_dir():
            models_dir = PROFILES_DIR
        asked = {p.resolve() for p in profile_paths}
        known = _collect_profiles([p for p in sorted(models_dir.glob("*.yaml")) if p.resolve() not in asked], [])
        _check_site(path, {**known, **given}, problems)
    return problems


def profile_json_schema() -> dict[str, Any]:
    """JSON Schema of a device profile file, for editors and `docs/schemas/device-profile.schema.json`."""
    schema = profile_adapter.json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}
