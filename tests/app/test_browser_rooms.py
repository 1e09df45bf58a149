"""A remote session between two browsers: the clinician's and the client's, with a fake camera
playing the shared video, against the app under ``streamlit run``.

The clinician creates a room; a wrong and an expired link get a clear page; the client opens the
link, sees only the explanation and consent (the clinician sees nothing of the client meanwhile),
consents and turns the camera on; the clinician's room view shows the client's labels and the
camera-to-label latency within seconds and records; the client withdraws, and the stream stops
on both sides while the recording is deleted.

Needs Debian's ``chromium``, the Python ``playwright`` package and ``FER_DATA_DIR``. Run:
``FER_DATA_DIR=… python -m pytest -m browser tests/app/test_browser_rooms.py``. Pictures of both
sides go to ``test-artifacts/room_clinician.png`` and ``room_client.png``.
"""

from tests.app.browser_support import (  # isort: skip  (imports webrtc first)
    fake_camera,
    served_model,
    ARTIFACTS,
    BROWSER_FLAGS,
    CHROMIUM,
    count,
    expander,
    log_in,
    query,
    require_browser,
    running_app,
    start_camera,
)

import re
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fer.accounts import AccountStore
from fer.rooms import RoomStore

pytestmark = pytest.mark.browser

FACE_LABEL = re.compile(r"· Face \d")
WAITING = "Waiting for the client's consent"
MIN_RECORDED = 3


@contextmanager
def two_browsers(tmp_path: Path, camera_flags: tuple[str, ...]):
    """Two separate Chromium profiles (two people on two machines): clinician, client."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        contexts = [
            playwright.chromium.launch_persistent_context(
                str(tmp_path / f"profile-{name}"), executable_path=str(CHROMIUM), headless=True,
                args=[*BROWSER_FLAGS, *flags], viewport={"width": 1300, "height": 1100},
            )
            for name, flags in (("clinician", ()), ("client", camera_flags))
        ]
        pages = [context.new_page() for context in contexts]
        for page in pages:  # the server loads the model meanwhile; a busy machine is slow
            page.set_default_navigation_timeout(120_000)
        try:
            yield pages
        except BaseException:
            ARTIFACTS.mkdir(exist_ok=True)
            for name, page in zip(("clinician", "client"), pages, strict=True):
                page.screenshot(path=str(ARTIFACTS / f"room_failure_{name}.png"), full_page=True)
            raise
        finally:
            for context in contexts:
                context.close()


def test_a_remote_session_between_a_clinician_and_a_client(tmp_path):
    from playwright.sync_api import expect

    require_browser()
    camera = fake_camera(tmp_path)  # skips without the shared video
    model_dir = served_model(tmp_path)
    started = time.monotonic()
    with running_app(tmp_path, model_dir) as app, two_browsers(tmp_path, camera) as (
        clinician, client,
    ):
        db = app.db
        log_in(clinician, app, "anna", "Session_room", heading="Session room")
        clinician.get_by_role("textbox", name="Client code").fill("C-17")
        clinician.get_by_role("button", name="Create room").click()
        link_box = clinician.locator("[data-testid='stCode']").first
        # The room's model loads while the clinician waits (slow on a busy machine).
        expect(link_box).to_contain_text("/join?room=", timeout=60_000)
        expect(clinician.get_by_text(WAITING)).to_be_visible(timeout=300_000)
        link = link_box.inner_text().strip()
        assert link.startswith(app.url)
        expect(clinician.get_by_text(WAITING)).to_be_visible()

        # A wrong link and an expired one get a clear page, never a room.
        client.goto(f"{app.url}/join?room=not-a-room.{'x' * 43}")
        expect(client.get_by_text("This link or code does not open a session")).to_be_visible(
            timeout=60_000
        )
        anna = AccountStore(db).get_user_by_name("anna")
        expired = RoomStore(db).create_room(
            anna, "C-99", now=datetime.now(UTC) - timedelta(hours=3)
        )
        client.goto(f"{app.url}/join?room={expired.token}")
        expect(client.get_by_text("This invitation has expired")).to_be_visible(timeout=60_000)
        assert client.locator("iframe[title*='webrtc']").count() == 0

        # The link: explanation and consent only; the clinician still sees nothing.
        client.goto(link)
        expect(client.get_by_text("What is analysed.")).to_be_visible(timeout=60_000)
        assert client.locator("iframe[title*='webrtc']").count() == 0
        assert count(db, "consents") == 0
        clinician.wait_for_timeout(1_000)
        expect(clinician.get_by_text(WAITING)).to_be_visible()
        assert clinician.get_by_text(FACE_LABEL).count() == 0
        assert clinician.get_by_text("Camera to label").count() == 0

        client.get_by_role("textbox", name="Your name").fill("Kim Client")
        client.get_by_text("I have read this and I agree").click()
        client.get_by_role("button", name="I agree").click()
        webrtc = client.frame_locator("iframe[title*='webrtc']")
        expect(webrtc.get_by_role("button", name="Turn on my camera")).to_be_visible(
            timeout=300_000
        )
        ((given_by, client_code),) = query(db, "SELECT given_by, client_code FROM consents")
        assert (given_by, client_code) == ("Kim Client", "C-17")

        # The clinician's view follows by itself: labels and latency within seconds.
        presses = start_camera(
            webrtc, "Turn on my camera", lambda: clinician.get_by_text(FACE_LABEL).count() > 0
        )
        print("camera presses:", presses)
        latency = clinician.get_by_test_id("stMetric").filter(has_text="median")
        expect(latency).to_contain_text(re.compile(r"\d+ ms"), timeout=30_000)
        expect(clinician.get_by_text(re.compile("Client's camera on"))).to_be_visible()
        clinician.get_by_role("button", name=re.compile("Start recording")).click()
        expect(clinician.get_by_text(re.compile(r"Recording.*session #1")).first).to_be_visible(
            timeout=30_000
        )
        # The recording grows while the client's video keeps arriving (slowly on a busy
        # machine: the app runs at the lowest priority).
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and count(db, "frames") < MIN_RECORDED:
            time.sleep(0.5)
        assert count(db, "frames") >= MIN_RECORDED
        clinician.get_by_role("button", name=re.compile("Mark moment")).click()
        expect(clinician.get_by_text(re.compile(r"Moment marked at"))).to_be_visible(
            timeout=30_000
        )
        ARTIFACTS.mkdir(exist_ok=True)
        clinician.screenshot(path=str(ARTIFACTS / "room_clinician.png"), full_page=True)
        client.screenshot(path=str(ARTIFACTS / "room_client.png"), full_page=True)
        print("latency shown:", latency.inner_text().replace("\n", " "))

        # The client withdraws: the stream stops on both sides and the recording is deleted.
        box = expander(client, "Withdraw my consent")
        box.get_by_role("button", name="Withdraw my consent").click()
        expect(client.get_by_text("You withdrew your consent")).to_be_visible(timeout=60_000)
        expect(client.locator("iframe[title*='webrtc']")).to_have_count(0)
        expect(clinician.get_by_text("The client withdrew their consent")).to_be_visible(
            timeout=30_000
        )
        expect(clinician.get_by_text(FACE_LABEL)).to_have_count(0, timeout=10_000)
        assert count(db, "sessions") == 0 and count(db, "frames") == 0
        assert count(db, "markers") == 0
        ((state,),) = query(db, "SELECT state FROM rooms WHERE client_code = 'C-17'")
        assert state == "withdrawn"
        ((withdrawn,),) = query(db, "SELECT withdrawn_at FROM consents")
        assert withdrawn is not None
    print(f"browser part took {time.monotonic() - started:.0f} s")
