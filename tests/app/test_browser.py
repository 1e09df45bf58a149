"""End to end in a real browser: headless Chromium against the app under ``streamlit run``.

- An anonymous browser gets the login page and no patient data on every page, URLs typed
  directly included; after logging in, a typed URL opens its page.
- Clinician A cannot open or export clinician B's session; A's export is audited.
- Withdrawing consent with deletion leaves nothing of the session in replay, exports or the
  database file.
- Names and notes are plain text: a consent name holding a markdown image makes the browser
  fetch nothing.
- The server answers on 127.0.0.1 only (the project's ``.streamlit/config.toml``).
- The very first typed URL of a freshly started server shows the login page, whether it was
  started as ``scripts/run_app.sh`` does (``python -m ui.serving``) or with plain
  ``streamlit run app.py`` (Streamlit's older pages-folder mode would otherwise run the page
  script without ``app.py``).
- The Live page with a fake camera playing the shared video: consent, Start, recording, and the
  results in the session store, owned by the logged-in clinician.

Needs Debian's ``chromium`` (``apt-get install chromium``) and the Python ``playwright`` package
(never ``playwright install``: we drive the system browser); the Live test also needs
``FER_DATA_DIR``. Run: ``FER_DATA_DIR=… python -m pytest -m browser tests/app/test_browser.py``.

Pictures go to ``test-artifacts/``: one per page (``page_<Name>.png``, logged in as an admin),
the login page, and ``live.png`` while the camera plays. The app then serves a tiny untrained
model, so the labels are meaningless; for the README's picture (``docs/images/live.png``) run it
with a shipped model: ``FER_BROWSER_TEST_MODEL=ferplus FER_DATA_DIR=… python -m pytest -m browser
tests/app/test_browser.py``.
"""

from tests.app.page_support import (  # isort: skip  (imports webrtc first)
    PASSWORD,
    SHARED_VIDEO,
    build_tiny_model,
    make_user,
    record_session,
)

import http.server
import ipaddress
import os
import re
import socket
import sqlite3
import subprocess
import sys
import threading
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

pytestmark = pytest.mark.browser


def _browser_requirements() -> None:
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("the Python package playwright is not installed (pip install playwright)")


def _video_data_dir() -> Path:
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


@dataclass
class App:
    url: str
    port: int
    db: Path
    users: dict


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
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        if process.returncode not in (0, -15):
            print(log_path.read_text()[-4000:])


@pytest.fixture
def app(tmp_path):
    _browser_requirements()
    with running_app(tmp_path) as running:
        yield running


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


def settle(page, ms: int = 1_500) -> None:
    """Let Streamlit finish the current script run (no spinner, no stale elements)."""
    page.wait_for_timeout(ms)
    page.get_by_test_id("stStatusWidget").wait_for(state="hidden", timeout=60_000)


# ------------------------------------------------------------------------- anonymous access


def test_an_anonymous_browser_gets_only_the_login_page(app, tmp_path):
    secret = "Client Nobody Should See"
    session_id = record_session(app.db, app.users["anna"], secret, notes="secret session notes")
    with browser(tmp_path) as page:
        for path in TYPED_PATHS:
            page.goto(f"{app.url}/{path}")
            login_form_visible(page)
            settle(page, 500)
            body = page.inner_text("body")
            assert secret not in body and "secret session notes" not in body, path
            assert f"#{session_id}" not in body, path
            assert page.get_by_test_id("stSidebarNav").count() == 0, path
            assert page.get_by_role("button", name=re.compile("Download")).count() == 0, path
            if path == "":
                ARTIFACTS.mkdir(exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / "login.png"))
    # The files behind the app are not served: any such path gets Streamlit's page shell.
    for path in ("pages/5_Session_replay.py", "app.py", ".streamlit/config.toml"):
        with urllib.request.urlopen(f"{app.url}/{path}", timeout=10) as response:
            text = response.read().decode()
        assert "<!doctype html>" in text.lower() and "import streamlit" not in text, path
        assert secret not in text and "127.0.0.1" not in text, path
    assert query(app.db, "SELECT action FROM audit_log WHERE action = 'view_session'") == []


