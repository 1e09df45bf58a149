"""The OpenAPI document fuzzed by schemathesis against a live ``fer serve`` on loopback.

The server runs as a subprocess on a free 127.0.0.1 port over a temporary database holding
accounts, their tokens and recorded sessions; schemathesis sends a bounded number of generated
requests per operation with an admin's bearer token (and, for its auth check, without one). Every
response must be non-5xx and match the document: status codes, content types, headers, bodies.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.api.helpers import SERVICE_TOKEN, build_world

pytestmark = pytest.mark.slow

HOST = "127.0.0.1"
EXAMPLES_PER_OPERATION = 25
SERVER_START_TIMEOUT_S = 90
FUZZ_TIMEOUT_S = 480
# A file that is valid by the document's schema (any bytes) is rarely an image; the API rightly
# answers 400, which schemathesis's positive-data check would count against it.
EXCLUDED_CHECKS = "positive_data_acceptance"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def wait_until_healthy(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"fer serve exited with {server.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/v1/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"fer serve did not answer within {SERVER_START_TIMEOUT_S} s:\n{log.read_text()}")


@pytest.fixture
def live_server(tmp_path, cheap_password_hashes):
    world = build_world(tmp_path / "data" / "sessions.db")
    port = free_port()
    log = tmp_path / "server.log"
    env = {**os.environ, "FER_API_TOKEN": SERVICE_TOKEN}
    command = [sys.executable, "-m", "fer", "serve", "--host", HOST, "--port", str(port),
               "--database", str(world.database), "--log-level", "warning"]
    with log.open("w") as output:
        server = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env)
    url = f"http://{HOST}:{port}"
    try:
        wait_until_healthy(url, server, log)
        yield url, world, log
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=15)


def test_schemathesis_finds_no_server_error_and_no_schema_mismatch(live_server, tmp_path):
    url, world, log = live_server
    assert url.startswith(f"http://{HOST}:")
    command = [
        sys.executable, "-m", "schemathesis.cli", "run", f"{url}/openapi.json",
        "--header", f"Authorization: Bearer {world.tokens['boss']}",
        "--checks", "all", "--exclude-checks", EXCLUDED_CHECKS,
        "--max-examples", str(EXAMPLES_PER_OPERATION), "--seed", "1",
        "--request-timeout", "60", "--report-dir", str(tmp_path / "schemathesis"),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=FUZZ_TIMEOUT_S,
                            env={**os.environ, "NO_COLOR": "1"})
    report = result.stdout + result.stderr
    assert result.returncode == 0, f"{report}\n--- server log ---\n{log.read_text()}"
    assert "7 selected / 7 total" in report
    assert " passed" in report and "failed" not in report.split("SUMMARY")[-1]
