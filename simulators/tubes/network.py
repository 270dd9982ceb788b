"""The layout of a pneumatic tube system: stations in zones along a trunk, travel times, and where to reroute.

A carrier from one station to another passes into every zone after its own up to the destination's; each
zone takes `zone_s` seconds of device time, sending and receiving `station_s` each: trips of 20 s to 3.5 min.
"""

from dataclasses import dataclass, field

from device_profiles import ModbusProfile

ZONE_BLOCKED = "zone_blocked"
"""The fault code of a blocked zone; its fault rule's component is the zone id."""


@dataclass(frozen=True)
class TubeNetwork:
    """Zones in trunk order, each station's zone, and each station's alternates in order of preference."""

    zones: tuple[str, ...]
    stations: dict[str, str]
    alternates: dict[str, tuple[str, ...]] = field(default_factory=dict)
    zone_s: float = 35.0
    station_s: float = 10.0

    def __post_init__(self) -> None:
        for station, zone in self.stations.items():
            if zone not in self.zones:
                raise ValueError(f"station {station!r} is in unknown zone {zone!r} (zones: {', '.join(self.zones)})")
        for station, alternates in self.alternates.items():
            unknown = [s for s in (station, *alternates) if s not in self.stations]
            if unknown:
                raise ValueError(f"alternates of {station!r} name unknown station(s) {', '.join(unknown)}")

    def zone_of(self, station: str) -> str:
        return self.stations[station]

    def path(self, from_zone: str, to_zone: str) -> list[str]:
        """Zones a carrier passes after leaving `from_zone` (excluded) up to and including `to_zone`."""
        i, j = self.zones.index(from_zone), self.zones.index(to_zone)
        step = 1 if j >= i else -1
        return [self.zones[k] for k in range(i + step, j + step, step)] if i != j else []

    def trip_s(self, from_station: str, to_station: str) -> float:
        """Device seconds of an undisturbed trip: out of the station, through the zones, into the station."""
        zones = len(self.path(self.zone_of(from_station), self.zone_of(to_station)))
        return 2 * self.station_s + zones * self.zone_s


HOSPITAL = TubeNetwork(
    zones=("zone-a", "zone-b", "zone-c", "zone-d", "zone-e", "zone-f"),
    stations={
        "lab": "zone-a",
        "blood-bank": "zone-a",
        "ed": "zone-b",
        "or": "zone-b",
        "icu": "zone-b",
        "pharmacy": "zone-c",
        "ward-3a": "zone-d",
        "ward-3b": "zone-d",
        "ward-4a": "zone-e",
        "ward-4b": "zone-e",
        "ward-5a": "zone-f",
        "oncology": "zone-f",
    },
    alternates={
        "lab": ("blood-bank", "ed"),
        "blood-bank": ("lab", "or"),
        "ed": ("icu", "lab"),
        "or": ("icu", "blood-bank"),
        "icu": ("or", "ed"),
        "pharmacy": ("icu", "ward-3a"),
        "ward-3a": ("ward-3b", "ward-4a"),
        "ward-3b": ("ward-3a", "ward-4b"),
        "ward-4a": ("ward-4b", "ward-3a"),
        "ward-4b": ("ward-4a", "ward-3b"),
        "ward-5a": ("oncology", "ward-4a"),
        "oncology": ("ward-5a", "ward-4b"),
    },
)
"""A 12-station hospital: core lab and blood bank, ED / OR / ICU, pharmacy, five wards and oncology."""


def network_for(profile: ModbusProfile) -> TubeNetwork:
    """The layout for a profile: `HOSPITAL` when its stations and zones are those, else an even spread.

    Stations are the components of the profile's status rules, zones the components of its `zone_blocked`
    fault rules, so a new vendor model (a new YAML file) gets a working simulator without code.
    """
    watch = profile.watch
    stations = [rule.component for rule in watch.status if rule.component] if watch else []
    zones = [f.component for f in watch.faults if f.code == ZONE_BLOCKED and f.component] if watch else []
    if not stations:
        raise ValueError(f"profile {profile.name!r} has no station status rules (watch.status with a component)")
    if set(stations) == set(HOSPITAL.stations) and tuple(zones) == HOSPITAL.zones:
        return HOSPITAL
    zones = zones or ["zone-1"]
    placed = {station: zones[i * len(zones) // len(stations)] for i, station in enumerate(stations)}
    ring: dict[str, tuple[str, ...]] = {
        s: (stations[(i + 1) % len(stations)],) for i, s in enumerate(stations) if len(stations) > 1
    }
    return TubeNetwork(tuple(zones), placed, ring)
