"""The app's short-lived TURN credentials against a real coturn (``use-auth-secret``): the one
made now allocates a relay and carries packets; one whose expiry has passed, or one made with
another secret, is refused. Needs Debian's ``coturn``."""

import shutil
import subprocess
import time

import pytest

from tests.app.browser_support import free_port, stop_process
from tests.app.turn_support import coturn_on_loopback
from ui.ice_servers import rtc_configuration

UCLIENT, PEER = "turnutils_uclient", "turnutils_peer"


def allocate(coturn, server: dict, peer_port: int) -> str:
    """Run coturn's test client with ``server``'s credential: five packets through a relay to
    the loopback peer. Its output."""
    command = [
        UCLIENT, "-u", server["username"], "-w", server["credential"],
        "-e", "127.0.0.1", "-r", str(peer_port), "-n", "5", "-m", "1", "-c", "-y",
        "-p", str(coturn.port), "127.0.0.1",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    return result.stdout + result.stderr


@pytest.fixture
def turn_peer():
    if shutil.which(UCLIENT) is None or shutil.which(PEER) is None:
        pytest.skip("coturn's test tools are missing (apt-get install coturn)")
    port = free_port()
    process = subprocess.Popen(
        [PEER, "-L", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )
    time.sleep(0.5)
    yield port
    stop_process(process)


def credential(coturn, now: float, secret: str | None = None) -> dict:
    environ = {"FER_TURN_URL": coturn.url, "FER_TURN_SECRET": secret or coturn.secret}
    (server,) = rtc_configuration(environ, now=now)["iceServers"]
    return server


def test_a_fresh_credential_relays_and_stale_or_forged_ones_are_refused(tmp_path, turn_peer):
    with coturn_on_loopback(tmp_path, auth_secret=True) as coturn:
        fresh = allocate(coturn, credential(coturn, time.time()), turn_peer)
        # Made five hours ago with the default four-hour lifetime: expired an hour ago.
        expired = allocate(coturn, credential(coturn, time.time() - 5 * 3600), turn_peer)
        forged = allocate(coturn, credential(coturn, time.time(), secret="guessed"), turn_peer)
    assert "Total lost packets 0" in fresh, fresh[-2000:]
    for refused in (expired, forged):
        assert "Cannot complete Allocation" in refused, refused[-2000:]
        assert "Total lost packets" not in refused, refused[-2000:]
