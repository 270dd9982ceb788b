"""Every kind of device model, by `protocol`: the union the loader validates a profile file against.

A new protocol is a new profile class (subclass of `ProfileBase`) added to `PROFILE_CLASSES`; a new vendor
model of a known protocol is only a new YAML file.
"""

from typing import Annotated, Any, Union

from pydantic import Field, TypeAdapter

from device_profiles.profile import COLLECT_PROBLEMS, ModbusProfile, ProfileBase

PROFILE_CLASSES: tuple[type[ProfileBase], ...] = (ModbusProfile,)

if len(PROFILE_CLASSES) > 1:
    DeviceProfile = Annotated[Union[PROFILE_CLASSES], Field(discriminator="protocol")]  # type: ignore[valid-type]  # noqa: UP007
else:
    DeviceProfile = PROFILE_CLASSES[0]  # type: ignore[misc]

profile_adapter: TypeAdapter[Any] = TypeAdapter(DeviceProfile)


def validate_profile(data: Any, *, collect: bool = False) -> ProfileBase:
    """A profile of any protocol; with `collect`, cross-reference checks are left to `problems()`."""
    return profile_adapter.validate_python(data, context={COLLECT_PROBLEMS: collect})  # type: ignore[no-any-return]
