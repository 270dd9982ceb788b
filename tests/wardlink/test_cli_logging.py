"""What the command line logs: a person reads it, so routine noise from libraries stays out."""

import subprocess
import sys


def test_pending_publish_warnings_stay_quiet_even_when_aiomqtt_is_imported_after_logging_is_set_up() -> None:
    probe = (
        "import logging\n"
        "from wardlink.cli import _logging\n"
        "_logging(False)\n"
        "import aiomqtt, gateway.ingest.subscriber\n"  # a library that sets its own level on import must not win
        "print(logging.getLogger('mqtt').getEffectiveLevel())\n"
    )
    level = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout  # noqa: S603
    assert int(level) == 40  # logging.ERROR
