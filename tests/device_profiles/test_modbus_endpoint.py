"""Where a Modbus device is reached, as a site file says it: TCP, RTU over TCP or a serial line, and shared links.

Each broken endpoint is reported with the file, the field and the reason, like every other site problem.
"""

from pathlib import Path
from typing import Any

import pytest
import yaml

from device_profiles import PROFILES_DIR, ModbusEndpoint, SerialLine, load_site, validate_files

PROFILE = "acme-sorter-s100"


def _site(tmp_path: Path, *endpoints: dict[str, Any]) -> Path:
    """A site file with one sorter per endpoint, next to a copy of the sorter's profile."""
    models = tmp_path / "models"
    models.mkdir(exist_ok=True)
    (models / f"{PROFILE}.yaml").write_text((PROFILES_DIR / f"{PROFILE}.yaml").read_text())
    devices = [
        {"id": f"sorter-{i}", "profile": PROFILE, "location": "core-lab", "modbus": endpoint}
        for i, endpoint in enumerate(endpoints)
    ]
    path = tmp_path / "sites" / "ward.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump({"site": "general-hospital", "edge": "lab-edge", "devices": devices}))
    return path


LINE = {"port": "/dev/ttyUSB0", "baudrate": 19200, "parity": "even", "stopbits": 1, "bytesize": 8}
GATEWAY = {"host": "10.20.0.5", "port": 502}


def test_a_serial_line_and_a_gateway_read_naturally(tmp_path: Path) -> None:
    path = _site(
        tmp_path,
        {"serial": LINE, "unit": 1},
        {"serial": {"port": "/dev/ttyUSB0"}, "unit": 2},  # the spec's defaults: 19200 8E1
        {**GATEWAY, "unit": 1, "max_in_flight": 4},
        {**GATEWAY, "unit": 2, "max_in_flight": 4},  # devices on one link agree on how it is spoken
        {"host": "10.20.0.6", "port": 4001, "framing": "rtu-over-tcp", "unit": 7},
    )
    site, _ = load_site(path, tmp_path / "models")
    endpoints = [d.modbus for d in site.devices]
    assert all(endpoint is not None for endpoint in endpoints)
    assert [e.link for e in endpoints if e] == [
        "serial:/dev/ttyUSB0",
        "serial:/dev/ttyUSB0",
        "tcp://10.20.0.5:502",
        "tcp://10.20.0.5:502",
        "tcp://10.20.0.6:4001",
    ]
    assert [e.source for e in endpoints if e][::2] == [
        "modbus+serial:/dev/ttyUSB0/1",
        "modbus://10.20.0.5:502/1",
        "modbus+rtu://10.20.0.6:4001/7",
    ]
    first = endpoints[0]
    assert first is not None
    assert first.serial == SerialLine(port="/dev/ttyUSB0")
    assert first.serial.settings == "19200 8E1"


def _gateway(**fields: Any) -> dict[str, Any]:
    return {**GATEWAY, **fields}


def _serial(unit: int = 1, **line: Any) -> dict[str, Any]:
    return {"serial": {**LINE, **line}, "unit": unit}


@pytest.mark.parametrize(
    ("endpoints", "field", "reason"),
    [
        pytest.param([{**GATEWAY, **_serial()}], "devices[0].modbus", "give either 'host'", id="host and serial"),
        pytest.param([{"unit": 1}], "devices[0].modbus", "or 'serial' (an RTU line", id="neither"),
        pytest.param(
            [{**_serial(), "framing": "rtu-over-tcp"}],
            "devices[0].modbus",
            "a serial line always speaks RTU",
            id="framing",
        ),
        pytest.param([{**_serial(), "port": 502}], "devices[0].modbus", "serial.port", id="tcp port on a serial line"),
        pytest.param([_gateway(framing="rtu")], "devices[0].modbus.framing", "'tcp' or 'rtu-over-tcp'", id="framing"),
        pytest.param(
            [_serial(parity="mark")], "devices[0].modbus.serial.parity", "'none', 'even' or 'odd'", id="parity"
        ),
        pytest.param([_serial(bytesize=7)], "devices[0].modbus.serial.bytesize", "Input should be 8", id="7 bits"),
        pytest.param([_serial(stopbits=3)], "devices[0].modbus.serial.stopbits", "1 or 2", id="stop bits"),
        pytest.param(
            [_serial(baudrate=0)], "devices[0].modbus.serial.baudrate", "greater than or equal to 300", id="baud"
        ),
        pytest.param([_serial(unit=0)], "devices[0].modbus", "units 1-247 (0 is broadcast)", id="broadcast unit"),
        pytest.param(
            [_gateway(framing="rtu-over-tcp", max_in_flight=2)],
            "devices[0].modbus",
            "max_in_flight: RTU frames carry no transaction id",
            id="rtu in flight",
        ),
        pytest.param([_gateway(max_in_flight=0)], "devices[0].modbus.max_in_flight", "greater than", id="no slot"),
        pytest.param(
            [_serial(unit=3), _serial(unit=3)],
            "devices[1].modbus.unit",
            "same serial port and unit as devices[0]",
            id="one unit twice on a line",
        ),
        pytest.param(
            [_gateway(unit=3), _gateway(unit=3)],
            "devices[1].modbus.unit",
            "same host, port and unit as devices[0]",
            id="one unit twice behind a gateway",
        ),
        pytest.param(
            [_gateway(unit=1), _gateway(unit=2, framing="rtu-over-tcp")],
            "devices[1].modbus",
            "shares tcp://10.20.0.5:502 with devices[0], which speaks it with tcp framing, max_in_flight 1, "
            "not rtu-over-tcp framing",
            id="framings disagree",
        ),
        pytest.param(
            [_gateway(unit=1), _gateway(unit=2, max_in_flight=2)],
            "devices[1].modbus",
            "max_in_flight 1, not tcp framing, max_in_flight 2",
            id="limits disagree",
        ),
        pytest.param(
            [_serial(unit=1), _serial(unit=2, baudrate=9600)],
            "devices[1].modbus",
            "which speaks it with RTU at 19200 8E1, not RTU at 9600 8E1",
            id="line settings disagree",
        ),
    ],
)
def test_a_broken_endpoint_names_file_field_and_reason(
    tmp_path: Path, endpoints: list[dict[str, Any]], field: str, reason: str
) -> None:
    problems = validate_files([_site(tmp_path, *endpoints)])
    assert any(p.file.endswith("sites/ward.yaml") and p.field == field and reason in p.reason for p in problems), [
        str(p) for p in problems
    ]


def test_an_endpoint_built_in_code_is_checked_too() -> None:
    with pytest.raises(ValueError, match="only 1 request can be on the line"):
        ModbusEndpoint(serial=SerialLine(port="/dev/ttyS0"), max_in_flight=2)
