"""A site's robot node graph (the YAML format of device_profiles/maps), read by the gateway to draw robots on.

The gateway shares no code with the device profiles, only the file format: nodes with a floor (`map`), x/y in
metres and a kind, and the edges joining them. `WARDLINK_MAPS_DIR` says where the files are.
"""

from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError


class MapFileError(ValueError):
    """A map file that cannot be read or does not validate; the message names the file, field and reason."""


class SiteNode(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str
    map: str
    x: float
    y: float
    kind: str = "corridor"
    description: str = ""


class SiteEdge(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str
    start: str
    end: str
    one_way: bool = False
    length: float | None = None
    """In metres, where the straight line between its nodes is not the way (an elevator between floors)."""


class SiteMap(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    name: str
    description: str = ""
    nodes: list[SiteNode]
    edges: list[SiteEdge]

    @property
    def floors(self) -> list[str]:
        """The floors (VDA 5050 mapIds) in the order their first node is listed."""
        return list(dict.fromkeys(node.map for node in self.nodes))

    def node(self, node_id: str | None) -> SiteNode | None:
        return next((node for node in self.nodes if node.id == node_id), None)

    def nearest(self, x: float, y: float, floor: str | None = None) -> SiteNode:
        """The node closest to (x, y), on `floor` when given (floors share coordinates); ties by id."""
        candidates = [n for n in self.nodes if floor is None or n.map == floor] or self.nodes
        return min(candidates, key=lambda n: ((n.x - x) ** 2 + (n.y - y) ** 2, n.id))


@lru_cache(maxsize=16)
def _load(path: Path, mtime_ns: int) -> SiteMap:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise MapFileError(f"{path}: cannot read the map: {exc}") from exc
    try:
        graph = SiteMap.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "(top)"
        raise MapFileError(f"{path}: {field}: {first['msg']}") from exc
    known = {node.id for node in graph.nodes}
    for i, edge in enumerate(graph.edges):
        for end in (edge.start, edge.end):
            if end not in known:
                raise MapFileError(f"{path}: edges.{i}: no node named {end!r}")
    return graph


def site_map(maps_dir: Path | None, site: str) -> SiteMap | None:
    """The map `{maps_dir}/{site}.yaml`; None when no folder is configured or it has no map for the site."""
    if maps_dir is None:
        return None
    path = (maps_dir / f"{site}.yaml").resolve()
    if path.parent != maps_dir.resolve() or not path.is_file():
        return None
    return _load(path, path.stat().st_mtime_ns)
