"""A delivery's route on the robots' node graph: the stops from where it departed to its destination, which are
done, the leg the robot is on, and an ETA from how fast it has covered the route so far.

The route is the shortest path by distance (an edge's own length where the map gives one, else the straight line
between its nodes; one-way edges only forward); the robot's place on it is the route
node nearest its last reported position (or the last node a delivery event named). Nothing here guesses a speed:
the ETA is the departure plus the time so far, scaled by the share of the route still to go.
"""

import heapq
import itertools
import math
from dataclasses import dataclass
from datetime import datetime

from gateway.tracking.devices.site_map import SiteMap, SiteNode


@dataclass(frozen=True, slots=True)
class RouteProgress:
    stops: tuple[str, ...]
    """The route's nodes, from the departure to the destination."""
    done: int
    """How many stops are reached (the robot is at or past stops[done - 1])."""
    share_done: float
    """The share of the route's length covered, 0 to 1."""
    eta: datetime | None
    """When it should arrive at this pace; None before departure, once arrived, once failed or when nothing is
    covered yet."""

    @property
    def leg(self) -> tuple[str, str] | None:
        """The leg it is on now (from, to); None before departure or once there."""
        if 0 < self.done < len(self.stops):
            return self.stops[self.done - 1], self.stops[self.done]
        return None


def _length(a: SiteNode, b: SiteNode) -> float:
    return math.hypot(a.x - b.x, a.y - b.y)


def _links(graph: SiteMap) -> dict[str, list[tuple[str, float]]]:
    """Each node's neighbours and the length of the edge to each."""
    nodes = {node.id: node for node in graph.nodes}
    links: dict[str, list[tuple[str, float]]] = {node: [] for node in nodes}
    for edge in graph.edges:
        length = edge.length if edge.length is not None else _length(nodes[edge.start], nodes[edge.end])
        links[edge.start].append((edge.end, length))
        if not edge.one_way:
            links[edge.end].append((edge.start, length))
    return links


def shortest_path(graph: SiteMap, start: str, end: str) -> list[str]:
    """The node ids of the shortest path from start to end by distance; [] when there is none."""
    links = _links(graph)
    if start not in links or end not in links:
        return []
    best, before = {start: 0.0}, dict[str, str]()
    queue = [(0.0, start)]
    while queue:
        far, node = heapq.heappop(queue)
        if node == end:
            break
        if far > best[node]:
            continue
        for nxt, step in links[node]:
            length = far + step
            if length < best.get(nxt, math.inf):
                best[nxt], before[nxt] = length, node
                heapq.heappush(queue, (length, nxt))
    if end not in best:
        return []
    path = [end]
    while path[-1] != start:
        path.append(before[path[-1]])
    return path[::-1]


def route_progress(
    graph: SiteMap,
    start: str,
    destination: str,
    *,
    at: str | None,
    departed_at: datetime | None,
    arrived: bool,
    now: datetime,
    failed: bool = False,
) -> RouteProgress | None:
    """The route and the robot's progress on it (`at`: the node it is at or nearest); None without a route.

    A failed delivery keeps the stops it reached but has no ETA: it is not coming."""
    stops = shortest_path(graph, start, destination)
    if not stops:
        return None
    links = _links(graph)
    lengths = [min(length for nxt, length in links[a] if nxt == b) for a, b in itertools.pairwise(stops)]
    total = sum(lengths) or 1.0
    if arrived:
        return RouteProgress(tuple(stops), len(stops), 1.0, None)
    if departed_at is None:
        return RouteProgress(tuple(stops), 0, 0.0, None)
    reached = stops.index(at) if at in stops else 0
    share = sum(lengths[:reached]) / total
    eta = departed_at + (now - departed_at) / share if 0 < share < 1 and not failed else None
    return RouteProgress(tuple(stops), reached + 1, share, eta)
