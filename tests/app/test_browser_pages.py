"""Every page in a real browser (headless Chromium against the app under ``streamlit run``),
logged in as an administrator, with a screenshot of each in ``test-artifacts/page_<Name>.png``,
and the page defects of issue #26 checked where a user sees them:

- Evaluation: every bar of the model comparison has its own label and the value of its report
  (read from the Plotly figure in the page); none is stacked on another.
- Upload: a junk ``x.mp4`` gets a message naming ``x.mp4`` in plain words (no temporary file, no
  library name), and no progress bar stays on screen.
- Session replay: a picture uploaded through the page reads "1 face result" (never "1 frames")
  and shows no timeline; a video session's interval chart has a legend and no bar past the
  session's end, even at the longest interval.
- The navigation lists the home page as "Home", and no page shows an error.

Needs Debian's ``chromium``, the Python ``playwright`` package and ``FER_DATA_DIR`` (the face
landmarker and a face for the upload). Run: ``FER_DATA_DIR=… python -m pytest -m browser
tests/app/test_browser_pages.py``.
"""

from tests.app.browser_support import (  # isort: skip  (imports webrtc first)
    ARTIFACTS,
    PAGE_TITLES,
    browser,
    log_in,
    open_page,
    settle,
    video_data_dir,
)

import time

import pytest

from fer import config
from fer.evaluation.plots import comparison_labels
from fer.evaluation.reports import report_table
from tests.app.page_support import face_frame_bgr, png_bytes, record_session

pytestmark = pytest.mark.browser

TIMEOUT_MS = 120_000
JUNK_VIDEO = b"\x00\x01junk" * 500
RECORDED_FRAMES = 10  # record_session puts them half a second apart: the session ends at 4.5 s

# The figures Plotly drew, as the browser holds them: title, legend shown, and per trace the
# name, x and y values, bar widths, and where each bar starts and ends (s0, s1) once stacked.
FIGURES_JS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(plot => ({
    title: (plot.layout.title || {}).text || '',
    showlegend: plot._fullLayout.showlegend,
    traces: plot.data.map((trace, index) => ({
        name: trace.name,
        x: Array.from(trace.x || []),
        y: Array.from(trace.y || []),
        width: trace.width === undefined ? null
            : (typeof trace.width === 'number' ? trace.width : Array.from(trace.width)),
        bars: (plot.calcdata[index] || []).map(bar => [bar.s0, bar.s1]),
    })),
}))"""


def figures(page) -> list[dict]:
    return page.evaluate(FIGURES_JS)


def figure_titled(page, words: str) -> dict:
    from playwright.sync_api import expect

    expect(page.locator(".js-plotly-plot").filter(has_text=words)).to_have_count(
        1, timeout=TIMEOUT_MS
    )
    return next(figure for figure in figures(page) if words in figure["title"])


def screenshot(page, entry: str) -> None:
    from playwright.sync_api import expect

    # Loading the dataset, running the model and clustering show spinners one after another,
    # for a while on two cores: wait until none has come back for a moment.
    spinners = page.get_by_test_id("stSpinner")
    for _ in range(10):
        expect(spinners).to_have_count(0, timeout=300_000)
        settle(page)
        if spinners.count() == 0:
            break
    body = page.inner_text("body")
    assert "Something went wrong" not in body, entry
    assert "Traceback" not in body, entry
    name = entry.replace(" ", "_")
    page.screenshot(path=str(ARTIFACTS / f"page_{name}.png"), full_page=True)


def visit(page, entry: str) -> None:
    """Follow the sidebar link ``entry`` and wait for its page's heading."""
    from playwright.sync_api import expect

    if entry in PAGE_TITLES:
        open_page(page, entry)
    else:
        page.get_by_test_id("stSidebarNav").get_by_role("link", name=entry, exact=True).click()
        heading = page.get_by_role("heading", level=1).filter(has_text=entry)
        expect(heading.first).to_be_visible(timeout=TIMEOUT_MS)
    settle(page)


def choose(page, label: str, option_text: str) -> None:
    """Pick the option containing ``option_text`` in the selectbox labelled ``label``."""
    page.get_by_test_id("stSelectbox").filter(has_text=label).click()
    page.get_by_role("option").filter(has_text=option_text).first.click()
    settle(page)


def consent_on_upload(page) -> None:
    from playwright.sync_api import expect

    page.get_by_role("textbox", name="Name of the person consenting").fill("Browser Client")
    page.get_by_text("The person named above has read the statement").click()
    page.get_by_role("button", name="I consent").click()
    expect(page.get_by_text("Consent on record.")).to_be_visible(timeout=TIMEOUT_MS)


def upload(page, name: str, content: bytes, mime: str, kind: str) -> None:
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(
        {"name": name, "mimeType": mime, "buffer": content}
    )
    button = page.get_by_role("button", name=f"Analyse the {kind} and save it as a session")
    button.click(timeout=TIMEOUT_MS)


