"""The Live page: the consent gate, the frame processor and the ICE configuration.

AppTest cannot play video, so the page test checks what is rendered and stored around the
webrtc component (with the component's session lookup patched, see the shared README); the frame
callback is tested directly with a real frame, and the browser test covers the whole path.
"""

from tests.app.page_support import (  # isort: skip  (imports webrtc first)
    audit_actions,
    build_tiny_model,
    face_frame_bgr,
    log_in,
    make_user,
    rows,
    webrtc_without_runtime,  # noqa: F401  (fixture)
)

import queue
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from fer.sessions.recorder import SessionRecorder
from fer.sessions.store import SessionStore
from ui.live import LiveHistory, LiveProcessor, LiveUpdate, drain, rtc_configuration

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "1_Live.py")
CLASSES = ["neutral", "happy", "surprise", "sad", "angry", "disgust", "fear", "contempt"]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny")


pytestmark = pytest.mark.usefixtures("webrtc_without_runtime")


@pytest.fixture
def db_path(tmp_path, monkeypatch, tiny_model) -> Path:
    path = tmp_path / "sessions.db"
    monkeypatch.setenv("FER_SESSION_DB", str(path))
    monkeypatch.setenv("FER_MODEL", str(tiny_model))
    for name in ("FER_ICE_SERVERS", "FER_TURN_URL", "FER_TURN_USERNAME", "FER_TURN_CREDENTIAL"):
        monkeypatch.delenv(name, raising=False)
    make_user(path, "dana.clinician", "clinician")
    return path


def open_page(db_path: Path, name: str = "dana.clinician") -> AppTest:
    """The Live page, logged in as ``name``."""
    from fer.accounts import AccountStore

    user = AccountStore(db_path).get_user_by_name(name)
    return log_in(AppTest.from_file(PAGE, default_timeout=120), user).run()


def webrtc_components(at: AppTest) -> list:
    return [
        node for node in at.get("component_instance")
        if "webrtc" in node.proto.component_name.lower()
    ]


def give_consent(at: AppTest, name: str = "Dana Client", tick: bool = True) -> AppTest:
    at.text_input(key="live.consent_name").input(name)
    at.checkbox(key="live.consent_checkbox").set_value(tick)
    return at.button(key="live.consent_button").click().run()


def test_before_consent_there_is_no_camera_and_nothing_is_stored(db_path):
    at = open_page(db_path)
    assert not at.exception
    assert webrtc_components(at) == []
    assert "consent" in " ".join(element.value for element in at.markdown).lower()
    assert rows(db_path, "consents") == 0 and rows(db_path, "sessions") == 0


@pytest.mark.parametrize(("name", "tick", "message"), [("", True, "name"), ("Dana", False, "box")])
def test_incomplete_consent_is_refused(db_path, name, tick, message):
    at = give_consent(open_page(db_path), name, tick)
    assert not at.exception
    assert any(message in error.value for error in at.error)
    assert webrtc_components(at) == []
    assert rows(db_path, "consents") == 0


def test_after_consent_the_camera_is_offered(db_path):
    at = give_consent(open_page(db_path))
    assert not at.exception, at.exception
    assert len(webrtc_components(at)) == 1
    assert any("Dana Client" in text.value for text in at.text)
    store = SessionStore(db_path)
    (consent,) = [store.get_consent(1)]
    assert consent.given_by == "Dana Client"
    assert rows(db_path, "sessions") == 0  # nothing is recorded until recording starts
    start = at.button(key="live.record_start")
    assert start.disabled  # the camera is not playing in AppTest


def test_the_prediction_views_setting_rebuilds_the_recognizer(db_path):
    at = give_consent(open_page(db_path))
    assert at.session_state["live.recognizer"].tta == "mirror+zoom"  # the default
    at = at.selectbox(key="live.tta").set_value("none").run()
    assert not at.exception, at.exception
    assert at.session_state["live.recognizer"].tta == "none"


def test_withdrawing_consent_closes_the_camera(db_path):
    at = give_consent(open_page(db_path))
    live = at.session_state["live.processor"]
    at = at.button(key="live.withdraw").click().run()
    assert not at.exception
    assert webrtc_components(at) == []
    assert live.process_bgr(face_frame_bgr()) is not None and live.stats.n_frames == 0
    assert SessionStore(db_path).get_consent(1).withdrawn_at is not None
    assert any("deleted" in info.value for info in at.info)
    actions = [action for _, action, _ in audit_actions(db_path)]
    assert actions == ["record_consent", "withdraw_consent"]


