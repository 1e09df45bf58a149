"""Live video through a TURN relay, end to end: coturn on loopback (the configuration of
docs/deployment.md with loopback addresses), the app told to relay
(``FER_ICE_TRANSPORT_POLICY=relay``), and Chromium's fake camera. The browser may then offer no
path but the relay, so predictions on the page mean the video crossed coturn; coturn's own log
must show the relayed packets. Once with a fixed credential, once with the short-lived ones the
app makes from ``FER_TURN_SECRET``.

Needs Debian's ``coturn`` (``turnserver``), ``chromium`` and ``FER_DATA_DIR``.
"""

from tests.app.browser_support import (  # isort: skip  (imports webrtc first)
    fake_camera,
    PAGE_TITLES,
    browser,
    log_in,
    require_browser,
    running_app,
    start_camera,
)

import re

import pytest

from tests.app.page_support import build_tiny_model
from tests.app.turn_support import TURN_USER, coturn_on_loopback, relayed_packets

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("short_lived", [False, True], ids=["fixed", "short-lived"])
def test_live_video_crosses_a_turn_relay(tmp_path, short_lived):
    from playwright.sync_api import expect

    require_browser()
    camera = fake_camera(tmp_path)
    model_dir = build_tiny_model(tmp_path / "models" / "tiny")
    with coturn_on_loopback(tmp_path, auth_secret=short_lived) as coturn:
        credentials = {"FER_TURN_SECRET": coturn.secret} if short_lived else {
            "FER_TURN_USERNAME": TURN_USER, "FER_TURN_CREDENTIAL": coturn.secret,
        }
        relay = {
            "FER_TURN_URL": coturn.url, **credentials, "FER_ICE_TRANSPORT_POLICY": "relay",
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
        log = coturn.log()
    assert "ALLOCATE processed, success" in log, log[-3000:]
    assert relayed_packets(log) > 0, log[-3000:]