def check_evaluation(page) -> None:
    """Item 1: the comparison's bars against the reports the table is made of."""
    table = report_table(config.MODELS_DIR, config.STRATEGY_COMPARISON_DIR)
    assert not table.empty, "no saved reports to compare"
    expected = dict(zip(comparison_labels(table), table["accuracy"], strict=True))
    figure = figure_titled(page, "Model comparison")
    accuracy = next(trace for trace in figure["traces"] if trace["name"] == "accuracy")
    labels, values = accuracy["y"], accuracy["x"]  # horizontal bars: a label per row
    assert len(set(labels)) == len(labels) == len(table), labels
    shown = dict(zip(labels, values, strict=True))
    assert shown.keys() == expected.keys()
    for label, value in expected.items():
        assert shown[label] == pytest.approx(value), label
    for trace in figure["traces"]:  # every bar starts at zero: nothing stacked
        for (start, end), value in zip(trace["bars"], trace["x"], strict=True):
            assert start == 0 and end == pytest.approx(value), (trace["name"], start, end)
    chart = page.locator(".js-plotly-plot").filter(has_text="Model comparison")
    chart.scroll_into_view_if_needed()  # the page's picture shows the comparison


def check_upload(page) -> None:
    """Item 5, then a face picture saved as a session for the replay."""
    from playwright.sync_api import expect

    consent_on_upload(page)
    upload(page, "x.mp4", JUNK_VIDEO, "video/mp4", "video")
    error = page.get_by_test_id("stAlert").filter(has_text="could not be read as a video")
    expect(error).to_be_visible(timeout=TIMEOUT_MS)
    settle(page)
    message = error.inner_text()
    assert "x.mp4 could not be read as a video: it is damaged or in a format we cannot open" in (
        message
    )
    assert "OpenCV" not in message and "upload.mp4" not in message
    assert page.get_by_test_id("stProgress").count() == 0, "a progress bar stayed on screen"

    upload(page, "client.png", png_bytes(face_frame_bgr()), "image/png", "image")
    expect(page.get_by_text("Saved as session #1")).to_be_visible(timeout=TIMEOUT_MS)


def check_replay(page) -> None:
    """Item 6: the uploaded picture, then a recorded video session at the longest interval."""
    from playwright.sync_api import expect

    choose(page, "Session", "uploaded picture")
    expect(page.get_by_text("Result of the picture")).to_be_visible(timeout=TIMEOUT_MS)
    # No timeline of one picture (the previous session's figures leave when the run ends).
    expect(page.locator(".js-plotly-plot")).to_have_count(0, timeout=TIMEOUT_MS)
    # A selectbox shows its choice as the value of an input, not as text.
    chosen = page.get_by_test_id("stSelectbox").filter(has_text="Session").locator("input")
    label = chosen.input_value()
    assert label.endswith("uploaded picture · 1 face result"), label
    assert "1 frames" not in page.inner_text("body")

    choose(page, "Session", f"{RECORDED_FRAMES} face results")
    interval = page.get_by_test_id("stSlider").filter(has_text="Interval (s)")
    interval.get_by_role("slider").press("End")  # the longest interval: 60 s
    settle(page)
    figure = figure_titled(page, "per 60 s")
    assert figure["showlegend"], "the interval chart has no legend"
    session_end_s = (RECORDED_FRAMES - 1) / 2
    for trace in figure["traces"]:
        widths = trace["width"]
        if not isinstance(widths, list):
            widths = [widths] * len(trace["x"])
        for centre, width in zip(trace["x"], widths, strict=True):
            assert centre + width / 2 <= session_end_s + 1e-6, (centre, width)


def test_every_page_in_a_real_browser(app, tmp_path):
    video_data_dir()  # the landmarker for the upload comes from FER_DATA_DIR
    ARTIFACTS.mkdir(exist_ok=True)
    started = time.time()
    with browser(tmp_path) as page:
        log_in(page, app, "root.admin")
        navigation = page.get_by_test_id("stSidebarNav")
        assert navigation.get_by_role("link", name="Home", exact=True).count() == 1
        assert navigation.get_by_role("link", name="app", exact=True).count() == 0
        # Every page the navigation offers, pages added after this test was written included.
        entries = [text.split("\n")[-1].strip() for text in navigation.get_by_role("link")
                   .all_inner_texts()]  # an icon's ligature name, then the title
        assert set(PAGE_TITLES) <= set(entries), entries
        screenshot(page, "Home")
        for entry in entries:
            if entry == "Home":
                continue
            visit(page, entry)
            if entry == "Upload":
                check_upload(page)
                record_session(app.db, app.users["root.admin"], "Video Client",
                               n_frames=RECORDED_FRAMES)
            elif entry == "Session replay":
                check_replay(page)
            elif entry == "Evaluation":
                check_evaluation(page)
            screenshot(page, entry)
    for entry in entries:  # each picture is this run's, not one left by an earlier run
        picture = ARTIFACTS / f"page_{entry.replace(' ', '_')}.png"
        assert picture.stat().st_mtime >= started, entry
