"""End to end in a real browser: headless Chromium with a fake camera playing the shared video,
the app under ``streamlit run``, consent, Start, recording, and the results in the session store.

Needs Debian's ``chromium`` (``apt-get install chromium``), the Python ``playwright`` package
(never ``playwright install``: we drive the system browser) and ``FER_DATA_DIR``.
Run: ``FER_DATA_DIR=… python -m pytest -m browser tests/app/test_browser.py``.

While the camera plays, the test saves a picture of the Live page to ``test-artifacts/live.png``.
The app then serves a tiny untrained model, so the labels are meaningless; for the README's
picture (``docs/images/live.png``) run it with a shipped model:
``FER_BROWSER_TEST_MODEL=ferplus FER_DATA_DIR=… python -m pytest -m browser
tests/app/test_browser.py``.
"""

from tests.app.page_support import SHARED_VIDEO, build_tiny_model  # isort: skip  (imports webrtc first)

import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
LIVE_SCREENSHOT = ARTIFACTS / "live.png"
# A model name or directory for the app instead of the tiny untrained one (for the docs picture).
MODEL_OVERRIDE_ENV = "FER_BROWSER_TEST_MODEL"
Y4M_HEADER = b"YUV4MPEG2 W640 H480 F15:1 Ip A1:1 C420jpeg\n"
CLIP_SECONDS = 6
# Enough rows to see times increase; modest because a busy 2-core machine may analyse ~1 fps.
MIN_RECORDED = 8

pytestmark = pytest.mark.browser


def _requirements() -> Path:
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("the Python package playwright is not installed (pip install playwright)")
    data_dir = os.environ.get("FER_DATA_DIR")
    if not data_dir:
        pytest.skip("FER_DATA_DIR is unset: the fake camera plays the shared video from it")
    if not (Path(data_dir) / SHARED_VIDEO).is_file():
        pytest.skip(f"FER_DATA_DIR lacks {SHARED_VIDEO}")
    return Path(data_dir)


def write_y4m(video: Path, target: Path, seconds: float = CLIP_SECONDS) -> Path:
    """The video as a 640×480 15 fps YUV4MPEG2 clip (letterboxed, not stretched), which
    Chromium's fake capture device plays in a loop."""
    import cv2

    capture = cv2.VideoCapture(str(video))
    source_fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
    with target.open("wb") as out:
        out.write(Y4M_HEADER)
        n_written, index = 0, 0
        while n_written < seconds * 15:
            ok, frame = capture.read()
            if not ok:
                break
            if index * 15 // source_fps >= n_written:  # resample to 15 fps
                scale = 640 / frame.shape[1]
                resized = cv2.resize(frame, (640, round(frame.shape[0] * scale)))
                canvas = np.zeros((480, 640, 3), np.uint8)
                top = (480 - resized.shape[0]) // 2
                canvas[top : top + resized.shape[0]] = resized[: 480 - top]
                out.write(b"FRAME\n" + cv2.cvtColor(canvas, cv2.COLOR_BGR2YUV_I420).tobytes())
                n_written += 1
            index += 1
    capture.release()
    assert n_written >= 30, f"only {n_written} frames converted from {video}"
    return target


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_server(url: str, process: subprocess.Popen, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"streamlit did not answer on {url} within {timeout_s} s")


def query(db: Path, sql: str) -> list[tuple]:
    if not db.exists():
        return []
    with sqlite3.connect(db) as connection:
        try:
            return connection.execute(sql).fetchall()
        except sqlite3.OperationalError:  # tables not created yet
            return []


def count(db: Path, table: str) -> int:
    result = query(db, f"SELECT count(*) FROM {table}")
    return result[0][0] if result else 0


