"""Two app instances on one PostgreSQL store behind nginx, in real browsers (issue #28, item 4).

Instances ``a`` and ``b`` (``FER_INSTANCE``) run the app from the repository; nginx runs
``docs/deployment/nginx-instances.conf`` on loopback with a self-signed certificate. The test
shows that the proxy pins each browser to one instance and that both serve logins; that a
clinician's room is created with the key of the instance serving the clinician and that the
client's join link reaches that instance (its page and its WebSocket, by nginx's access log),
where the clinician's view shows the client's labels; and that a short code typed on the other
instance sends the client on to the room's instance.

Needs Debian's ``nginx``, ``chromium`` and ``openssl``, the Python ``playwright`` package,
``FER_DATA_DIR`` (the fake camera's video) and a PostgreSQL server (``FER_TEST_POSTGRES_URL``;
``scripts/postgres_for_tests.sh`` starts a throw-away one). Run:
``FER_DATA_DIR=… bash scripts/postgres_for_tests.sh .venv/bin/python -m pytest -m browser
tests/app/test_proxy_instances.py``.
"""

from tests.app.browser_support import (  # isort: skip  (imports webrtc first)
    ARTIFACTS,
    BROWSER_FLAGS,
    CHROMIUM,
    free_port,
    log_in,
    require_browser,
    running_app,
    start_camera,
    video_data_dir,
    write_y4m,
)

import dataclasses
import re
import shutil
import time
from pathlib import Path

import pytest

from fer.accounts import AccountStore
from fer.rooms import RoomStore
from tests.app.nginx_support import NGINX, instances_config, running_nginx
from tests.app.page_support import SHARED_VIDEO, build_tiny_model, make_user

pytestmark = pytest.mark.browser

FACE_LABEL = re.compile(r"· Face \d")
LOG_LINE = re.compile(
    r'"(?P<method>\S+) (?P<uri>\S+)" (?P<status>\d+) upstream=(?P<upstream>\S+) '
    r"pin=(?P<pin>\S*) room=(?P<room>\S*)"
)
# Pins tried until each instance has served a login: consistent hashing of random names, so a
# few suffice (the chance that eight all land on one of two instances is 1 in 128).
MAX_PINS = 8


def require_tools() -> None:
    require_browser()
    if not NGINX.is_file():
        pytest.skip(f"{NGINX} is missing (apt-get install nginx)")
    if shutil.which("openssl") is None:
        pytest.skip("openssl is missing")


def log_lines(access_log: Path) -> list[dict]:
    return [
        match.groupdict() for match in map(LOG_LINE.search, access_log.read_text().splitlines())
        if match is not None
    ]


def upstreams(access_log: Path, **where: str) -> set[str]:
    """The instances (host:port) that served the logged requests matching ``where``."""
    return {
        line["upstream"] for line in log_lines(access_log)
        if all(line[key] == value for key, value in where.items())
    }


def pinned_context(browser, proxy_url: str, pin: str | None):
    context = browser.new_context(
        ignore_https_errors=True, viewport={"width": 1300, "height": 1000}
    )
    if pin is not None:
        context.add_cookies([{"name": "fer_pin", "value": pin, "url": proxy_url}])
    page = context.new_page()
    page.set_default_navigation_timeout(120_000)
    return context, page


