"""How many remote session rooms does one server hold at 15 fps with camera-to-label p95 <= 250 ms?

Issue #28, item 3. The script starts the app as the browser tests do (``running_app``: a fresh
database, ``python -m ui.serving app.py``), with the shipped default model (the one
``EmotionRecognizer()`` loads; ``--model`` names another). For each room it drives two headless
Chromium contexts on loopback: a client whose fake camera plays the shared video (640×480,
15 fps, looped) and who opens the join link, consents and turns the camera on, and a clinician
logged in on the room's view. The app is put back to normal priority (``running_app`` starts it
at ``nice 19`` so that tests stay polite); the browsers run at normal priority too, on the same
machine: the server's CPU is shared with 2 × N browser pages, which a real deployment would not
have, so the figures are a lower bound for the server alone.

Rooms are added one count at a time (``--rooms 1 2 3 4``: one room, then a second, …); after
each step and ``--warmup`` seconds the script samples for ``--seconds`` and prints, per count:

- camera fps at the server: frames per second the server took from each client's stream. The
  room's video track hands every frame it takes back to the client (streamlit-webrtc's
  SENDRECV mode answers each frame with the newest processed one), so the client's WebRTC
  statistics (``inbound-rtp`` ``framesReceived``) count them; the camera's own rate
  (``outbound-rtp`` ``framesSent``) is printed beside it.
- analysed fps per room: the growth of "Frames analysed" on the clinician's view.
- camera-to-label latency p50 / p95: the room's own measurement as the clinician's view renders
  it (the "Camera to label" metrics, over the view's last 10 seconds), read from the page once
  per 10-second window: the median of the windows' medians, and the worst window's p95.
- dropped share: ``1 - analysed / taken`` (streamlit-webrtc's async worker analyses only the
  newest frame that arrived while it was busy and drops the rest).
- CPU: the whole machine's busy share (100 % = every core), the app process's and the
  browsers' share of it, and the load average.

    FER_DATA_DIR=/path/to/data python -m experiments.room_load --rooms 1 2 3 4 --seconds 60 \\
        [--warmup 20] [--output /tmp/room_load.json] [--artifacts /tmp/room_load]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

TARGET_FPS = 15.0
TARGET_P95_MS = 250.0
# The latency metrics on the clinician's view cover this many seconds (fer.rooms.latency).
LATENCY_WINDOW_S = 10.0
CLIENT_CODE = "LOAD-{index}"
# Keeps a handle on every RTCPeerConnection a frame creates, for its statistics.
PEER_RECORDER = """
(() => {
  const Native = window.RTCPeerConnection;
  if (!Native || Native.__ferRecorded) return;
  window.__ferPeers = [];
  function Recorded(...args) {
    const peer = new Native(...args);
    window.__ferPeers.push(peer);
    return peer;
  }
  Recorded.prototype = Native.prototype;
  Recorded.__ferRecorded = true;
  Object.setPrototypeOf(Recorded, Native);
  window.RTCPeerConnection = Recorded;
})();
"""
VIDEO_COUNTS = """
async () => {
  const counts = {sent: 0, returned: 0, lost: 0};
  for (const peer of window.__ferPeers || []) {
    let reports;
    try { reports = await peer.getStats(); } catch (error) { continue; }
    reports.forEach((report) => {
      if (report.kind !== "video") return;
      if (report.type === "outbound-rtp") counts.sent += report.framesSent || 0;
      if (report.type === "inbound-rtp") counts.returned += report.framesReceived || 0;
      if (report.type === "remote-inbound-rtp") counts.lost += report.packetsLost || 0;
    });
  }
  return counts;
}
"""
COUNTERS = ("sent", "returned", "lost")
FRAMES_ANALYSED = re.compile(r"Frames analysed (\d+)")
MILLISECONDS = re.compile(r"(\d+) ms")
PART_NAMES = ("to_server_ms", "analysis_ms", "to_view_ms")
PARTS = re.compile(r"to the server (\d+) ms · analysis (\d+) ms · to the view (\d+) ms")


@dataclass
class RoomPages:
    index: int
    room_id: int
    client: object
    clinician: object


@dataclass
class RoomSample:
    """One room over the sampling period."""

    camera_fps: float  # frames the client's camera sent
    analysed_fps: float  # growth of "Frames analysed" on the clinician's view
    dropped_share: float  # 1 - analysed / sent
    returned_fps: float  # the client's own picture as the server sends it back
    packets_lost: int  # reported by the server's RTCP receiver reports
    # Per 10-second window, as the clinician's view shows them: p50, p95 and the median parts.
    windows: list[dict[str, float]] = field(default_factory=list)


@dataclass
class LoadRow:
    n_rooms: int
    seconds: float
    rooms: list[RoomSample]
    cpu_busy_percent: float
    app_cpu_percent: float
    browsers_cpu_percent: float
    load_average: tuple[float, ...]

    def _window_values(self, name: str) -> list[float]:
        return [window[name] for room in self.rooms for window in room.windows if name in window]

    @property
    def p50_ms(self) -> float:
        """The median of the windows' medians, over every room."""
        medians = self._window_values("p50_ms")
        return statistics.median(medians) if medians else float("nan")

    @property
    def p95_ms(self) -> float:
        """The worst window's 95th percentile, over every room."""
        worst = self._window_values("p95_ms")
        return max(worst) if worst else float("nan")

    def part_ms(self, name: str) -> float:
        values = self._window_values(name)
        return statistics.median(values) if values else float("nan")

    def held(self) -> bool:
        """Every camera sent and every room analysed (nearly) 15 fps, within the latency."""
        return all(
            room.analysed_fps >= 0.9 * TARGET_FPS and room.camera_fps >= 0.9 * TARGET_FPS
            for room in self.rooms
        ) and self.p95_ms <= TARGET_P95_MS


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rooms", type=int, nargs="+", default=[1, 2, 3, 4],
                        help="room counts to measure, ascending (rooms are added, not restarted)")
    parser.add_argument("--seconds", type=float, default=60.0, help="sampling time per count")
    parser.add_argument("--warmup", type=float, default=20.0,
                        help="seconds after the last room's first labels before sampling")
    parser.add_argument("--model", default=None,
                        help="a model name or directory for the app (default: the shipped one)")
    parser.add_argument("--output", type=Path, default=None, help="write the rows as JSON here")
    parser.add_argument("--artifacts", type=Path, default=None,
                        help="save every page's picture after each count, and the app's log")
    args = parser.parse_args(argv)
    if any(n < 1 for n in args.rooms) or list(args.rooms) != sorted(set(args.rooms)):
        parser.error("--rooms takes distinct positive counts in ascending order")
    if args.seconds < LATENCY_WINDOW_S:
        parser.error(f"--seconds must be at least {LATENCY_WINDOW_S:g} (one latency window)")
    return args


