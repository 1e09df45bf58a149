"""Session replay with signals: the clinician's markers on the timeline, the session insights
with their "about" sentences, the report for the record (built when pressed, audited, checked
against the viewer), and a one-picture session shown as a table instead of a timeline."""

from tests.app.page_support import (  # isort: skip  (imports webrtc first)
    audit_actions,
    log_in,
    make_user,
)

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from fer.emotions import FER2013
from fer.sessions.insights import ABOUT
from fer.sessions.records import FrameRecord, SessionNotFoundError
from fer.sessions.store import SessionStore

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "5_Session_replay.py")
TIMEOUT = 120
CLASSES = list(FER2013.names)
NOTE = "**client** [looked away](http://127.0.0.1:9/)"


def signal_session(db_path: Path, owner, n_frames: int = 40, model: str = "tiny") -> int:
    """A session of one face with action units, valence/arousal, head pose and two markers."""
    store = SessionStore(db_path)
    consent = store.record_consent(
        "Client", client_code="C-001", given_at=datetime.now(UTC) - timedelta(minutes=10)
    )
    frames = []
    for step in range(n_frames):
        probs = np.full(len(CLASSES), 0.05, np.float32)
        label = "happy" if step < n_frames // 2 else "sad"
        probs[CLASSES.index(label)] = 0.7
        lift = 0.8 if step == 30 else 0.1
        frames.append(
            FrameRecord(
                step / 2, 0, (0, 0, 48, 48), probs, probs, label, 0.7,
                valence=0.5 if label == "happy" else -0.4, arousal=0.1,
                action_units={"AU4": lift, "AU12": 0.2}, head_pose={"yaw": 1.0, "pitch": 0.0,
                                                                    "roll": 0.0},
                clipped_share=0.6 if step < 4 else 0.01,
            )
        )
    session_id = store.create_session(
        consent.id, model, CLASSES, "video", frames=frames, owner_id=owner.id,
        started_at=datetime.now(UTC) - timedelta(minutes=5),
    )
    # Markers are made while the session runs, as on the Live page.
    store.add_marker(session_id, 15.0, note=NOTE, created_by=owner)
    store.add_marker(session_id, 3.5, note="", created_by=owner)
    store.end_session(session_id)
    return session_id


def open_replay(user) -> AppTest:
    at = log_in(AppTest.from_file(PAGE, default_timeout=TIMEOUT), user).run()
    assert not at.exception, at.exception
    return at


def test_markers_and_insights_are_shown(db_path):
    anna = make_user(db_path, "anna", "clinician")
    signal_session(db_path, anna)
    at = open_replay(anna)
    tables = [element.value for element in at.dataframe]
    marker_table = next(table for table in tables if "note" in table.columns)
    assert list(marker_table["time (s)"]) == [3.5, 15.0]
    assert NOTE in list(marker_table["note"])  # a table cell: plain text, never markdown
    captions = [caption.value for caption in at.caption]
    for key in ("time_share", "episodes", "expressivity", "flat_affect", "lighting",
                "notable_moments"):
        assert ABOUT[key] in captions
    texts = " ".join(text.value for text in at.text)
    assert "Expressivity index" in texts and "Flat affect" in texts
    assert "too bright to read reliably in 10% of 40 readings" in texts
    moments = next(table for table in tables if "markers nearby" in table.columns)
    assert 15.0 in list(moments["time (s)"])
    assert any("looked away" in cell for cell in moments["markers nearby"])
    # The markers are drawn on the timeline.
    timeline = json.loads(at.get("plotly_chart")[0].proto.spec)
    lines = [shape["x0"] for shape in timeline["layout"].get("shapes", [])]
    assert sorted(lines) == [3.5, 15.0]


def test_the_interval_chart_on_the_page_has_a_legend_and_ends_with_the_session(db_path):
    """One expression throughout: Plotly would hide the legend of its single trace."""
    anna = make_user(db_path, "anna", "clinician")
    signal_session(db_path, anna, n_frames=14)  # happy, then sad; last frame at 6.5 s
    at = open_replay(anna)
    at.slider(key="replay.interval").set_value(60).run()
    assert not at.exception
    spec = next(
        json.loads(chart.proto.spec) for chart in at.get("plotly_chart")
        if "per 60 s" in json.loads(chart.proto.spec)["layout"]["title"]["text"]
    )
    assert spec["layout"]["showlegend"] is True
    (bars,) = spec["data"]
    right_edges = [x + width / 2 for x, width in zip(bars["x"], bars["width"], strict=True)]
    assert max(right_edges) == pytest.approx(6.5)