def test_two_instances_share_a_store_and_the_proxy_keeps_each_room_on_its_own(
    tmp_path, postgres_location
):
    from playwright.sync_api import expect, sync_playwright

    require_tools()
    clip = write_y4m(video_data_dir() / SHARED_VIDEO, tmp_path / "clip.y4m")
    model_dir = build_tiny_model(tmp_path / "models" / "tiny")
    for name in ("anna", "bert"):
        make_user(postgres_location, name, "clinician")
    listen_port = free_port()
    proxy_url = f"https://127.0.0.1:{listen_port}"
    directories = {name: tmp_path / name for name in ("a", "b", "proxy")}
    for directory in directories.values():
        directory.mkdir()

    def instance_env(name: str) -> dict:
        return {"FER_SESSION_DB": postgres_location, "FER_INSTANCE": name,
                "FER_PUBLIC_URL": proxy_url}

    camera = (
        "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={clip}", "--ignore-certificate-errors",
    )
    with (
        running_app(directories["a"], model_dir, instance_env("a")) as app_a,
        running_app(directories["b"], model_dir, instance_env("b")) as app_b,
        running_nginx(
            directories["proxy"],
            instances_config(directories["proxy"], listen_port, app_a.port, app_b.port),
            listen_port,
        ) as access_log,
        sync_playwright() as playwright,
    ):
        instance_at = {f"127.0.0.1:{app_a.port}": "a", f"127.0.0.1:{app_b.port}": "b"}
        proxy = dataclasses.replace(app_a, url=proxy_url, port=listen_port)
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=[*BROWSER_FLAGS, *camera]
        )
        pages = {}
        try:
            # Each browser stays on the instance its pin names, and both instances log in.
            pin_of: dict[str, str] = {}
            for index in range(MAX_PINS):
                pin = f"pin{index}"
                context, page = pinned_context(browser, proxy_url, pin)
                log_in(page, proxy, "bert")
                context.close()  # nginx logs a WebSocket when it closes
                served = upstreams(access_log, pin=pin)
                assert len(served) == 1, f"browser {pin} was served by {served}"
                pin_of.setdefault(instance_at[served.pop()], pin)
                if len(pin_of) == 2:
                    break
            assert set(pin_of) == {"a", "b"}, f"every pin landed on {set(pin_of)}"

            # A clinician pinned to instance a creates a room: its key names a.
            _, clinician = pinned_context(browser, proxy_url, pin_of["a"])
            pages["clinician"] = clinician
            log_in(clinician, proxy, "anna", "Session_room", heading="Session room")
            clinician.get_by_role("textbox", name="Client code").fill("C-17")
            clinician.get_by_role("button", name="Create room").click()
            link_box = clinician.locator("[data-testid='stCode']").first
            expect(link_box).to_contain_text("/join?room=a-", timeout=120_000)
            link = link_box.inner_text().strip()
            assert link.startswith(f"{proxy_url}/join?room=a-")

            # The client's link reaches instance a, whatever pin the client's browser got.
            _, client = pinned_context(browser, proxy_url, pin_of["b"])
            pages["client"] = client
            client.goto(link)
            client.get_by_role("textbox", name="Your name").fill("Kim Client")
            client.get_by_text("I have read this and I agree").click()
            client.get_by_role("button", name="I agree").click()
            webrtc = client.frame_locator("iframe[title*='webrtc']")
            start_camera(
                webrtc, "Turn on my camera",
                lambda: clinician.get_by_text(FACE_LABEL).count() > 0,
            )

            # A code typed on instance b sends its client on to the room's instance a.
            anna = AccountStore(postgres_location).get_user_by_name("anna")
            by_code = RoomStore(postgres_location).create_room(anna, "C-18", instance="a")
            _, typist = pinned_context(browser, proxy_url, pin_of["b"])
            pages["typist"] = typist
            typist.goto(f"{proxy_url}/join")
            typist.get_by_role("textbox", name="Session code").fill(by_code.short_code)
            typist.get_by_role("button", name="Join").click()
            typist.get_by_role("link", name="Continue to your session").click()
            expect(typist.get_by_role("textbox", name="Your name")).to_be_visible(
                timeout=60_000
            )
            expect(typist).not_to_have_url(re.compile("code="))  # it left the address bar
            expect(typist).not_to_have_url(re.compile("room="))  # no link on its own
        except BaseException:
            ARTIFACTS.mkdir(exist_ok=True)
            for name, page in pages.items():
                page.screenshot(path=str(ARTIFACTS / f"proxy_failure_{name}.png"), full_page=True)
            raise
        finally:
            browser.close()  # closes the WebSockets, which nginx logs then

        deadline = time.monotonic() + 20  # nginx logs a WebSocket once it has closed
        while time.monotonic() < deadline and not upstreams(
            access_log, room="a", uri="/_stcore/stream"
        ):
            time.sleep(0.5)
        lines = log_lines(access_log)
        # Everything the room's links loaded went to instance a: the client's page and its
        # WebSocket, and the forwarded client's; the code was typed on b.
        room_lines = [line for line in lines if line["room"] == "a"]
        assert {line["uri"] for line in room_lines} >= {"/join", "/_stcore/stream"}
        assert {instance_at[line["upstream"]] for line in room_lines} == {"a"}
        typed_on = {instance_at[line["upstream"]] for line in lines
                    if line["pin"] == pin_of["b"] and line["room"] == ""
                    and line["uri"] == "/_stcore/stream"}
        assert "b" in typed_on
        assert not [line for line in lines if line["status"].startswith("5")]