# ------------------------------------------------------------------------------- processes


def process_listening_on(port: int):
    import psutil

    for connection in psutil.net_connections(kind="tcp"):
        if connection.status == psutil.CONN_LISTEN and connection.laddr.port == port:
            return psutil.Process(connection.pid)
    raise RuntimeError(f"no process listens on port {port}")


def browser_processes() -> list:
    """This script's Chromium processes (under playwright's driver), not other programs'."""
    import psutil

    return [
        process for process in psutil.Process().children(recursive=True)
        if "chrom" in process.name()
    ]


class CpuMeter:
    """Busy share of the machine, of one process and of the browsers between two calls."""

    def __init__(self, app_process):
        import psutil

        self._psutil = psutil
        self._app = app_process
        self._n_cores = psutil.cpu_count() or 1

    def start(self) -> None:
        self._machine = self._psutil.cpu_times()
        self._app_times = self._app.cpu_times()
        self._browser_times = self._browser_seconds()
        self._started = time.monotonic()

    def _browser_seconds(self) -> dict[int, float]:
        seconds = {}
        for process in browser_processes():
            try:
                times = process.cpu_times()
            except self._psutil.Error:
                continue
            seconds[process.pid] = times.user + times.system
        return seconds

    def stop(self) -> tuple[float, float, float]:
        """(machine busy %, app %, browsers %), each as a share of all cores."""
        elapsed = time.monotonic() - self._started
        machine = self._psutil.cpu_times()
        idle = (machine.idle + machine.iowait) - (self._machine.idle + self._machine.iowait)
        total = sum(machine) - sum(self._machine)
        app = self._app.cpu_times()
        app_s = (app.user + app.system) - (self._app_times.user + self._app_times.system)
        now = self._browser_seconds()
        browsers_s = sum(
            seconds - self._browser_times.get(pid, 0.0) for pid, seconds in now.items()
        )
        capacity = elapsed * self._n_cores
        return (
            100 * (1 - idle / total) if total else 0.0,
            100 * app_s / capacity, 100 * browsers_s / capacity,
        )


