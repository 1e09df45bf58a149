"""End to end in a real browser, the Live page: headless Chromium with a fake camera playing the
shared video, against the app under ``streamlit run``. Consent, Start, one recording button at a
time (no replaced button left in the page), the camera and analysis rates and the latency, bars
on a fixed 0-100 % axis that agree with the headline, action units and the valence/arousal
trail, recording into the session store (owned by the logged-in clinician), a moment marked with
a note, and that marker on Session replay and in the downloaded HTML report.

Needs Debian's ``chromium``, the Python ``playwright`` package and ``FER_DATA_DIR``. Run:
``FER_DATA_DIR=… python -m pytest -m browser tests/app/test_browser_live.py``. Pictures go to
``test-artifacts/``: ``live.png`` while the camera plays and ``page_Live_recording.png`` while
it records. The app then serves a tiny untrained model, so the labels are meaningless; for the
README's picture (``docs/images/live.png``) run it with a shipped model:
``FER_BROWSER_TEST_MODEL=ferplus FER_DATA_DIR=… python -m pytest -m browser
tests/app/test_browser_live.py``.
"""

from tests.app.browser_support import (  # isort: skip  (imports webrtc first)
    fake_camera,
    served_model,
    ARTIFACTS,
    LIVE_SCREENSHOT,
    MIN_RECORDED,
    PAGE_TITLES,
    require_browser,
    browser,
    count,
    log_in,
    open_page,
    query,
    running_app,
    settle,
)

import re
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser


def save_live_screenshot(page, path: Path = LIVE_SCREENSHOT) -> None:
    """The Live page as a user sees it while predictions arrive: camera, bars and timeline.

    Counts the visible charts: Streamlit keeps replaced charts in the page, hidden, so the n-th
    chart of the page may be a stale one; and the looped clip has stretches without a face,
    when the panel shows no bars. The count is taken once per look and that count is judged:
    the panel redraws a few times a second, so a second count a moment later may catch a
    redraw between its old and new charts (which made this test fail now and then)."""
    charts = page.locator(".js-plotly-plot:visible")
    deadline = time.monotonic() + 60
    n_visible = charts.count()
    while n_visible < 2 and time.monotonic() < deadline:
        page.wait_for_timeout(250)
        n_visible = charts.count()
    if n_visible < 2:  # what the page showed instead
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "live_without_charts.png"))
        panel_text = page.evaluate(
            "() => [...document.querySelectorAll('h2, [data-testid=stAlert], "
            "[data-testid=stCaptionContainer]')].map(node => node.innerText).join(' | ')"
        )
        all_charts = page.locator(".js-plotly-plot").count()
        raise AssertionError(
            "the bars and the timeline never showed together: "
            f"{n_visible} visible of {all_charts} charts in the page; panel: {panel_text!r}"
        )
    page.wait_for_timeout(3_000)  # a few seconds of timeline, and the latest redraw finished
    page.evaluate("window.scrollTo(0, 0)")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(path))


RECORDING_BUTTON = re.compile(r"(Start|Stop) recording")


def assert_one_recording_button(page, label: str, hold_ms: int = 4_000) -> None:
    """Exactly one recording button, reading ``label``, within a short time, and still exactly
    one a few seconds later. Counted in the page, hidden ones included: Streamlit keeps a
    replaced widget in the page, hidden, and shows it greyed while it has the focus, which the
    clicked button has (issue #26 saw a greyed "Start recording" under "Stop recording")."""
    from playwright.sync_api import expect

    buttons = page.get_by_test_id("stButton").filter(has_text=RECORDING_BUTTON)
    expect(page.get_by_test_id("stButton").filter(has_text=label)).to_have_count(
        1, timeout=20_000
    )
    expect(buttons).to_have_count(1, timeout=5_000)
    deadline = time.monotonic() + hold_ms / 1000
    while time.monotonic() < deadline:
        assert buttons.count() == 1, buttons.all_inner_texts()
        page.wait_for_timeout(250)
    assert label in buttons.inner_text()


def plotly_figure(page, title_part: str) -> list[dict]:
    """The data and layout of every drawn Plotly figure whose title contains ``title_part``,
    with the bar labels and axis ticks the browser actually rendered."""
    return page.evaluate(
        """(part) => [...document.querySelectorAll('.js-plotly-plot')]
            .filter(plot => ((plot.layout || {}).title || {}).text?.includes(part))
            .map(plot => ({
                data: plot.data.map(trace => ({x: trace.x, y: trace.y, text: trace.text,
                                               mode: trace.mode})),
                xaxis: plot.layout.xaxis,
                bar_texts: [...plot.querySelectorAll('.bartext')].map(node => node.textContent),
                x_ticks: [...plot.querySelectorAll('.xtick text')].map(node => node.textContent),
            }))""",
        title_part,
    )


def panel_figures(page) -> dict:
    """One consistent look at the panel: the headline lines and the bars chart(s)."""
    return {
        "headlines": page.evaluate(
            """() => [...document.querySelectorAll('h2')].map(node => node.innerText)
                .filter(text => text.includes('· Face '))"""
        ),
        "bars": plotly_figure(page, "smoothed probabilities"),
    }


def metric_value(page, label: str) -> str:
    metric = page.get_by_test_id("stMetric").filter(has_text=label).first
    return metric.get_by_test_id("stMetricValue").inner_text()


