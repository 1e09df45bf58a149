"""coturn on loopback for the TURN tests: the configuration of docs/deployment.md with loopback
addresses, either with one long-term user (a fixed credential) or with ``use-auth-secret`` (the
short-lived credentials the app makes from ``FER_TURN_SECRET``)."""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.app.browser_support import free_port, stop_process

TURNSERVER = "turnserver"
TURN_USER = "fer-clinic"
REALM = "turn.fer.test"


@dataclass(frozen=True)
class Coturn:
    url: str
    port: int
    secret: str  # the user's password, or the static-auth-secret
    log_path: Path

    def log(self) -> str:
        return read_text(self.log_path)


def read_text(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


@contextmanager
def coturn_on_loopback(tmp_path: Path, *, auth_secret: bool = False) -> Iterator[Coturn]:
    """coturn listening on 127.0.0.1: with ``auth_secret`` it takes coturn's time-limited
    credentials made with ``Coturn.secret``, otherwise the user ``TURN_USER`` with that
    password."""
    if shutil.which(TURNSERVER) is None:
        pytest.skip("coturn is missing (apt-get install coturn)")
    secret = secrets.token_urlsafe(16)
    port = free_port()
    relay_low = 49_400 + port % 1_000
    log_path = tmp_path / "turnserver.log"
    credentials = (
        ["--use-auth-secret", f"--static-auth-secret={secret}"] if auth_secret
        else ["--lt-cred-mech", f"--user={TURN_USER}:{secret}"]
    )
    command = [
        TURNSERVER, "-n",
        "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1", f"--listening-port={port}",
        f"--min-port={relay_low}", f"--max-port={relay_low + 40}",
        "--fingerprint", *credentials, f"--realm={REALM}",
        "--no-tls", "--no-dtls", "--no-cli", "--no-multicast-peers",
        # Only for these tests: the app is a loopback peer, which a clinic's coturn must refuse.
        "--allow-loopback-peers",
        f"--db={tmp_path / 'turndb'}", f"--pidfile={tmp_path / 'turnserver.pid'}",
        f"--log-file={log_path}", "--simple-log", "--verbose",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while "Total General servers" not in read_text(log_path):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"coturn did not start:\n{read_text(log_path)[-2000:]}")
            time.sleep(0.2)
        yield Coturn(f"turn:127.0.0.1:{port}", port, secret, log_path)
    finally:
        stop_process(process)


def relayed_packets(log: str) -> int:
    """Packets coturn relayed from the allocations, from its per-session usage lines."""
    return sum(int(n) for n in re.findall(r"\brp=(\d+)", log))
