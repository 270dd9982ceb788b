"""Every kind of device model, by `protocol`: the union the loader validates a profile file against.

A new protocol is a new profile class (subclass of `ProfileBase`) added to `PROFILE_CLASSES`; a new vendor
model of a known protocol is only a new YAML file.
"""

from typing import Annotated, Any, Union

from pydantic import Discriminator, Tag, TypeAdapter

from device_profiles.mqtt_json import MqttJsonProfile
from device_profiles.profile import COLLECT_PROBLEMS, ModbusProfile, ProfileBase
from device_profiles.vda5050 import Vda5050Profile

PROFILE_CLASSES: tuple[type[ProfileBase], ...] = (ModbusProfile, Vda5050Profile, MqttJsonProfile)

if len(PROFILE_CLASSES) > 1:
    # Profiles written before there was a choice name no protocol: they are Modbus TCP.
    DeviceProfile = Annotated[  # type: ignore[misc]
        Union[tuple(Annotated[c, Tag(c.model_fields["protocol"].default)] for c in PROFILE_CLASSES)],  # type: ignore[valid-type]  # noqa: UP007
        Discriminator(lambda v: v.get("protocol", "modbus-tcp") if isinstance(v, dict) else v.protocol),
    ]
else:
    DeviceProfile = PROFILE_CLASSES[0]  # type: ignore[misc]

profile_adapter: TypeAdapter[Any] = TypeAdapter(DeviceProfile)


def validate_profile(data: Any, *, collect: bool = False) -> ProfileBase:
    """A profile of any protocol; with `collect`, cross-reference checks are left to `problems()`."""
    return profile_adapter.validate_python(data, context={COLLECT_PROBLEMS: collect})  # type: ignore[no-any-return]