def test_live_page_records_predictions_from_a_fake_camera(tmp_path):
    """Consent, camera, one recording button at a time, the live figures (rates, latency,
    bars, action units, the valence/arousal trail), a moment marked with a note, and that
    marker on Session replay and in the downloaded HTML report (issues #26 and #29)."""
    from playwright.sync_api import expect

    require_browser()
    camera = fake_camera(tmp_path)  # skips without the shared video
    model_dir = served_model(tmp_path)
    started = time.monotonic()
    with running_app(tmp_path, model_dir) as app, browser(tmp_path, camera) as page:
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
        expect(page.get_by_text(re.compile(r"· Face \d")).first).to_be_visible(timeout=45_000)
        save_live_screenshot(page)

        # The figures of issue #26: the camera's rate (a 15 fps fake camera), the analysed
        # rate apart from it, the latency; bars on a fixed 0-100 % axis with every row labelled,
        # one bars chart only, its numbers those of the headline.
        deadline = time.monotonic() + 30
        while metric_value(page, "Analysis rate") == "–" and time.monotonic() < deadline:
            page.wait_for_timeout(500)  # two analysed frames are needed to count a rate
        camera_fps = float(metric_value(page, "Camera rate").removesuffix("/s"))
        analysed_fps = float(metric_value(page, "Analysis rate").removesuffix("/s"))
        assert 0 < camera_fps <= 16.5, camera_fps
        assert analysed_fps <= camera_fps + 0.5, (analysed_fps, camera_fps)
        assert re.fullmatch(r"\d+ ms", metric_value(page, "Camera to label"))
        # The panel says "No face in view" (no bars) while the looped clip shows no face.
        panel = panel_figures(page)
        deadline = time.monotonic() + 30
        while not panel["bars"] and time.monotonic() < deadline:
            page.wait_for_timeout(500)
            panel = panel_figures(page)
        (bars,) = panel["bars"]
        classes = bars["data"][0]["y"]
        assert len(bars["bar_texts"]) == len(classes), bars["bar_texts"]
        assert all(text.endswith("%") for text in bars["bar_texts"])
        assert list(bars["xaxis"]["range"]) == [0, 1]
        assert {"0%", "50%", "100%"} <= set(bars["x_ticks"]), bars["x_ticks"]
        consistent = False
        for _ in range(40):  # one look taken between two redraws of the panel
            panel = panel_figures(page)
            assert len(panel["bars"]) <= 1
            if not panel["bars"] or not panel["headlines"]:  # the face left the clip again
                page.wait_for_timeout(250)
                continue
            label, share = panel["headlines"][0].split(" · ")[:2]
            label = label.split()[-1]
            bar_trace = panel["bars"][0]["data"][0]
            texts = dict(zip(bar_trace["y"], bar_trace["text"], strict=True))
            shown = texts.get(label) or max(texts.values(), key=lambda text: int(text[:-1]))
            if shown == share:
                consistent = True
                break
            page.wait_for_timeout(100)
        assert consistent, panel

        record.click()
        assert_one_recording_button(page, "Stop recording")
        expect(page.get_by_text(re.compile(r"Recording.*session #1")).first).to_be_visible(
            timeout=30_000
        )
        save_live_screenshot(page, ARTIFACTS / "page_Live_recording.png")

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

        # The clinical signals of the face on the fake camera (issue #29): action units, head
        # pose, and the valence/arousal trail with more than one point.
        expect(page.get_by_text(re.compile(r"Action units: .*\(AU\d+\)")).first).to_be_visible(
            timeout=30_000
        )
        expect(page.get_by_text(re.compile(r"Head pose: yaw")).first).to_be_visible()
        trail_points = 0
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and trail_points < 2:
            circumplex = plotly_figure(page, "valence and arousal")
            lines = [trace for figure in circumplex for trace in figure["data"]
                     if trace["mode"] == "lines"]
            trail_points = max((len(trace["x"]) for trace in lines), default=0)
            page.wait_for_timeout(500)
        assert trail_points > 1, "the valence/arousal trail has fewer than two points"

        # A moment marked live, with a note.
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
        assert_one_recording_button(page, "Start recording")
        expect(page.get_by_text(re.compile(r"Session #1 saved"))).to_be_visible(timeout=30_000)
        ((ended,),) = query(db, "SELECT ended_at FROM sessions")
        assert ended is not None

        # The marker made live is on the replay's timeline and in the report for the record.
        open_page(page, "Session replay")
        settle(page)
        expect(page.get_by_text("Marked moments")).to_be_visible(timeout=60_000)
        timeline = page.locator(".js-plotly-plot").first
        expect(timeline).to_contain_text(f"{marker_s:.1f} s", timeout=30_000)
        # The markers table is a canvas grid; its cells exist for assistive technology.
        expect(page.get_by_text("client looked away").first).to_be_attached(timeout=30_000)
        report_button = page.get_by_role("button", name=re.compile(r"Report \(HTML\)"))
        report_button.scroll_into_view_if_needed()
        with page.expect_download(timeout=120_000) as download_info:
            report_button.click()
        download = download_info.value
        report = Path(download.path()).read_text(encoding="utf-8")
        assert download.suggested_filename.endswith(".html")
        assert "client looked away" in report
        assert f"{marker_s:.1f} s" in report
    print(f"browser part took {time.monotonic() - started:.0f} s")
