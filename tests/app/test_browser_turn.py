"""Live video through a TURN relay, end to end: coturn on loopback (the configuration of
docs/deployment.md with loopback addresses), the app told to relay
(``FER_ICE_TRANSPORT_POLICY=relay``), and Chromium's fake camera. The browser may then offer no
path but the relay, so predictions on the page mean the video crossed coturn; coturn's own log
must show the relayed packets. With a wrong TURN password no frame arrives.

Needs Debian's ``coturn`` (``turnserver``), ``chromium`` and ``FER_DATA_DIR``.
"""

from tests.app.browser_support import (  # isort: skip  (imports webrtc first)
    PAGE_TITLES,
    browser,
    free_port,
    log_in,
    require_browser,
    running_app,
    start_camera,
    stop_process,
    video_data_dir,
    write_y4m,
)

import re
import secrets
import shutil
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.app.page_support import SHARED_VIDEO, build_tiny_model

pytestmark = pytest.mark.browser
TURNSERVER = "turnserver"
TURN_USER = "fer-clinic"
REALM = "turn.fer.test"


@contextmanager
def coturn_on_loopback(tmp_path: Path):
    """coturn listening on 127.0.0.1 with one long-term user; yields (url, password, log path)."""
    if shutil.which(TURNSERVER) is None:
        pytest.skip("coturn is missing (apt-get install coturn)")
    password = secrets.token_urlsafe(16)
    port = free_port()
    relay_low = 49_400 + port % 1_000
    log_path = tmp_path / "turnserver.log"
    command = [
        TURNSERVER, "-n",
        "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1", f"--listening-port={port}",
        f"--min-port={relay_low}", f"--max-port={relay_low + 40}",
        "--fingerprint", "--lt-cred-mech", f"--user={TURN_USER}:{password}", f"--realm={REALM}",
        "--no-tls", "--no-dtls", "--no-cli", "--no-multicast-peers",
        # Only for this test: the app is a loopback peer, which a clinic's coturn must refuse.
        "--allow-loopback-peers",
        f"--db={tmp_path / 'turndb'}", f"--pidfile={tmp_path / 'turnserver.pid'}",
        f"--log-file={log_path}", "--simple-log", "--verbose",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while "Total General servers" not in _read(log_path):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"coturn did not start:\n{_read(log_path)[-2000:]}")
            time.sleep(0.2)
        yield f"turn:127.0.0.1:{port}", password, log_path
    finally:
        stop_process(process)


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def relayed_packets(log: str) -> int:
    """Packets coturn relayed from the browser's allocations, from its per-session usage lines."""
    return sum(int(n) for n in re.findall(r"\brp=(\d+)", log))


def test_live_video_crosses_a_turn_relay(tmp_path):
    from playwright.sync_api import expect

    require_browser()
    clip = write_y4m(video_data_dir() / SHARED_VIDEO, tmp_path / "clip.y4m")
    camera = (
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={clip}",
    )
    model_dir = build_tiny_model(tmp_path / "models" / "tiny")
    with coturn_on_loopback(tmp_path) as (turn_url, password, log_path):
        relay = {
            "FER_TURN_URL": turn_url, "FER_TURN_USERNAME": TURN_USER,
            "FER_TURN_CREDENTIAL": password, "FER_ICE_TRANSPORT_POLICY": "relay",
        }
        with running_app(tmp_path, model_dir, extra_env=relay) as app, browser(
            tmp_path, camera
        ) as page:
            log_in(page, app, "anna", "Live", heading=PAGE_TITLES["Live"])
            page.get_by_label("Name of the person consenting").fill("Relay Client")
            page.get_by_text("The person named above has read the statement").click()
            page.get_by_role("button", name="I consent").click()
            webrtc = page.frame_locator("iframe[title*='webrtc']")
            record = page.get_by_role("button", name=re.compile("Start recording"))
            start_camera(webrtc, "Start", record.is_enabled, timeout_s=120)
            analysed = page.get_by_text(re.compile(r"Frames analysed [1-9]\d*"))
            expect(analysed.first).to_be_visible(timeout=60_000)
        log = _read(log_path)
    assert "ALLOCATE processed, success" in log, log[-3000:]
    assert relayed_packets(log) > 0, log[-3000:]
