"""The Live page's clinical signals and markers: the top action units with plain names, head
pose, the valence/arousal trail on the circumplex, and "Mark moment" (only while recording; the
marker lands in the store at the recording's time with its note)."""

from tests.app.page_support import (  # isort: skip  (imports webrtc first)
    log_in,
    make_user,
    webrtc_without_runtime,  # noqa: F401  (fixture)
)

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from fer.sessions.recorder import SessionRecorder
from fer.sessions.store import SessionStore
from ui.live import LiveProcessor, LiveUpdate
from ui.readout import LiveHistory, circumplex_plot, signal_lines, top_action_units

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "1_Live.py")
CLASSES = ["neutral", "happy", "surprise", "sad", "angry", "disgust", "fear", "contempt"]
NOTE = "**looked away** :red[x]"

pytestmark = pytest.mark.usefixtures("webrtc_without_runtime")


def face(t_index: int = 0, action_units=None, valence=0.2, arousal=0.1, head_pose=None):
    probs = np.full(len(CLASSES), 1 / len(CLASSES), np.float32)
    return SimpleNamespace(
        track_id=0, smoothed=probs, label="neutral", confidence=0.2,
        action_units=action_units, valence=valence, arousal=arousal, head_pose=head_pose,
    )


def test_top_action_units_have_plain_names_and_skip_inactive_ones():
    units = {"AU4": 0.7, "AU12": 0.05, "AU1": 0.3, "AU26": 0.5, "AU6": 0.2}
    top = top_action_units(units)
    assert [name for name, _ in top] == [
        "brow lowerer (AU4)",
        top_action_units({"AU26": 1.0})[0][0],
        top_action_units({"AU1": 1.0})[0][0],
    ]
    assert [value for _, value in top] == [0.7, 0.5, 0.3]
    assert top_action_units(None) == [] and top_action_units({"AU4": 0.01}) == []


def test_signal_lines_show_action_units_and_head_pose():
    lines = signal_lines(
        face(action_units={"AU4": 0.62}, head_pose={"yaw": 12.4, "pitch": -3.0, "roll": 0.4})
    )
    assert lines[0] == "Action units: brow lowerer (AU4) 62%"
    assert lines[1] == "Head pose: yaw +12° · pitch -3° · roll +0°"
    assert "not available" in signal_lines(face(action_units=None))[0]


def test_the_trail_keeps_the_last_seconds_of_valence_and_arousal():
    history = LiveHistory(CLASSES, span_s=30.0, trail_s=10.0)
    history.extend(
        [LiveUpdate(t / 2, (face(valence=t / 100, arousal=-t / 100),), 5.0, 15.0)
         for t in range(60)]
    )
    trail = history.trail(0)
    assert trail["t_seconds"].min() == pytest.approx(19.5) and trail["t_seconds"].max() == 29.5
    assert trail["valence"].iloc[-1] == pytest.approx(0.59)
    history.extend([LiveUpdate(30.0, (face(valence=None, arousal=None),), 5.0, 15.0)])
    assert len(history.trail(0)) == len(trail) - 1  # no signal, no point; old ones age out
    figure = circumplex_plot(trail, "trail")
    point = figure.data[-1]
    assert list(point.x) == [pytest.approx(0.59)] and list(point.y) == [pytest.approx(-0.59)]
    assert "happy" in list(figure.data[0].text)


def test_a_stream_clock_that_starts_again_drops_the_earlier_trail():
    history = LiveHistory(CLASSES, span_s=30.0, trail_s=10.0)
    history.extend([LiveUpdate(t / 2, (face(valence=0.5, arousal=0.1),), 5.0, 15.0)
                    for t in range(120)])  # a minute before a pause
    history.extend([LiveUpdate(t / 10, (face(valence=-0.5, arousal=0.1),), 5.0, 15.0)
                    for t in range(30)])  # three seconds after the camera came back
    trail = history.trail(0)
    assert trail["t_seconds"].max() == pytest.approx(2.9) and len(trail) == 30
    assert (trail["valence"] == -0.5).all() and len(history) == 30


def marker_script(page: str, db_path: str) -> None:
    import importlib.util

    import streamlit as st

    from fer.sessions.store import SessionStore

    spec = importlib.util.spec_from_file_location("live_page", page)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.marker_controls(SessionStore(db_path), st.session_state["auth.user"])


@pytest.fixture
def marker_page(tmp_path):
    db_path = tmp_path / "sessions.db"
    user = make_user(db_path, "dana.clinician", "clinician")
    at = AppTest.from_function(marker_script, args=(PAGE, str(db_path)), default_timeout=60)
    log_in(at, user)
    return at, db_path, user


def test_mark_moment_is_disabled_without_a_recording(marker_page):
    at, _, _ = marker_page
    at.session_state["live.processor"] = LiveProcessor()
    at.run()
    assert not at.exception, at.exception
    assert at.button(key="live.mark").disabled
    assert any("while a session is being recorded" in c.value for c in at.caption)


def test_mark_moment_stores_a_marker_with_its_note_while_recording(marker_page):
    at, db_path, user = marker_page
    store = SessionStore(db_path)
    consent = store.record_consent("Dana")
    session_id = store.create_session(consent.id, "tiny", CLASSES, "live", owner_id=user.id)
    live = LiveProcessor()
    live.start_recording(SessionRecorder(store, session_id))
    at.session_state["live.processor"] = live
    at.run()
    assert not at.button(key="live.mark").disabled
    at.text_input(key="live.marker_note").input(NOTE)
    at.button(key="live.mark").click().run()
    assert not at.exception, at.exception
    markers = store.list_markers(session_id, viewer=user)
    assert list(markers["note"]) == [NOTE]
    assert 0 <= float(markers["t_seconds"].iloc[0]) < 60
    assert at.text_input(key="live.marker_note").value == ""  # ready for the next moment
    (success,) = at.success
    assert "Moment marked at" in success.value and "\\*\\*looked away" in success.value
    assert at.text_input(key="live.marker_note").proto.max_chars == 200


def test_the_real_pipeline_gives_signals_on_the_test_face(tiny_model_dir):
    from fer.realtime.pipeline import EmotionRecognizer
    from tests.app.page_support import face_frame_bgr
    from ui.resources import landmarker_path

    recognizer = EmotionRecognizer(model=str(tiny_model_dir), landmarker_path=landmarker_path())
    (result,) = recognizer.process(face_frame_bgr(), 0.0)
    assert result.action_units is not None and result.head_pose is not None
    assert signal_lines(result)[0].startswith("Action units:")
    assert -1 <= result.valence <= 1 and -1 <= result.arousal <= 1


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory) -> Path:
    from tests.app.page_support import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny")
