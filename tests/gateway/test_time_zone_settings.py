"""The hospital's time zone and each site's own: read from WARDLINK_TIME_ZONE and WARDLINK_SITE_TIME_ZONES."""

import pytest
from pydantic import ValidationError

from gateway.settings import GatewaySettings


def test_times_are_utc_unless_the_hospital_names_its_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WARDLINK_TIME_ZONE", raising=False)
    monkeypatch.delenv("WARDLINK_SITE_TIME_ZONES", raising=False)
    settings = GatewaySettings()
    assert settings.time_zone == "UTC"
    assert settings.zone_of("general-hospital") == "UTC"


def test_each_site_may_have_its_own_zone_and_the_others_keep_the_hospitals(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WARDLINK_TIME_ZONE", "Asia/Shanghai")
    monkeypatch.setenv("WARDLINK_SITE_TIME_ZONES", " campus-west=Asia/Urumqi , clinic-hk=Asia/Hong_Kong,")
    settings = GatewaySettings()
    assert settings.site_time_zones == {"campus-west": "Asia/Urumqi", "clinic-hk": "Asia/Hong_Kong"}
    assert settings.zone_of("campus-west") == "Asia/Urumqi"
    assert settings.zone_of("general-hospital") == "Asia/Shanghai"
    assert settings.zone_of(None) == "Asia/Shanghai"


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("WARDLINK_TIME_ZONE", "Asia/Shangai", "'Asia/Shangai' is not an IANA time zone"),
        ("WARDLINK_TIME_ZONE", "+08:00", "'+08:00' is not an IANA time zone"),
        ("WARDLINK_SITE_TIME_ZONES", "campus-west", "'campus-west' is not site=Area/City"),
        ("WARDLINK_SITE_TIME_ZONES", "campus-west=", "'campus-west=' is not site=Area/City"),
        ("WARDLINK_SITE_TIME_ZONES", "campus-west=Mars/Olympus", "'Mars/Olympus' is not an IANA time zone"),
        ("WARDLINK_SITE_TIME_ZONES", "campus west=UTC", "a site in WARDLINK_SITE_TIME_ZONES 'campus west' contains"),
    ],
)
def test_a_zone_that_does_not_exist_stops_start_up_naming_it(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, says: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError, match=says.replace("+", r"\+")):
        GatewaySettings()