# ------------------------------------------------------------------------------- the rooms


def open_client(playwright, camera_flags: list[str], link: str, index: int):
    """A client's page on ``link`` in a Chromium of its own (one fake camera each, as on
    separate devices: contexts of one browser share the capture device): consent, then the
    camera on; returns the page."""
    from playwright.sync_api import expect

    from tests.app.browser_support import BROWSER_FLAGS, CHROMIUM

    browser = playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=[*BROWSER_FLAGS, *camera_flags]
    )
    context = browser.new_context(viewport={"width": 900, "height": 900})
    context.add_init_script(PEER_RECORDER)
    page = context.new_page()
    page.set_default_timeout(120_000)  # a loaded machine answers slowly
    page.goto(link)
    page.get_by_role("textbox", name="Your name").fill(f"Load client {index}")
    page.get_by_text("I have read this and I agree").click()
    page.get_by_role("button", name="I agree").click()
    camera = page.frame_locator("iframe[title*='webrtc']")
    turn_on = camera.get_by_role("button", name="Turn on my camera")
    expect(turn_on).to_be_visible(timeout=300_000)
    turn_on.click()
    expect(camera.get_by_role("button", name="Pause my camera")).to_be_visible(timeout=60_000)
    return page


def open_clinician(browser, app, room_key: str):
    """The owner's view of the room, logged in through the login form."""
    from tests.app.browser_support import log_in

    context = browser.new_context(viewport={"width": 1300, "height": 1100})
    page = context.new_page()
    page.set_default_timeout(120_000)
    log_in(page, app, "anna", f"Session_room?room={room_key}", heading="Session room")
    return page


def add_room(playwright, browser, camera_flags: list[str], app, index: int) -> RoomPages:
    from playwright.sync_api import expect

    from fer.accounts import AccountStore
    from fer.rooms import RoomStore

    anna = AccountStore(app.db).get_user_by_name("anna")
    invitation = RoomStore(app.db).create_room(anna, CLIENT_CODE.format(index=index))
    clinician = open_clinician(browser, app, invitation.room.room_key)
    expect(clinician.get_by_text(f"Room {invitation.room.id} ·")).to_be_visible(timeout=60_000)
    client = open_client(
        playwright, camera_flags, f"{app.url}/join?room={invitation.token}", index
    )
    expect(clinician.get_by_text(re.compile(r"· Face \d")).first).to_be_visible(timeout=300_000)
    return RoomPages(index, invitation.room.id, client, clinician)


def text_of(locator, pattern: re.Pattern) -> int | None:
    """The first number ``pattern`` finds in ``locator``'s text; None when it is not shown."""
    try:
        match = pattern.search(locator.first.inner_text(timeout=2_000))
    except Exception:  # the view redraws four times a second: an element can go stale
        return None
    return None if match is None else int(match[1])