@pytest.mark.parametrize(
    ("launcher", "first_path"),
    [(True, "Live"), (False, "Live"), (False, "Session_replay"), (False, "Admin"),
     (False, "Login")],
)
def test_the_first_typed_url_of_a_fresh_server_shows_the_login_page(
    tmp_path, launcher, first_path
):
    _browser_requirements()
    with running_app(tmp_path, launcher=launcher) as fresh:
        secret = "Client Of The First Request"
        record_session(fresh.db, fresh.users["anna"], secret)
        with browser(tmp_path) as page:
            page.goto(f"{fresh.url}/{first_path}")  # the process's first browser session
            login_form_visible(page)
            settle(page, 1_000)
            body = page.inner_text("body")
            assert secret not in body and "Log in to use this page" not in body
            assert page.get_by_test_id("stSidebarNav").count() == 0


def test_a_typed_url_opens_its_page_after_login(app, tmp_path):
    with browser(tmp_path) as page:
        log_in(page, app, "anna", "Session_replay", heading="Session replay")
        nav = page.get_by_test_id("stSidebarNav").inner_text()
        for entry in ("Home", "Live", "Upload", "Session replay"):
            assert entry in nav
        for entry in ("Evaluation", "Clusters", "Dataset", "Admin"):
            assert entry not in nav
        page.get_by_role("button", name="Log out").click()
        login_form_visible(page)
    actions = [row[0] for row in query(app.db, "SELECT action FROM audit_log ORDER BY id")]
    assert actions == ["login", "logout"]


def test_an_idle_screen_clears_itself(tmp_path):
    """With a 3-second idle time-out, an untouched page falls back to the login page by itself
    (the sidebar's watcher checks every half minute), and the logout is audited."""
    from playwright.sync_api import expect

    _browser_requirements()
    with running_app(tmp_path, extra_env={"FER_IDLE_TIMEOUT_MIN": "0.05"}) as app:
        record_session(app.db, app.users["anna"], "Client Left On Screen")
        with browser(tmp_path) as page:
            log_in(page, app, "anna", "Session_replay", heading="Session replay")
            expect(page.get_by_text("Client Left On Screen")).to_be_visible()
            login_form_visible(page, timeout_ms=90_000)
            notice = page.get_by_text(re.compile("logged out after .* without activity"))
            expect(notice).to_be_visible()
            # The old page's elements leave when the run that logged out ends.
            expect(page.get_by_text("Client Left On Screen")).to_have_count(0, timeout=30_000)
        logouts = query(app.db, "SELECT actor, detail FROM audit_log WHERE action = 'logout'")
        assert logouts == [("anna", "idle timeout")]


def test_a_screenshot_of_every_page(app, tmp_path):
    record_session(app.db, app.users["root.admin"], "Screenshot Client")
    ARTIFACTS.mkdir(exist_ok=True)
    with browser(tmp_path) as page:
        log_in(page, app, "root.admin")
        for entry in PAGE_TITLES:
            if entry != "Home":
                open_page(page, entry)
            settle(page)
            assert "Something went wrong" not in page.inner_text("body"), entry
            name = entry.replace(" ", "_")
            page.screenshot(path=str(ARTIFACTS / f"page_{name}.png"), full_page=True)


# --------------------------------------------------------------------- clinicians' sessions


def test_a_clinician_cannot_open_or_export_another_clinician_s_session(app, tmp_path):
    own = record_session(app.db, app.users["anna"], "Client of Anna", model="model-of-anna")
    other = record_session(app.db, app.users["bert"], "Client of Bert", model="model-of-bert")
    with browser(tmp_path) as page:
        log_in(page, app, "anna")
        open_page(page, "Session replay")
        settle(page)
        body = page.inner_text("body")
        assert "Client of Anna" in body and "Client of Bert" not in body
        assert "model-of-bert" not in body
        # The session menu holds Anna's session only.
        page.get_by_test_id("stSelectbox").filter(has_text="Session").click()
        options = page.get_by_role("option").all_inner_texts()
        assert len(options) == 1 and options[0].startswith(f"#{own} "), options
        page.keyboard.press("Escape")
        # Anna's export works, is built on the click and is audited.
        with page.expect_download() as download:
            page.get_by_role("button", name="Frames (CSV)").click()
        text = Path(download.value.path()).read_text()
        assert text.startswith("session_id,t_seconds") and len(text.splitlines()) == 11
        assert all(line.startswith(f"{own},") for line in text.splitlines()[1:])
        # A URL cannot ask for Bert's session: it starts a new, logged-out browser session.
        page.goto(f"{app.url}/Session_replay?session={other}")
        login_form_visible(page)
        assert "Client of Bert" not in page.inner_text("body")
    exports = query(app.db, "SELECT actor, target FROM audit_log WHERE action = 'export_session'")
    assert exports == [("anna", f"session {own}")]
    views = query(app.db, "SELECT actor, target FROM audit_log WHERE action = 'view_session'")
    assert views == [("anna", f"session {own}")]


