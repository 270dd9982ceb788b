"""Run the real `wardlink` command, as an operator would, against a test's own database."""

import asyncio
import os
import sys
from pathlib import Path

from gateway.settings import GatewaySettings

WARDLINK = Path(sys.executable).with_name("wardlink")


def cli_env(settings: GatewaySettings) -> dict[str, str]:
    """The environment that points `wardlink` at `settings`' database (and nothing else of the caller's)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARDLINK_")}
    env["WARDLINK_DATA_DIR"] = str(settings.data_dir)
    if settings.database_url is not None:
        env["WARDLINK_DATABASE_URL"] = settings.database_url
    if settings.database_schema is not None:
        env["WARDLINK_DATABASE_SCHEMA"] = settings.database_schema
    return env


async def wardlink(env: dict[str, str], *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of `wardlink *args` (given `stdin` as its standard input, if any)."""
    process = await asyncio.create_subprocess_exec(
        str(WARDLINK),
        *args,
        env=env,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate(stdin.encode() if stdin is not None else None)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()