def test_a_recording_belongs_to_the_clinician_and_withdrawal_deletes_it(db_path, tiny_model):
    """What the Live page records is owned by the logged-in clinician; withdrawing with the
    default choice deletes it (the camera cannot play in AppTest, so the session the page would
    create is made with the page's own store call)."""
    at = give_consent(open_page(db_path))
    store = SessionStore(db_path)
    user = at.session_state["auth.user"]
    session_id = store.create_session(1, "tiny", CLASSES, "live", owner_id=user.id)
    assert store.get_session(session_id, viewer=user).owner_id == user.id
    at.radio(key="live.withdraw_choice").set_value("delete")
    at = at.button(key="live.withdraw").click().run()
    assert not at.exception
    assert store.list_sessions() == []
    assert rows(db_path, "frames") == 0


def test_withdrawing_but_keeping_the_sessions_says_so(db_path):
    at = give_consent(open_page(db_path))
    store = SessionStore(db_path)
    user = at.session_state["auth.user"]
    session_id = store.create_session(1, "tiny", CLASSES, "live", owner_id=user.id)
    at.radio(key="live.withdraw_choice").set_value("keep")
    at = at.button(key="live.withdraw").click().run()
    assert not at.exception
    assert any("policy requires" in info.value for info in at.info)
    (info,) = store.list_sessions()
    assert info.id == session_id and info.consent_withdrawn_at is not None


def test_a_consent_name_is_shown_as_plain_text(db_path):
    name = "![t](http://127.0.0.1:9/x.png) :red[Dana] $x^2$"
    at = give_consent(open_page(db_path), name=name)
    assert not at.exception
    assert any(name in text.value for text in at.text)
    rendered = " ".join(
        element.value for element in [*at.markdown, *at.success, *at.info, *at.caption]
    )
    assert "127.0.0.1:9" not in rendered


def test_a_missing_landmarker_is_reported(db_path, monkeypatch, tmp_path):
    import fer.config

    monkeypatch.setenv("FER_DATA_DIR", str(tmp_path))  # no face_landmarker.task here
    monkeypatch.setattr(fer.config, "LOCAL_DATA_DIR", tmp_path)
    at = give_consent(open_page(db_path))
    assert not at.exception, at.exception
    assert any("face_landmarker.task" in warning.value for warning in at.warning)
    assert len(webrtc_components(at)) == 1  # the Haar fallback still works


def test_a_malformed_ice_configuration_is_reported(db_path, monkeypatch):
    monkeypatch.setenv("FER_ICE_SERVERS", "[{not json")
    at = give_consent(open_page(db_path))
    assert any("FER_ICE_SERVERS" in error.value for error in at.error)
    assert webrtc_components(at) == []


def test_a_missing_model_is_reported(db_path, monkeypatch, tmp_path):
    monkeypatch.setenv("FER_MODEL", str(tmp_path / "no-such-model"))
    at = give_consent(open_page(db_path))
    assert any("Could not load the expression model" in error.value for error in at.error)
    assert webrtc_components(at) == []


# ------------------------------------------------------------------------------ ICE servers


def test_default_rtc_configuration_stays_offline():
    assert rtc_configuration({}) == {"iceServers": []}


def test_rtc_configuration_reads_ice_servers_and_turn():
    environ = {
        "FER_ICE_SERVERS": '[{"urls": "stun:stun.example.org:3478"}]',
        "FER_TURN_URL": "turn:turn.example.org:3478?transport=tcp",
        "FER_TURN_USERNAME": "clinic",
        "FER_TURN_CREDENTIAL": "secret",
    }
    assert rtc_configuration(environ) == {
        "iceServers": [
            {"urls": ["stun:stun.example.org:3478"]},
            {
                "urls": ["turn:turn.example.org:3478?transport=tcp"],
                "username": "clinic",
                "credential": "secret",
            },
        ]
    }
    wrapped = {"FER_ICE_SERVERS": '{"iceServers": [{"urls": ["turns:t.example.org"]}]}'}
    assert rtc_configuration(wrapped) == {"iceServers": [{"urls": ["turns:t.example.org"]}]}


@pytest.mark.parametrize(
    "environ",
    [
        {"FER_ICE_SERVERS": "{"},
        {"FER_ICE_SERVERS": '{"urls": "stun:x"}'},
        {"FER_ICE_SERVERS": '[{"urls": "http://x"}]'},
        {"FER_ICE_SERVERS": '[{"url": "stun:x"}]'},
        {"FER_TURN_URL": "turn:x", "FER_TURN_USERNAME": "only-name"},
        {"FER_TURN_USERNAME": "u", "FER_TURN_CREDENTIAL": "c"},
    ],
)
def test_malformed_rtc_configuration_is_refused(environ):
    with pytest.raises(ValueError, match="FER_"):
        rtc_configuration(environ)


# ------------------------------------------------------------------------ frame processing


