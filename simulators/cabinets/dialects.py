"""The cabinet models the simulator can play, by profile name."""

from device_profiles import MqttJsonProfile
from simulators.cabinets.dialect import Dialect
from simulators.cabinets.messages import Mv40Dialect
from simulators.cabinets.pp7 import Pp7Dialect

DIALECTS: dict[str, Dialect] = {d.profile: d for d in (Mv40Dialect(), Pp7Dialect())}


def dialect_for(profile: MqttJsonProfile) -> Dialect:
    """The dialect of the profile's model; ValueError when the simulator cannot play it or the topics are missing."""
    dialect = DIALECTS.get(profile.name)
    if dialect is None:
        raise ValueError(f"no cabinet simulator speaks profile {profile.name} (known: {', '.join(sorted(DIALECTS))})")
    if missing := [name for name in dialect.topics if name not in profile.topics]:
        raise ValueError(f"profile {profile.name} lacks the topics {', '.join(missing)} its cabinets use")
    return dialect
