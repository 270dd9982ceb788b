"""A site's node graph for robots (VDA 5050 nodes and edges, metres), and the shortest route across it.

Maps are data like profiles: one YAML file per building in this folder, validated with pydantic
(`extra="forbid"`). An edge joins two nodes in both directions unless `one_way`; an edge between two floors
(the elevator) changes the VDA 5050 `mapId` and must give its `length` (the ride's equivalent distance).
"""

import heapq
import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from contract.ids import Identifier
from device_profiles.errors import ProfileError, ProfileProblem

MAPS_DIR = Path(__file__).resolve().parent

NodeKind = Literal["pharmacy", "charger", "corridor", "elevator", "ward", "dock"]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MapNode(_Strict):
    id: Identifier
    map: Identifier = Field(description="VDA 5050 mapId: one per floor.")
    x: float
    y: float
    kind: NodeKind = "corridor"
    description: str = ""


class MapEdge(_Strict):
    id: Identifier
    start: Identifier
    end: Identifier
    length: float | None = Field(default=None, gt=0, description="Metres; straight-line distance when omitted.")
    max_speed: float | None = Field(default=None, gt=0, description="m/s; e.g. slower past a ward's door.")
    one_way: bool = False


class NoRouteError(ValueError):
    """No path joins the two nodes (or one of them is not on the map)."""


@dataclass(frozen=True, slots=True)
class Step:
    """One edge of a route, in the direction of travel."""

    edge: MapEdge
    start: MapNode
    end: MapNode
    length: float


@dataclass(frozen=True, slots=True)
class Route:
    nodes: list[MapNode]
    steps: list[Step]

    @property
    def length(self) -> float:
        return sum(step.length for step in self.steps)


class NodeGraph(_Strict):
    """The robots' map of one building: nodes with x/y in metres per floor (`map`), and the edges joining them."""

    name: Identifier
    description: str = ""
    nodes: list[MapNode] = Field(min_length=2)
    edges: list[MapEdge] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> "NodeGraph":
        if problems := self.problems():
            raise ValueError("; ".join(f"{field}: {reason}" for field, reason in problems))
        return self

    def problems(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        nodes: dict[str, MapNode] = {}
        for i, node in enumerate(self.nodes):
            if node.id in nodes:
                out.append((f"nodes[{i}].id", f"{node.id!r} is already the id of another node"))
            nodes.setdefault(node.id, node)
        seen: set[str] = set()
        for i, edge in enumerate(self.edges):
            if edge.id in seen:
                out.append((f"edges[{i}].id", f"{edge.id!r} is already the id of another edge"))
            seen.add(edge.id)
            ends = [nodes.get(edge.start), nodes.get(edge.end)]
            for field, name, end in (("start", edge.start, ends[0]), ("end", edge.end, ends[1])):
                if end is None:
                    out.append((f"edges[{i}].{field}", f"no node named {name!r}"))
            if edge.start == edge.end:
                out.append((f"edges[{i}]", "an edge must join two different nodes"))
            if ends[0] and ends[1] and ends[0].map != ends[1].map and edge.length is None:
                out.append((f"edges[{i}].length", "an edge between two maps (floors) must give its length"))
        return out

    @cached_property
    def by_id(self) -> dict[str, MapNode]:
        return {node.id: node for node in self.nodes}

    @cached_property
    def edge_by_id(self) -> dict[str, MapEdge]:
        return {edge.id: edge for edge in self.edges}

    def node(self, node_id: str) -> MapNode:
        try:
            return self.by_id[node_id]
        except KeyError:
            raise NoRouteError(f"no node {node_id!r} on map {self.name!r}") from None

    def nodes_of_kind(self, kind: NodeKind) -> list[MapNode]:
        return [node for node in self.nodes if node.kind == kind]

    def length_of(self, edge: MapEdge) -> float:
        if edge.length is not None:
            return edge.length
        a, b = self.by_id[edge.start], self.by_id[edge.end]
        return math.hypot(b.x - a.x, b.y - a.y)

    def step(self, edge_id: str, start: str, end: str) -> Step | None:
        """The edge `edge_id` travelled from `start` to `end`, or None when the map has no such way."""
        edge = self.edge_by_id.get(edge_id)
        if edge is None:
            return None
        if (edge.start, edge.end) == (start, end) or (not edge.one_way and (edge.end, edge.start) == (start, end)):
            return Step(edge, self.by_id[start], self.by_id[end], self.length_of(edge))
        return None

    @cached_property
    def _adjacency(self) -> dict[str, list[Step]]:
        out: dict[str, list[Step]] = {node.id: [] for node in self.nodes}
        for edge in self.edges:
            a, b, length = self.by_id[edge.start], self.by_id[edge.end], self.length_of(edge)
            out[a.id].append(Step(edge, a, b, length))
            if not edge.one_way:
                out[b.id].append(Step(edge, b, a, length))
        return out

    def shortest_path(self, start: str, goal: str, *, avoid: frozenset[str] = frozenset()) -> Route:
        """Dijkstra by edge length; ties go to the lexically smaller node id, so the same map gives the same route."""
        self.node(start)
        self.node(goal)
        best: dict[str, float] = {start: 0.0}
        came_by: dict[str, Step] = {}
        queue: list[tuple[float, str]] = [(0.0, start)]
        done: set[str] = set()
        while queue:
            distance, here = heapq.heappop(queue)
            if here in done:
                continue
            done.add(here)
            if here == goal:
                break
            for step in self._adjacency[here]:
                if step.edge.id in avoid:
                    continue
                there, candidate = step.end.id, distance + step.length
                if candidate < best.get(there, math.inf):
                    best[there] = candidate
                    came_by[there] = step
                    heapq.heappush(queue, (candidate, there))
        if goal not in done:
            raise NoRouteError(f"no route from {start!r} to {goal!r} on map {self.name!r}")
        steps: list[Step] = []
        here = goal
        while here != start:
            step = came_by[here]
            steps.append(step)
            here = step.start.id
        steps.reverse()
        return Route(nodes=[self.by_id[start], *(step.end for step in steps)], steps=steps)


def load_map(name: str, directory: Path = MAPS_DIR) -> NodeGraph:
    """The map `{directory}/{name}.yaml`; raises `ProfileError` naming file, field and reason."""
    path = directory / f"{name}.yaml"
    file = str(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        known = ", ".join(sorted(p.stem for p in directory.glob("*.yaml"))) or "none"
        raise ProfileError(
            [ProfileProblem(file, "(file)", f"cannot read map {name!r}: {exc} (known: {known})")]
        ) from exc
    except yaml.YAMLError as exc:
        raise ProfileError([ProfileProblem(file, "(yaml)", f"YAML syntax: {exc}")]) from exc
    try:
        graph = NodeGraph.model_validate(data)
    except ValidationError as exc:
        problems = [
            ProfileProblem(file, ".".join(str(p) for p in e["loc"]) or "(top)", e["msg"].removeprefix("Value error, "))
            for e in exc.errors()
        ]
        raise ProfileError(problems) from exc
    if graph.name != name:
        raise ProfileError([ProfileProblem(file, "name", f"{graph.name!r} does not match the file name")])
    return graph


def map_names(directory: Path = MAPS_DIR) -> list[str]:
    return sorted(path.stem for path in directory.glob("*.yaml"))