def test_withdrawal_with_deletion_leaves_nothing_of_the_session(app, tmp_path):
    marker = "NOTE-7f3c-only-in-this-session"
    session_id = record_session(
        app.db, app.users["anna"], "Withdrawing Client", notes=marker, model="model-7f3c"
    )
    with browser(tmp_path) as page:
        log_in(page, app, "anna")
        open_page(page, "Session replay")
        settle(page)
        assert marker in page.inner_text("body")
        box = expander(page, "Withdraw consent")
        assert box.get_by_role("radio", name=re.compile("Delete everything")).is_checked()
        box.get_by_role("button", name="Withdraw consent").click()
        from playwright.sync_api import expect

        notice = page.get_by_text(re.compile("Consent withdrawn. 1 recorded session"))
        expect(notice).to_be_visible(timeout=30_000)
        expect(page.get_by_text(re.compile("No recorded session to show yet"))).to_be_visible()
        settle(page)
        body = page.inner_text("body")
        assert marker not in body and "model-7f3c" not in body
        assert page.get_by_role("button", name=re.compile("CSV")).count() == 0
    assert count(app.db, "sessions") == 0 and count(app.db, "frames") == 0
    withdrawals = query(app.db, "SELECT detail FROM audit_log WHERE action = 'withdraw_consent'")
    assert withdrawals == [("deleted 1 session(s)",)]
    from fer.sessions.records import SessionNotFoundError
    from fer.sessions.store import SessionStore

    with pytest.raises(SessionNotFoundError):
        SessionStore(app.db).export_csv(session_id)
    # Nothing of it is left in the database's files either (secure_delete and vacuum).
    for path in app.db.parent.glob(app.db.name + "*"):
        content = path.read_bytes()
        assert marker.encode() not in content and b"model-7f3c" not in content, path.name


# ------------------------------------------------------------------------------ plain text


class _TrapHandler(http.server.BaseHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self):  # noqa: N802  (http.server's name)
        _TrapHandler.requests.append(self.path)
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args):
        pass


@contextmanager
def fetch_trap():
    """A local HTTP server that records every request a rendered name could trigger."""
    _TrapHandler.requests = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _TrapHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], _TrapHandler.requests
    finally:
        server.shutdown()
        server.server_close()


def test_names_and_notes_never_make_the_browser_fetch_anything(app, tmp_path):
    with fetch_trap() as (trap_port, requests):
        trap = f"http://127.0.0.1:{trap_port}"
        name = f"![t]({trap}/name.png) :red[Dana] $x^2$"
        notes = f'Uploaded file: ![f]({trap}/file.png) <img src="{trap}/html.png">'
        record_session(app.db, app.users["anna"], name, notes=notes)
        with browser(tmp_path) as page:
            log_in(page, app, "anna")
            open_page(page, "Session replay")
            settle(page, 3_000)
            body = page.inner_text("body")
            assert name in body and notes in body
            open_page(page, "Upload")
            page.get_by_role("textbox", name="Name of the person consenting").fill(name)
            page.get_by_text("The person named above has read the statement").click()
            page.get_by_role("button", name="I consent").click()
            from playwright.sync_api import expect

            expect(page.get_by_text("Consent on record.")).to_be_visible(timeout=30_000)
            settle(page, 3_000)
            assert name in page.inner_text("body")
            assert page.locator(f"img[src^='{trap}']").count() == 0
        assert requests == []


# ---------------------------------------------------------------------------------- network


