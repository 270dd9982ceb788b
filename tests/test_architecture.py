"""The architecture stays visible: edge and gateway share only the wire contract."""

import ast
from pathlib import Path

import grimp
import pytest
from importlinter.cli import EXIT_STATUS_SUCCESS, lint_imports

from tests.paths import ROOT

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


OUR_PACKAGES = ("contract", "device_profiles", "edge", "gateway", "simulators", "wardlink", "benchmarks")
LONGEST_MODULE = 400
"""Lines at most in a module that is not a test (docs/architecture.md: small modules named for one thing)."""


def _import_graph() -> grimp.ImportGraph:
    return grimp.build_graph(*(p for p in OUR_PACKAGES if (ROOT / p).is_dir()), cache_dir=None)


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected groups of modules (Tarjan); every import counts, in functions and under TYPE_CHECKING too."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_the_tree_has_no_import_cycle() -> None:
    assert _cycles(_import_graph()) == []


def test_the_cycle_finder_finds_a_cycle_hidden_in_a_function(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "knot"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from knot import b\n")
    (package / "b.py").write_text("def late():\n    from knot import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert _cycles(grimp.build_graph("knot", cache_dir=None)) == [["knot.a", "knot.b"]]


def test_the_import_contracts_hold(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(ROOT)  # where .importlinter is
    code = lint_imports(no_cache=True, no_logo=True)
    assert code == EXIT_STATUS_SUCCESS, capsys.readouterr().out[-3000:]


def test_no_module_but_a_test_is_longer_than_the_limit() -> None:
    long = {
        str(path.relative_to(ROOT)): n
        for package in OUR_PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if (n := len(path.read_text().splitlines())) > LONGEST_MODULE
    }
    assert long == {}


def test_the_gateway_root_holds_only_the_service_and_its_settings() -> None:
    assert sorted(p.name for p in (ROOT / "gateway").glob("*.py")) == ["__init__.py", "service.py", "settings.py"]


def test_no_route_opens_a_database_connection_or_takes_every_store() -> None:
    offences = {
        str(path.relative_to(ROOT)): sorted(
            word for word in ("engine.connect(", "engine.begin(", "StoresDep", "import sqlalchemy") if word in text
        )
        for path in (ROOT / "gateway" / "api" / "routes").glob("*.py")
        if (text := path.read_text())
    }
    assert {route: words for route, words in offences.items() if words} == {}
