"""Device profiles are data: one YAML file per device model (`models/`), one per site (`sites/`).

This package holds their schema (pydantic, `extra="forbid"`), the loaders that report every problem with its
file, field and reason, the register codec and the mailbox record codec the edge and the simulators share.
"""

from device_profiles.codec import decode, encode
from device_profiles.errors import CodecError, ProfileError, ProfileProblem, RecordError
from device_profiles.kinds import PROFILE_CLASSES, DeviceProfile, validate_profile
from device_profiles.loader import (
    PROFILES_DIR,
    SITES_DIR,
    load_profiles,
    load_site,
    profile_json_schema,
    validate_files,
)
from device_profiles.mailbox import MailboxRecord, decode_ack, decode_record, encode_ack, encode_record, noread_id
from device_profiles.modbus_endpoint import ModbusEndpoint, SerialLine
from device_profiles.mqtt_json import MqttJsonProfile
from device_profiles.profile import Block, EventMapping, Mailbox, ModbusProfile, OccurredAt, ProfileBase, Unreadable
from device_profiles.resource import Resource
from device_profiles.site import DeviceInstance, MqttEndpoint, Site
from device_profiles.vda5050 import Vda5050Profile

__all__ = [
    "PROFILES_DIR",
    "PROFILE_CLASSES",
    "SITES_DIR",
    "Block",
    "CodecError",
    "DeviceInstance",
    "DeviceProfile",
    "EventMapping",
    "Mailbox",
    "MailboxRecord",
    "ModbusEndpoint",
    "ModbusProfile",
    "MqttEndpoint",
    "MqttJsonProfile",
    "OccurredAt",
    "ProfileBase",
    "ProfileError",
    "ProfileProblem",
    "RecordError",
    "Resource",
    "SerialLine",
    "Site",
    "Unreadable",
    "Vda5050Profile",
    "decode",
    "decode_ack",
    "decode_record",
    "encode",
    "encode_ack",
    "encode_record",
    "load_profiles",
    "load_site",
    "noread_id",
    "profile_json_schema",
    "validate_files",
    "validate_profile",
]