def own_addresses() -> list[str]:
    """This machine's non-loopback addresses (``hostname -I``); link-local IPv6 left out."""
    try:
        output = subprocess.run(
            ["hostname", "-I"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    addresses = []
    for text in output.split():
        address = ipaddress.ip_address(text)
        if not address.is_loopback and not address.is_link_local:
            addresses.append(text)
    return addresses


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a socket listening on ``port`` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table, size in (("/proc/net/tcp", 4), ("/proc/net/tcp6", 16)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address_hex, port_hex = local.split(":")
            if state != "0A" or int(port_hex, 16) != port:  # 0A: LISTEN
                continue
            raw = bytes.fromhex(address_hex)
            # /proc stores each 32-bit word in host (little-endian) order.
            raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            found.add(str(ipaddress.ip_address(raw[:size])))
    return found


def test_the_server_answers_on_127_0_0_1_only(app):
    with urllib.request.urlopen(f"{app.url}/_stcore/health", timeout=5) as response:
        assert response.status == 200
    assert listening_addresses(app.port) == {"127.0.0.1"}
    for address in ["::1", *own_addresses()]:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            with pytest.raises(OSError):  # refused (nothing listens there)
                sock.connect((address, app.port))


# -------------------------------------------------------------------------------- live page


def save_live_screenshot(page) -> None:
    """The Live page as a user sees it while predictions arrive: camera, bars and timeline."""
    from playwright.sync_api import expect

    expect(page.locator(".js-plotly-plot").nth(1)).to_be_visible(timeout=30_000)
    page.wait_for_timeout(3_000)  # a few seconds of timeline, and the latest redraw finished
    page.evaluate("window.scrollTo(0, 0)")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(LIVE_SCREENSHOT))


def test_live_page_records_predictions_from_a_fake_camera(tmp_path):
    from playwright.sync_api import expect

    _browser_requirements()
    data_dir = _video_data_dir()
    model_dir = os.environ.get(MODEL_OVERRIDE_ENV) or build_tiny_model(
        tmp_path / "models" / "tiny"
    )
    clip = write_y4m(data_dir / SHARED_VIDEO, tmp_path / "clip.y4m")
    camera = (
        "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={clip}",
    )
    started = time.monotonic()
    with running_app(tmp_path, Path(model_dir)) as app, browser(tmp_path, camera) as page:
        db = app.db
        log_in(page, app, "anna", "Live", heading=PAGE_TITLES["Live"])
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
        ((consent_by, source, ended, owner),) = query(
            db, "SELECT consent_by, source, ended_at, owner_id FROM sessions"
        )
        assert (consent_by, source, ended) == ("E2E Client", "live", None)
        assert owner == app.users["anna"].id

        # The clinical signals of the face on the fake camera, and a moment marked live.
        expect(page.get_by_text(re.compile(r"Action units: .*\(AU\d+\)")).first).to_be_visible(
            timeout=30_000
        )
        expect(page.get_by_text(re.compile(r"Head pose: yaw")).first).to_be_visible()
        note_box = page.get_by_label("Note for the moment (optional)")
        note_box.fill("client looked away")
        note_box.press("Enter")
        settle(page, 500)
        page.get_by_role("button", name=re.compile("Mark moment")).click()
        expect(page.get_by_text(re.compile(r"Moment marked at [\d.]+ s")).first).to_be_visible(
            timeout=30_000
        )
        ((marker_s, note),) = query(db, "SELECT t_seconds, note FROM markers")
        assert note == "client looked away" and marker_s >= 0

        page.get_by_role("button", name=re.compile("Stop recording")).click()
        expect(page.get_by_text(re.compile(r"Session #1 saved"))).to_be_visible(timeout=30_000)
        ((ended,),) = query(db, "SELECT ended_at FROM sessions")
        assert ended is not None

        # The marker made live is on the replay's timeline.
        open_page(page, "Session replay")
        settle(page)
        expect(page.get_by_text("Marked moments")).to_be_visible(timeout=60_000)
        timeline = page.locator(".js-plotly-plot").first
        expect(timeline).to_contain_text(f"{marker_s:.1f} s", timeout=30_000)
    print(f"browser part took {time.monotonic() - started:.0f} s")
