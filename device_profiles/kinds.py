"""Every kind of device model, by `protocol`: the union the loader validates a profile file against.

A new protocol is a new profile class (subclass of `ProfileBase`) added to the union below; a new vendor
model of a known protocol is only a new YAML file.
"""

from typing import Annotated, Any, get_args

from pydantic import Discriminator, Tag, TypeAdapter

from device_profiles.mqtt_json import MqttJsonProfile
from device_profiles.profile import COLLECT_PROBLEMS, ModbusProfile, ProfileBase
from device_profiles.vda5050 import Vda5050Profile


def _tag(cls: type[ProfileBase]) -> Tag:
    """The union tag of a profile class: its `protocol` literal."""
    return Tag(cls.model_fields["protocol"].default)


def _protocol(value: Any) -> Any:
    """The tag of a profile file or model; whatever the file says, so that a wrong one is reported as it is."""
    # Profiles written before there was a choice name no protocol: they are Modbus TCP.
    return value.get("protocol", "modbus-tcp") if isinstance(value, dict) else value.protocol


_TAGGED = (
    Annotated[ModbusProfile, _tag(ModbusProfile)]
    | Annotated[Vda5050Profile, _tag(Vda5050Profile)]
    | Annotated[MqttJsonProfile, _tag(MqttJsonProfile)]
)
DeviceProfile = Annotated[_TAGGED, Discriminator(_protocol)]
"""A device model of any protocol, chosen by its `protocol` field."""

PROFILE_CLASSES: tuple[type[ProfileBase], ...] = tuple(get_args(tagged)[0] for tagged in get_args(_TAGGED))

profile_adapter: TypeAdapter[DeviceProfile] = TypeAdapter(DeviceProfile)


def validate_profile(data: Any, *, collect: bool = False) -> DeviceProfile:
    """A profile of any protocol; with `collect`, cross-reference checks are left to `problems()`."""
    return profile_adapter.validate_python(data, context={COLLECT_PROBLEMS: collect})
