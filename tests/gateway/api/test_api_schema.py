"""Schemathesis against the running gateway's OpenAPI, over real HTTP, as an admin (every route reachable).

Whatever it sends, the gateway answers without a 5xx and with a body its schema describes. The run is bounded
(a few examples per operation); the live stream is left out because it never ends by design.
"""

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.service import Gateway
from tests.auth import bearer
from tests.infra import embedded_infra

EXAMPLES_PER_OPERATION = 20
CHECKS = "not_a_server_error,response_schema_conformance,content_type_conformance"


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[Gateway]:
    async with embedded_infra(tmp_path) as infra, Gateway(infra.gateway_settings(tmp_path)) as gateway:
        yield gateway


async def test_no_input_makes_the_api_fail_or_answer_off_schema(running: Gateway, tmp_path: Path) -> None:
    token = (await bearer(running, "admin"))["Authorization"]
    command = [
        str(Path(sys.executable).with_name("st")),
        "run",
        f"{running.api_url}/openapi.json",
        "--checks",
        CHECKS,
        "--max-examples",
        str(EXAMPLES_PER_OPERATION),
        "--include-path-regex",
        "^/api/v1/",
        "--exclude-path",
        "/api/v1/stream",
        "--exclude-path",
        "/api/v1/auth/logout",
        "--header",
        f"Authorization:{token}",
        # Not the "coverage" phase: on Python 3.11 it intermittently dies inside schemathesis's own schema code
        # ("SystemError: AST constructor recursion depth mismatch"), before any request, which made this test flaky.
        "--phases",
        "examples,fuzzing",
        "--generation-with-security-parameters",
        "false",
        "--request-timeout",
        "10",
        "--workers",
        "2",
        "--seed",
        "7",
        "--generation-database",
        "none",
        "--no-color",
        "--report-dir",
        str(tmp_path / "schemathesis"),
    ]
    process = await asyncio.create_subprocess_exec(
        *command,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=tmp_path,  # whatever schemathesis keeps stays out of the working tree
    )
    output, _ = await process.communicate()
    text = output.decode(errors="replace")
    assert process.returncode == 0, text[-6000:]