def analysed_frames(page) -> int | None:
    return text_of(page.get_by_text(FRAMES_ANALYSED), FRAMES_ANALYSED)


def latency_window(page) -> dict[str, float] | None:
    """p50, p95 and the median parts in ms as the clinician's view shows them; None without."""
    metrics = page.get_by_test_id("stMetric")
    p50 = text_of(metrics.filter(has_text="median"), MILLISECONDS)
    p95 = text_of(metrics.filter(has_text="95th percentile"), MILLISECONDS)
    if p50 is None or p95 is None:
        return None
    window = {"p50_ms": float(p50), "p95_ms": float(p95)}
    try:
        parts = PARTS.search(page.get_by_text(PARTS).first.inner_text(timeout=2_000))
    except Exception:  # redrawn meanwhile
        parts = None
    if parts is not None:
        window.update(zip(PART_NAMES, map(float, parts.groups()), strict=True))
    return window


def video_counts(page) -> dict[str, int]:
    counts = dict.fromkeys(COUNTERS, 0)
    for frame in page.frames:
        try:
            found = frame.evaluate(VIDEO_COUNTS)
        except Exception:  # a frame navigating away
            continue
        counts = {key: counts[key] + found[key] for key in COUNTERS}
    return counts


def sample(rooms: list[RoomPages], seconds: float, meter: CpuMeter, n_rooms: int) -> LoadRow:
    """Counters at the start and the end of ``seconds``; latency once per window."""
    import psutil

    def counters():
        return [(analysed_frames(room.clinician), video_counts(room.client)) for room in rooms]

    windows: dict[int, list[dict[str, float]]] = {room.index: [] for room in rooms}
    meter.start()
    started, first = time.monotonic(), counters()
    next_window = started + LATENCY_WINDOW_S
    while next_window <= started + seconds + 0.01:
        time.sleep(max(0.0, next_window - time.monotonic()))
        for room in rooms:
            for _ in range(3):  # a redraw can hide the figures for a moment
                window = latency_window(room.clinician)
                if window is not None:
                    windows[room.index].append(window)
                    break
                time.sleep(0.3)
        next_window += LATENCY_WINDOW_S
    time.sleep(max(0.0, started + seconds - time.monotonic()))
    last, elapsed = counters(), time.monotonic() - started
    busy, app_percent, browsers_percent = meter.stop()
    samples = []
    for room, (analysed_0, video_0), (analysed_1, video_1) in zip(rooms, first, last, strict=True):
        analysed = (analysed_1 or 0) - (analysed_0 or 0)
        sent = video_1["sent"] - video_0["sent"]
        samples.append(RoomSample(
            camera_fps=sent / elapsed,
            analysed_fps=analysed / elapsed,
            # The two counters are read a moment apart: clip the share to 0..1.
            dropped_share=min(1.0, max(0.0, 1 - analysed / sent)) if sent else float("nan"),
            returned_fps=(video_1["returned"] - video_0["returned"]) / elapsed,
            packets_lost=video_1["lost"] - video_0["lost"],
            windows=windows[room.index],
        ))
    return LoadRow(
        n_rooms, elapsed, samples, busy, app_percent, browsers_percent,
        tuple(round(value, 2) for value in psutil.getloadavg()),
    )


# ---------------------------------------------------------------------------------- output


HEADER = (
    "| rooms | camera fps | analysed fps per room | dropped | camera to label p50 / p95, ms "
    "| median parts: to server / analysis / to view, ms | own picture back, fps "
    "| CPU busy (app / browsers) | held |\n"
    "|---|---|---|---|---|---|---|---|---|"
)


def spread(values: list[float], digits: int = 1) -> str:
    """``low-high`` over the rooms (one value when they agree at ``digits``)."""
    texts = [f"{min(values):.{digits}f}", f"{max(values):.{digits}f}"]
    return texts[0] if texts[0] == texts[1] else "-".join(texts)


