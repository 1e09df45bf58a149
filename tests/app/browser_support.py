"""What the real-browser tests share: the app under ``streamlit run`` in a fresh database, headless
Chromium (Debian's, driven by playwright), the fake camera's clip, and steps such as logging in.

Needs Debian's ``chromium`` and the Python ``playwright`` package (never ``playwright install``);
tests using it are marked ``browser``.
"""

from tests.app.page_support import (  # isort: skip  (imports webrtc first)
    PASSWORD,
    SHARED_VIDEO,
    build_tiny_model,
    make_user,
)

import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
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
BROWSER_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
# Every URL a user could type: each page's path, the old pages/ names, and nonsense.
TYPED_PATHS = (
    "", "home", "login", "Live", "Upload", "Session_replay", "Client_history", "Evaluation",
    "Clusters", "Dataset",
    "Admin", "Session_replay?session=1", "1_Live", "5_Session_replay", "Login", "Home",
    "no_such_page",
)
PAGE_TITLES = {  # sidebar entry -> the page's heading
    "Home": "Facial-expression workbench", "Live": "Live session",
    "Upload": "Analyse an image or a video", "Session replay": "Session replay",
    "Client history": "Client history",
    "Evaluation": "Evaluation", "Clusters": "Clusters", "Dataset": "Dataset",
    "Admin": "Administration",
}

def require_browser() -> None:
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("the Python package playwright is not installed (pip install playwright)")


def video_data_dir() -> Path:
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


def fake_camera(tmp_path: Path) -> tuple[str, ...]:
    """Chromium's switches for a fake camera that plays the shared video (as a clip written to
    ``tmp_path``) with no permission prompt."""
    clip = write_y4m(video_data_dir() / SHARED_VIDEO, tmp_path / "clip.y4m")
    return (
        "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={clip}",
    )


def served_model(tmp_path: Path) -> Path:
    """The model the app serves in a browser test: ``$FER_BROWSER_TEST_MODEL`` (a shipped one,
    for the README's picture), else a tiny untrained one built in ``tmp_path``."""
    override = os.environ.get(MODEL_OVERRIDE_ENV)
    return Path(override) if override else build_tiny_model(tmp_path / "models" / "tiny")


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


@dataclass
class App:
    url: str
    port: int
    db: Path
    users: dict


def stop_process(process: subprocess.Popen, timeout_s: float = 15) -> None:
    """Terminate a server started for a test; kill it if it does not end in ``timeout_s``."""
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def running_app(
    tmp_path: Path, model_dir: Path | None = None, extra_env: dict | None = None,
    launcher: bool = True,
):
    """The app started from the repository root as ``scripts/run_app.sh`` starts it
    (``python -m ui.serving app.py``; ``launcher=False``: plain ``streamlit run app.py``), with
    no address flag, so the project's ``.streamlit/config.toml`` decides where it listens; users
    anna and bert (clinicians), rita (reviewer) and root.admin in a fresh database."""
    db = tmp_path / "sessions.db"
    users = {
        name: make_user(db, name, role)
        for name, role in (
            ("anna", "clinician"), ("bert", "clinician"), ("rita", "reviewer"),
            ("root.admin", "admin"),
        )
    }
    port = free_port()
    env = {
        **os.environ,
        "FER_SESSION_DB": str(db),
        "PYTHONPATH": str(ROOT),
    }
    if model_dir is not None:
        env["FER_MODEL"] = str(model_dir)
    for name in (
        "FER_ICE_SERVERS", "FER_TURN_URL", "FER_IDLE_TIMEOUT_MIN", "FER_RETENTION_DAYS",
        "FER_BEHIND_TLS_PROXY", "STREAMLIT_SERVER_ADDRESS",
    ):
        env.pop(name, None)
    env.update(extra_env or {})
    log_path = tmp_path / "streamlit.log"
    log = log_path.open("w")
    start = ["ui.serving", "app.py"] if launcher else ["streamlit", "run", "app.py"]
    process = subprocess.Popen(
        ["nice", "-n", "19", sys.executable, "-m", *start, "--server.port", str(port)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_server(url, process)
        yield App(url, port, db, users)
    finally:
        stop_process(process)
        log.close()
        if process.returncode not in (0, -15):
            print(log_path.read_text()[-4000:])


@contextmanager
def browser(tmp_path: Path, extra_flags: tuple[str, ...] = ()):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / f"profile-{time.monotonic_ns()}"), executable_path=str(CHROMIUM),
            headless=True, args=[*BROWSER_FLAGS, *extra_flags], accept_downloads=True,
            viewport={"width": 1400, "height": 1040},
        )
        page = context.new_page()
        try:
            yield page
        except BaseException:
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "e2e_failure.png"), full_page=True)
            # The text of the whole page too: Streamlit scrolls inside the page, so the picture
            # holds only what is in view (an error further down would not show).
            (ARTIFACTS / "e2e_failure.txt").write_text(page.inner_text("body"))
            raise
        finally:
            context.close()


def login_form_visible(page, timeout_ms: int = 60_000) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_role("textbox", name="User name")).to_be_visible(timeout=timeout_ms)


def log_in(page, app: App, name: str, path: str = "", heading: str = PAGE_TITLES["Home"]):
    from playwright.sync_api import expect

    page.goto(f"{app.url}/{path}")
    login_form_visible(page)
    page.get_by_role("textbox", name="User name").fill(name)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name=heading, level=1)).to_be_visible(timeout=60_000)


def open_page(page, entry: str) -> None:
    """Follow the sidebar menu (a typed URL would start a new, logged-out browser session)."""
    from playwright.sync_api import expect

    page.get_by_test_id("stSidebarNav").get_by_role("link", name=entry, exact=True).click()
    heading = page.get_by_role("heading", name=PAGE_TITLES[entry], level=1)
    expect(heading).to_be_visible(timeout=60_000)


def expander(page, label: str):
    """The contents of the expander titled ``label``, opened."""
    box = page.get_by_test_id("stExpander").filter(has_text=label)
    box.locator("summary").click()
    return box


def start_camera(
    webrtc, label: str, started, timeout_s: float = 240, press_again_after_s: float = 60
) -> int:
    """Press the camera component's start button (``label``) in the frame ``webrtc`` and wait
    until ``started()`` (e.g. the clinician sees a label); returns the number of presses.

    Pressed again, as a person would, when the component is back at its start button
    ``press_again_after_s`` after a press and nothing has started: on a loaded 2-core machine
    streamlit-webrtc has left a press without effect (no connection, no error, the button as
    before). The analysis behind it is what the tests check, and that is the same either way.
    """
    from playwright.sync_api import expect

    button = webrtc.get_by_role("button", name=label)
    expect(button).to_be_visible(timeout=300_000)
    button.click()
    presses, pressed_at = 1, time.monotonic()
    deadline = pressed_at + timeout_s
    while not started():
        now = time.monotonic()
        if now > deadline:
            raise AssertionError(
                f"the camera did not start within {timeout_s:.0f} s of {presses} press(es) "
                f"on {label!r}"
            )
        if now - pressed_at > press_again_after_s and button.is_visible():
            button.click()
            presses, pressed_at = presses + 1, now
        time.sleep(0.5)
    return presses


def settle(page, ms: int = 1_500) -> None:
    """Let Streamlit finish the current script run (no spinner, no stale elements)."""
    page.wait_for_timeout(ms)
    page.get_by_test_id("stStatusWidget").wait_for(state="hidden", timeout=60_000)
