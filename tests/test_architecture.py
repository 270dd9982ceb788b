"""The architecture stays visible: edge and gateway share only the wire contract."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# package -> packages of ours it must never import
FORBIDDEN = {
    "contract": {"edge", "gateway", "device_profiles", "simulators", "wardlink"},
    "edge": {"gateway", "simulators", "wardlink"},
    "gateway": {"edge", "device_profiles", "simulators", "wardlink"},
    "device_profiles": {"edge", "gateway", "simulators", "wardlink"},
    "simulators": {"edge", "gateway", "wardlink"},
}


def _imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_only_what_the_architecture_allows(package: str) -> None:
    offences = {
        str(path.relative_to(ROOT)): sorted(_imported_packages(path) & FORBIDDEN[package])
        for path in (ROOT / package).rglob("*.py")
    }
    assert {file: bad for file, bad in offences.items() if bad} == {}