def test_interval_bars_stop_at_the_session_end(db_path):
    from fer.evaluation import session_plots
    from fer.sessions import replay
    from ui.session_replay import clip_interval_bars

    anna = make_user(db_path, "anna", "clinician")
    session_id = signal_session(db_path, anna, n_frames=23)  # last frame at 11 s
    frames = SessionStore(db_path).load_frames(session_id)
    figure = session_plots.predominant_chart(replay.predominant_per_interval(frames, 5), 5)
    clip_interval_bars(figure, 5, float(frames["t_seconds"].max()))
    right_edges = [
        float(x) + float(width) / 2
        for trace in figure.data
        for x, width in zip(trace.x, trace.width, strict=True)
    ]
    assert max(right_edges) == pytest.approx(11.0)
    left_edges = sorted(
        float(x) - float(width) / 2
        for trace in figure.data
        for x, width in zip(trace.x, trace.width, strict=True)
    )
    assert left_edges == pytest.approx([0.0, 5.0, 10.0])


def test_report_buttons_are_built_when_pressed_and_audited(db_path):
    from ui.resources import audit_log
    from ui.sessions import _audited_export, build_report

    anna = make_user(db_path, "anna", "clinician")
    bert = make_user(db_path, "bert", "clinician")
    session_id = signal_session(db_path, anna)
    at = open_replay(anna)
    labels = [button.proto.label for button in at.get("download_button")]
    assert labels[:3] == ["Report (HTML)", "Report (PDF)", "Report (FHIR R4 JSON)"]
    assert "export_session" not in [action for _, action, _ in audit_actions(db_path)]

    store = SessionStore(db_path)
    html = build_report(store, session_id, anna, "html").decode("utf-8")
    assert "<html" in html.lower() and "C-001" in html
    pdf = build_report(store, session_id, anna, "pdf")
    assert pdf.startswith(b"%PDF")
    bundle = json.loads(build_report(store, session_id, anna, "fhir"))
    assert bundle["resourceType"] == "Bundle"
    kinds = {entry["resource"]["resourceType"] for entry in bundle["entry"]}
    assert {"Patient", "Consent", "Observation", "DocumentReference"} <= kinds

    export = _audited_export(
        audit_log(), anna, session_id, "report pdf",
        lambda: build_report(store, session_id, anna, "pdf"),
    )
    assert export().startswith(b"%PDF")
    assert ("anna", "export_session", f"session {session_id}") in audit_actions(db_path)
    with pytest.raises(SessionNotFoundError):
        build_report(store, session_id, bert, "html")


def test_a_one_picture_session_shows_a_table_not_a_timeline(db_path):
    anna = make_user(db_path, "anna", "clinician")
    store = SessionStore(db_path)
    consent = store.record_consent("Client")
    probs = np.full(len(CLASSES), 0.05, np.float32)
    probs[CLASSES.index("surprise")] = 0.7
    store.create_session(
        consent.id, "tiny", CLASSES, "image",
        frames=[FrameRecord(0.0, 0, (0, 0, 48, 48), probs, probs, "surprise", 0.7)],
        owner_id=anna.id,
    )
    at = open_replay(anna)
    assert not at.get("plotly_chart")
    table = next(t.value for t in at.dataframe if "Probability" in t.value.columns)
    assert list(table["Expression"]) == CLASSES
    (label,) = at.selectbox(key="replay.session").options
    assert label.endswith(" · uploaded picture · 1 face result"), label
    assert any("surprise" in text.value for text in at.text)
    labels = [button.proto.label for button in at.get("download_button")]
    assert "Report (PDF)" in labels


def test_insights_are_computed_once_while_the_session_stays_the_same(db_path, monkeypatch):
    import fer.sessions.insights

    computed = []
    original = fer.sessions.insights.session_insights

    def counting(frames, markers):
        computed.append(len(frames))
        return original(frames, markers)

    monkeypatch.setattr(fer.sessions.insights, "session_insights", counting)
    anna = make_user(db_path, "anna", "clinician")
    signal_session(db_path, anna)
    at = open_replay(anna)
    at.slider(key="replay.moment").set_value(4.0).run()
    at.slider(key="replay.interval").set_value(60).run()
    assert not at.exception, at.exception
    assert computed == [40]