@pytest.fixture
def app_server(tmp_path):
    data_dir = _requirements()
    model_dir = os.environ.get(MODEL_OVERRIDE_ENV)
    if not model_dir:
        model_dir = build_tiny_model(tmp_path / "models" / "tiny")
    db = tmp_path / "sessions.db"
    port = free_port()
    env = {
        **os.environ,
        "FER_DATA_DIR": str(data_dir),
        "FER_SESSION_DB": str(db),
        "FER_MODEL": str(model_dir),
        "PYTHONPATH": str(ROOT),
    }
    for name in ("FER_ICE_SERVERS", "FER_TURN_URL"):
        env.pop(name, None)
    log = (tmp_path / "streamlit.log").open("w")
    process = subprocess.Popen(
        [
            "nice", "-n", "19", sys.executable, "-m", "streamlit", "run", "app.py",
            "--server.port", str(port), "--server.address", "127.0.0.1",
            "--server.headless", "true", "--browser.gatherUsageStats", "false",
            "--server.fileWatcherType", "none",
            # No developer menu or "Deploy" button in the Live page's picture.
            "--client.toolbarMode", "minimal",
        ],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_server(url, process)
        yield url, db, data_dir
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        if process.returncode not in (0, -15):
            print((tmp_path / "streamlit.log").read_text()[-4000:])


def save_live_screenshot(page) -> None:
    """The Live page as a user sees it while predictions arrive: camera, bars and timeline."""
    from playwright.sync_api import expect

    expect(page.locator(".js-plotly-plot").nth(1)).to_be_visible(timeout=30_000)
    page.wait_for_timeout(3_000)  # a few seconds of timeline, and the latest redraw finished
    page.evaluate("window.scrollTo(0, 0)")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(LIVE_SCREENSHOT))


def test_live_page_records_predictions_from_a_fake_camera(app_server, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    url, db, data_dir = app_server
    clip = write_y4m(data_dir / SHARED_VIDEO, tmp_path / "clip.y4m")
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={clip}",
    ]
    started = time.monotonic()
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=str(CHROMIUM), headless=True, args=flags,
            viewport={"width": 1400, "height": 1040},
        )
        page = context.new_page()
        try:
            page.goto(f"{url}/Live")
            name_box = page.get_by_label("Name of the person consenting")
            expect(name_box).to_be_visible(timeout=60_000)
            assert page.locator("iframe[title*='webrtc']").count() == 0
            assert count(db, "consents") == 0 and count(db, "sessions") == 0

            name_box.fill("E2E Client")
            page.get_by_text("The person named above has read the statement").click()
            page.get_by_role("button", name="I consent").click()

            webrtc = page.frame_locator("iframe[title*='webrtc']")
            start = webrtc.get_by_role("button", name="Start")
            expect(start).to_be_visible(timeout=120_000)
            assert count(db, "consents") == 1 and count(db, "sessions") == 0
            start.click()

            record = page.get_by_role("button", name=re.compile("Start recording"))
            expect(record).to_be_enabled(timeout=45_000)
            expect(page.get_by_text(re.compile(r"face #\d")).first).to_be_visible(timeout=45_000)
            save_live_screenshot(page)
            record.click()
            expect(page.get_by_text(re.compile(r"Recording.*session #1")).first).to_be_visible(
                timeout=30_000
            )

            # The recorder writes at least once a second while the camera plays.
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and count(db, "frames") < MIN_RECORDED:
                time.sleep(0.5)
            caption = page.get_by_text(re.compile(r"Frames analysed \d+")).inner_text()
            analysed, with_faces = map(int, re.findall(r"(?:analysed|faces) (\d+)", caption))
            assert analysed > 0 and with_faces > 0, caption

            frames = query(db, "SELECT t_seconds, label, confidence FROM frames ORDER BY id")
            assert len(frames) >= MIN_RECORDED, f"only {len(frames)} frames stored"
            times = [row[0] for row in frames]
            assert times == sorted(times) and times[-1] > times[0]
            assert all(0 <= row[2] <= 1 for row in frames)
            ((consent_by, source, ended),) = query(
                db, "SELECT consent_by, source, ended_at FROM sessions"
            )
            assert (consent_by, source, ended) == ("E2E Client", "live", None)

            page.get_by_role("button", name=re.compile("Stop recording")).click()
            expect(page.get_by_text(re.compile(r"Session #1 saved"))).to_be_visible(
                timeout=30_000
            )
            ((ended,),) = query(db, "SELECT ended_at FROM sessions")
            assert ended is not None
        except BaseException:
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "e2e_live_failure.png"), full_page=True)
            raise
        finally:
            context.close()
    print(f"browser part took {time.monotonic() - started:.0f} s")