def table_row(row: LoadRow) -> str:
    rooms = row.rooms
    parts = " / ".join(f"{row.part_ms(name):.0f}" for name in PART_NAMES)
    return (
        f"| {row.n_rooms} | {spread([room.camera_fps for room in rooms])} "
        f"| {spread([room.analysed_fps for room in rooms])} "
        f"| {spread([100 * room.dropped_share for room in rooms], 0)} % "
        f"| {row.p50_ms:.0f} / {row.p95_ms:.0f} | {parts} "
        f"| {spread([room.returned_fps for room in rooms])} "
        f"| {row.cpu_busy_percent:.0f} % ({row.app_cpu_percent:.0f} % / "
        f"{row.browsers_cpu_percent:.0f} %) | {'yes' if row.held() else 'no'} |"
    )


def save_pictures(rooms: list[RoomPages], directory: Path, n_rooms: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for room in rooms:
        for role in ("client", "clinician"):
            page = getattr(room, role)
            page.screenshot(path=str(directory / f"rooms{n_rooms}_{role}{room.index}.png"),
                            full_page=True)


def run(args: argparse.Namespace) -> list[LoadRow]:
    from playwright.sync_api import sync_playwright

    from tests.app.browser_support import (
        BROWSER_FLAGS,
        CHROMIUM,
        running_app,
        video_data_dir,
        write_y4m,
    )
    from tests.app.page_support import SHARED_VIDEO

    rows: list[LoadRow] = []
    with tempfile.TemporaryDirectory(prefix="room_load_") as scratch:
        scratch_dir = Path(scratch)
        clip = write_y4m(video_data_dir() / SHARED_VIDEO, scratch_dir / "clip.y4m")
        camera_flags = [
            "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={clip}",
        ]
        model_dir = None if args.model is None else Path(args.model)
        with running_app(scratch_dir, model_dir) as app, sync_playwright() as playwright:
            app_process = process_listening_on(app.port)
            app_process.nice(0)  # running_app starts it at nice 19, below the browsers
            browser = playwright.chromium.launch(  # the clinicians' pages
                executable_path=str(CHROMIUM), headless=True, args=BROWSER_FLAGS
            )
            rooms: list[RoomPages] = []
            meter = CpuMeter(app_process)
            print(f"app pid {app_process.pid} on {app.url}; {os.cpu_count()} cores; "
                  f"load average before: {os.getloadavg()}", flush=True)
            print(HEADER, flush=True)
            for n_rooms in args.rooms:
                try:
                    while len(rooms) < n_rooms:
                        rooms.append(
                            add_room(playwright, browser, camera_flags, app, len(rooms) + 1)
                        )
                except Exception as error:  # where it breaks: say so, keep what was measured
                    print(f"room {len(rooms) + 1} could not join: {type(error).__name__}: "
                          f"{str(error).splitlines()[0]}", flush=True)
                    break
                time.sleep(args.warmup)
                row = sample(rooms, args.seconds, meter, n_rooms)
                rows.append(row)
                print(table_row(row), flush=True)
                if args.output is not None:
                    write_record(args.output, rows)
                if args.artifacts is not None:
                    save_pictures(rooms, args.artifacts, n_rooms)
            browser.close()
        if args.artifacts is not None:
            shutil.copy(scratch_dir / "streamlit.log", args.artifacts / "streamlit.log")
    return rows


def write_record(path: Path, rows: list[LoadRow]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "command": "python -m experiments.room_load " + " ".join(sys.argv[1:]),
        "machine_cores": os.cpu_count(),
        "rows": [
            {**asdict(row), "p50_ms": row.p50_ms, "p95_ms": row.p95_ms, "held": row.held()}
            for row in rows
        ],
    }
    path.write_text(json.dumps(record, indent=2) + "\n")


def main(argv: Sequence[str] | None = None) -> list[LoadRow]:
    args = parse_args(argv)
    started = time.monotonic()
    rows = run(args)
    print(f"took {time.monotonic() - started:.0f} s", flush=True)
    return rows


if __name__ == "__main__":
    main()