class FakeRecognizer:
    def __init__(self, fail: bool = False):
        self.fail = fail
        self.times: list[float] = []

    def process(self, frame_bgr, t_seconds):
        if self.fail:
            raise RuntimeError("detector crashed")
        self.times.append(t_seconds)
        probs = np.full(len(CLASSES), 0.3 / (len(CLASSES) - 1), np.float32)
        probs[1] = 0.7
        return [
            SimpleNamespace(
                track_id=0, bbox=(100, 50, 120, 120), probs=probs, smoothed=probs,
                label="happy", confidence=0.7, landmarks=None, blendshapes=None,
            )
        ]


class StepClock:
    def __init__(self, step: float = 1 / 15):
        self.now, self.step = 1000.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def test_processor_hands_results_to_a_bounded_queue_and_draws():
    live = LiveProcessor(queue_size=3, clock=StepClock())
    frame = np.zeros((360, 640, 3), np.uint8)
    assert live.process_bgr(frame) is frame  # no recognizer yet: frame passes untouched
    recognizer = FakeRecognizer()
    live.configure(recognizer, show_landmarks=False)
    for _ in range(5):
        annotated = live.process_bgr(frame)
    assert annotated is not frame and annotated.any()  # box and label drawn on a copy
    assert not frame.any()
    assert live.stats.n_updates_dropped == 2 and live.updates.qsize() == 3
    updates = drain(live.updates, timeout_s=0.01)
    assert [len(update.results) for update in updates] == [1, 1, 1]
    assert updates[-1].fps == pytest.approx(15, rel=0.01)
    assert recognizer.times == sorted(recognizer.times) and recognizer.times[0] >= 0
    assert drain(live.updates, timeout_s=0.01) == []


def test_processor_reports_recognizer_errors_without_stopping():
    live = LiveProcessor(clock=StepClock())
    live.configure(FakeRecognizer(fail=True), show_landmarks=False)
    frame = np.zeros((360, 640, 3), np.uint8)
    assert live.process_bgr(frame) is frame
    (update,) = drain(live.updates, 0.01)
    assert "detector crashed" in update.error and live.stats.n_errors == 1


def test_recording_buffers_in_the_callback_and_the_page_writes(tmp_path):
    store = SessionStore(tmp_path / "sessions.db")
    consent = store.record_consent("Dana")
    session_id = store.create_session(consent.id, "tiny", CLASSES, "live")
    recorder = SessionRecorder(store, session_id)
    live = LiveProcessor(clock=StepClock(0.1))
    live.configure(FakeRecognizer(), show_landmarks=False)
    frame = np.zeros((120, 160, 3), np.uint8)
    live.process_bgr(frame)  # before recording: not stored
    live.start_recording(recorder)
    for _ in range(4):
        live.process_bgr(frame)
    assert recorder.n_pending == 4
    assert store.get_session(session_id).n_frames == 0  # the callback never writes SQLite
    assert live.stop_recording() is recorder and live.recorder is None
    live.process_bgr(frame)  # after stopping: not stored
    recorder.close()
    times = store.load_frames(session_id)["t_seconds"].tolist()
    assert times == pytest.approx([0.1, 0.2, 0.3, 0.4])


def test_history_keeps_the_last_span():
    history = LiveHistory(CLASSES, span_s=1.0)
    result = FakeRecognizer().process(None, 0)[0]
    history.extend([LiveUpdate(t / 10, (result,), 5.0, 15.0) for t in range(30)])
    frame = history.frame()
    assert frame["t_seconds"].min() == pytest.approx(1.9) and frame["t_seconds"].max() == 2.9
    assert list(frame.columns[2:]) == [f"smoothed_{name}" for name in CLASSES]


def test_the_frame_callback_runs_the_real_pipeline(tiny_model):
    import av

    from fer.realtime.pipeline import EmotionRecognizer
    from ui.resources import landmarker_path

    frame_bgr = face_frame_bgr()
    recognizer = EmotionRecognizer(model=str(tiny_model), landmarker_path=landmarker_path())
    live = LiveProcessor()
    live.configure(recognizer, show_landmarks=True)
    for _ in range(3):
        output = live(av.VideoFrame.from_ndarray(frame_bgr, format="bgr24"))
    annotated = output.to_ndarray(format="bgr24")
    assert annotated.shape == frame_bgr.shape and not np.array_equal(annotated, frame_bgr)
    updates = drain(live.updates, 0.01)
    assert len(updates) == 3 and all(update.error is None for update in updates)
    (face,) = updates[-1].results
    assert face.label in CLASSES + ["uncertain"]
    assert sum(face.smoothed) == pytest.approx(1, abs=1e-3)
    with pytest.raises(queue.Empty):
        live.updates.get_nowait()
