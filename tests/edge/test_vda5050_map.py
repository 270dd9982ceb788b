"""The hospital's node graph, the route planner on it, and the VDA 5050 robot profile."""

import itertools
from typing import Any

import pytest
from pydantic import ValidationError

from device_profiles import load_profiles, validate_profile
from device_profiles.maps import NodeGraph, NoRouteError, load_map
from device_profiles.vda5050 import Vda5050Profile, parse_timestamp, vda_timestamp


@pytest.fixture(scope="module")
def graph() -> NodeGraph:
    return load_map("general-hospital")


@pytest.mark.parametrize(
    ("start", "goal", "route", "metres"),
    [
        ("pharmacy", "pharmacy", ["pharmacy"], 0.0),
        ("charger-0", "pharmacy", ["charger-0", "pharmacy"], 8.0),
        ("pharmacy", "ed", ["pharmacy", "corridor-0a", "ed"], 50.4),
        (
            "charger-0",
            "ward-3a",
            ["charger-0", "pharmacy", "corridor-0a", "elevator-0", "elevator-3", "corridor-3", "ward-3a"],
            120.4,
        ),
        (
            "pharmacy",
            "ward-4b",
            ["pharmacy", "corridor-0a", "elevator-0", "elevator-4", "corridor-4", "ward-4b"],
            117.4,
        ),
        ("ward-4b", "icu", ["ward-4b", "corridor-4", "elevator-4", "elevator-3", "corridor-3", "icu"], 92.4),
    ],
)
def test_the_planner_takes_the_shortest_route_by_edge_length(
    graph: NodeGraph, start: str, goal: str, route: list[str], metres: float
) -> None:
    planned = graph.shortest_path(start, goal)
    assert [node.id for node in planned.nodes] == route
    assert planned.length == pytest.approx(metres, abs=0.1)
    assert [(s.start.id, s.end.id) for s in planned.steps] == list(itertools.pairwise(route))


def test_an_avoided_edge_gives_the_next_best_route(graph: NodeGraph) -> None:
    planned = graph.shortest_path("pharmacy", "ed", avoid=frozenset({"e-corridor-0a-ed"}))
    assert [node.id for node in planned.nodes] == ["pharmacy", "corridor-0b", "ed"]


@pytest.mark.parametrize(("start", "goal"), [("pharmacy", "roof"), ("nowhere", "icu")])
def test_an_unknown_node_has_no_route(graph: NodeGraph, start: str, goal: str) -> None:
    with pytest.raises(NoRouteError, match="no node"):
        graph.shortest_path(start, goal)


def test_a_node_cut_off_has_no_route(graph: NodeGraph) -> None:
    with pytest.raises(NoRouteError, match="no route"):
        graph.shortest_path("pharmacy", "icu", avoid=frozenset({"e-corridor-3-icu"}))


def test_the_map_has_a_pharmacy_a_charger_an_elevator_and_wards(graph: NodeGraph) -> None:
    kinds = {kind: {n.id for n in graph.nodes_of_kind(kind)} for kind in ("pharmacy", "charger", "elevator", "ward")}
    assert kinds["pharmacy"] == {"pharmacy"}
    assert kinds["charger"] == {"charger-0"}
    assert {"ward-3a", "ward-4b", "icu", "ed"} <= kinds["ward"]
    assert len({n.map for n in graph.nodes_of_kind("elevator")}) == 3  # one stop per floor


def _graph(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "tiny",
        "nodes": [{"id": "a", "map": "f0", "x": 0, "y": 0}, {"id": "b", "map": "f0", "x": 3, "y": 4}],
        "edges": [{"id": "ab", "start": "a", "end": "b"}],
    }
    body.update(changes)
    return body


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"edges": [{"id": "ab", "start": "a", "end": "c"}]}, "edges[0].end: no node named 'c'"),
        ({"edges": [{"id": "aa", "start": "a", "end": "a"}]}, "an edge must join two different nodes"),
        (
            {"nodes": [{"id": "a", "map": "f0", "x": 0, "y": 0}, {"id": "b", "map": "f1", "x": 0, "y": 0}]},
            "edges[0].length: an edge between two maps (floors) must give its length",
        ),
        ({"nodes": [{"id": "a", "map": "f0", "x": 0, "y": 0}] * 2}, "'a' is already the id of another node"),
        ({"edges": [{"id": "ab", "start": "a", "end": "b", "lenght": 3}]}, "Extra inputs are not permitted"),
    ],
)
def test_a_broken_map_says_what_is_wrong(changes: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        NodeGraph.model_validate(_graph(**changes))


def test_an_edge_without_length_is_as_long_as_the_straight_line() -> None:
    assert NodeGraph.model_validate(_graph()).shortest_path("a", "b").length == 5.0


def test_the_robot_profile_loads_with_the_other_profiles() -> None:
    profile = load_profiles()["medicart-mc2"]
    assert isinstance(profile, Vda5050Profile)
    assert profile.endpoint == "mqtt"
    assert profile.topic("MC2-0001", "state") == "uagv/v2/medicart/MC2-0001/state"
    assert profile.drawers == ["drawer-1", "drawer-2", "drawer-3", "drawer-4"]


def _profile(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "protocol": "vda5050",
        "name": "cart",
        "manufacturer": "medicart",
        "model": "X",
        "map": "general-hospital",
        "drawers": ["d1"],
        "battery": {"capacity_wh": 500, "drain_pct_per_m": 0.1, "charge_pct_per_min": 1},
        "max_speed": 1.0,
    }
    body.update(changes)
    return body


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"manufacturer": "Medi Cart"}, "manufacturer: .*contains ' '"),
        ({"map": "moon-base"}, "map: no map named 'moon-base'"),
        ({"drawers": ["d1", "d1"]}, r"drawers\[1\]: 'd1' is listed twice"),
        ({"major_version": "2"}, "String should match pattern"),
        ({"battery": {"capacity_wh": 500, "drain_pct_per_m": 0, "charge_pct_per_min": 1}}, "greater than 0"),
    ],
)
def test_a_broken_robot_profile_says_what_is_wrong(changes: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        validate_profile(_profile(**changes))


@pytest.mark.parametrize("text", ["2017-04-15T11:40:03.12Z", "2026-11-23T08:30:00.00Z", "2026-11-23T08:30:00+01:00"])
def test_vda_timestamps_round_trip(text: str) -> None:
    at = parse_timestamp(text)
    assert parse_timestamp(vda_timestamp(at)) == at.replace(microsecond=at.microsecond // 10_000 * 10_000)
    assert vda_timestamp(at).endswith("Z")
