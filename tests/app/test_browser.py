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

The Live page with a fake camera is in ``test_browser_live.py``.

Needs Debian's ``chromium`` (``apt-get install chromium``) and the Python ``playwright`` package
(never ``playwright install``: we drive the system browser). Run: ``python -m pytest -m browser
tests/app/test_browser.py``. Pictures go to ``test-artifacts/``: one per page
(``page_<Name>.png``, logged in as an admin) and the login page.
"""

from tests.app.browser_support import (  # isort: skip  (imports webrtc first)
    ARTIFACTS,
    PAGE_TITLES,
    TYPED_PATHS,
    require_browser,
    browser,
    count,
    expander,
    log_in,
    login_form_visible,
    open_page,
    query,
    running_app,
    settle,
)

import http.server
import ipaddress
import re
import socket
import subprocess
import threading
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.app.page_support import record_session

pytestmark = pytest.mark.browser


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
    require_browser()
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

    require_browser()
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
