"""Every page speaks a clinician's language: each page is rendered (AppTest) with content in it
and fails if a known code name (a column or option name of the code) appears in its visible
text, its table headers or its figures, or if a table header is a snake_case identifier.
The CSV and JSON exports keep their machine column names (checked here too)."""

from tests.app.page_support import (  # isort: skip  (imports webrtc first)
    build_tiny_model,
    face_frame_bgr,
    log_in,
    make_user,
    png_bytes,
    shared_data_dir,
    webrtc_without_runtime,  # noqa: F401  (fixture)
)

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from fer import config
from fer.emotions import FER2013
from fer.evaluation.evaluation_file import add_reports
from fer.sessions.records import FrameRecord
from fer.sessions.store import SessionStore
from tests.research_fixtures import synthetic_report, write_report

ROOT = Path(__file__).resolve().parents[2]
# Read once here (the test edge): the workspace fixture unsets it.
DATA_DIR = config.data_dir_from_env(required=False)
TIMEOUT = 120
CLASSES = list(FER2013.names)
# What the issue found on the pages, and the other column names of the tables they show.
CODE_NAMES = (
    "track_id", "t_seconds", "predominant_share", "n_transitions", "n_frames", "start_s",
    "end_s", "duration_s", "longest_s", "longest_emotion", "from_emotion", "to_emotion",
    "macro_f1", "n_samples", "pixel_mean", "pixel_std", "n_images", "row_id", "group_size",
    "is_blank", "smoothed_", "prob_", "view_session", "Face (track)", "track 0", ", tta ",
    "tta mirror+zoom", "1 frames", "PC1", "PC2",
)
SNAKE_CASE = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)+$")
# Proto fields a user reads (labels, bodies, options, help); ids and URLs are left out.
VISIBLE_FIELDS = {"body", "label", "options", "text", "help", "placeholder", "caption", "delta"}

pytestmark = pytest.mark.usefixtures("webrtc_without_runtime")


def proto_strings(message, out: list[str]) -> None:
    for field, value in message.ListFields():
        values = value if field.is_repeated else [value]
        if field.type == field.TYPE_MESSAGE:
            for item in values:
                proto_strings(item, out)
        elif field.type == field.TYPE_STRING and field.name in VISIBLE_FIELDS:
            out.extend(item for item in values if item)


def figure_strings(spec: dict, out: list[str]) -> None:
    """Titles, axis titles, legend entries and category labels of a Plotly figure."""
    layout = spec.get("layout", {})
    titles = [layout.get("title")] + [
        part.get("title") for part in layout.values() if isinstance(part, dict)
    ]
    for title in titles:
        text = title.get("text") if isinstance(title, dict) else title
        if text:
            out.append(str(text))
    for trace in spec.get("data", []):
        out.append(str(trace.get("name", "")))
        for axis in ("x", "y"):
            values = trace.get(axis)
            if isinstance(values, list):
                out.extend(value for value in values if isinstance(value, str))


def visible(at: AppTest) -> tuple[list[str], list[str]]:
    """(every string a user can read on the page, the table headers among them)."""
    strings: list[str] = []
    headers: list[str] = []

    def walk(node) -> None:
        kind = getattr(node, "type", "")
        proto = getattr(node, "proto", None)
        if kind in ("arrow_data_frame", "dataframe", "table"):
            table = node.value
            headers.extend(str(column) for column in table.columns)
            headers.extend(str(name) for name in table.index.names if name is not None)
            strings.extend(str(cell) for cell in table.astype(str).to_numpy().ravel())
        elif kind == "plotly_chart":
            figure_strings(json.loads(proto.spec), strings)
        elif proto is not None:
            proto_strings(proto, strings)
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return strings + headers, headers


def assert_in_words(at: AppTest, page: str) -> None:
    assert not at.exception, [exception.value for exception in at.exception]
    strings, headers = visible(at)
    found = sorted({name for name in CODE_NAMES for text in strings if name in text})
    assert not found, f"{page} shows code names {found}"
    snake = sorted({header for header in headers if SNAKE_CASE.match(header)})
    assert not snake, f"{page} has table headers {snake}"


def open_page(name: str, user) -> AppTest:
    return log_in(AppTest.from_file(str(ROOT / name), default_timeout=TIMEOUT), user).run()


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """A model with saved reports (keras and TFLite, as published), a strategy comparison run,
    and a database with a clinician's video session (signals, a marker, a client code) and a
    one-picture session, recorded under the model name the pipeline writes."""
    monkeypatch.setattr(config, "MODELS_DIR", tmp_path / "models")
    monkeypatch.setattr(config, "STRATEGY_COMPARISON_DIR", tmp_path / "strategy_comparison")
    monkeypatch.delenv(config.DATA_DIR_ENV, raising=False)
    db = tmp_path / "sessions.db"
    monkeypatch.setenv("FER_SESSION_DB", str(db))
    model_dir = tmp_path / "models" / "tiny"
    model_dir.mkdir(parents=True)
    (model_dir / "card.json").write_text(
        json.dumps({"name": "tiny", "label_set": "fer2013", "classes": CLASSES})
    )
    add_reports(model_dir, [
        synthetic_report(), synthetic_report(seed=2) | {"backend": "tflite"},
    ])
    write_report(
        tmp_path / "strategy_comparison" / "ziggy_none.json",
        synthetic_report(seed=1) | {"model": "compare/ziggy_none", "epochs_run": 2},
    )
    users = {
        role: make_user(db, f"{role}.one", role) for role in ("clinician", "reviewer", "admin")
    }
    store = SessionStore(db)
    consent = store.record_consent(
        "Client", client_code="C-001", given_at=datetime.now(UTC) - timedelta(minutes=10)
    )
    frames = []
    for step in range(40):
        label = "happy" if step < 20 else "sad"
        probs = np.full(len(CLASSES), 0.05, np.float32)
        probs[CLASSES.index(label)] = 0.7 - 0.01 * (step % 5)
        frames.append(FrameRecord(
            step / 2, 0, (0, 0, 48, 48), probs, probs, label, 0.7,
            valence=0.5 if label == "happy" else -0.4, arousal=0.1,
            action_units={"AU4": 0.8 if step == 30 else 0.1, "AU12": 0.2},
            head_pose={"yaw": 1.0, "pitch": 0.0, "roll": 0.0},
        ))
    # As fer.models.cards.recorded_model_label records the pipeline's views.
    model = "ferplus, tta mirror+zoom"
    video = store.create_session(
        consent.id, model, CLASSES, "video", frames=frames, owner_id=users["clinician"].id,
        started_at=datetime.now(UTC) - timedelta(minutes=5),
    )
    store.add_marker(video, 15.0, note="looked away", created_by=users["clinician"])
    store.end_session(video)
    picture = store.create_session(
        consent.id, model, CLASSES, "image", owner_id=users["clinician"].id,
        frames=[FrameRecord(0.0, 0, (0, 0, 48, 48), frames[0].probs, frames[0].probs, "happy",
                            0.7)],
    )
    return {"db": db, "users": users, "video": video, "picture": picture}


def test_the_clinician_pages_speak_in_words(workspace):
    clinician = workspace["users"]["clinician"]
    at = open_page("app.py", clinician)
    assert_in_words(at, "Home")
    at = open_page("pages/5_Session_replay.py", clinician)
    at.selectbox(key="replay.session").set_value(workspace["video"]).run()
    assert_in_words(at, "Session replay of a video")
    summary = next(t.value for t in at.dataframe if "Changes of expression" in t.value.columns)
    assert list(summary["Face"]) == ["Face 0"]
    assert list(summary["Share of time"]) == ["50%"]
    assert list(summary["Changes of expression"]) == [1]
    at.selectbox(key="replay.session").set_value(workspace["picture"]).run()
    assert_in_words(at, "Session replay of a picture")
    at = open_page("pages/8_Client_history.py", clinician)
    assert_in_words(at, "Client history")


def test_the_research_and_admin_pages_speak_in_words(workspace):
    reviewer, admin = workspace["users"]["reviewer"], workspace["users"]["admin"]
    at = open_page("pages/3_Evaluation.py", reviewer)
    assert_in_words(at, "Evaluation")
    at = open_page("pages/4_Clusters.py", admin)
    at.radio(key="clusters.source").set_value("Recorded session").run()
    at.selectbox(key="clusters.session").set_value(workspace["video"]).run()
    assert_in_words(at, "Clusters")
    at = open_page("pages/7_Admin.py", admin)
    assert_in_words(at, "Admin")


@pytest.mark.data
@pytest.mark.skipif(DATA_DIR is None, reason="needs FER_DATA_DIR")
def test_the_dataset_page_speaks_in_words(workspace, monkeypatch):
    monkeypatch.setenv(config.DATA_DIR_ENV, str(DATA_DIR))
    at = open_page("pages/6_Dataset.py", workspace["users"]["reviewer"])
    assert_in_words(at, "Dataset")


def test_the_exports_keep_their_machine_column_names(workspace):
    store = SessionStore(workspace["db"])
    header = store.export_csv(workspace["video"]).splitlines()[0].split(",")
    assert {"t_seconds", "track_id", "label", "confidence"} <= set(header)


@pytest.mark.data
@pytest.mark.skipif(DATA_DIR is None, reason="needs FER_DATA_DIR")
def test_the_upload_result_speaks_in_words(workspace, tmp_path, monkeypatch):
    monkeypatch.setenv(config.DATA_DIR_ENV, str(DATA_DIR))
    shared_data_dir()  # the face landmarker and the face come from FER_DATA_DIR
    monkeypatch.setenv("FER_MODEL", str(build_tiny_model(tmp_path / "tiny-upload")))
    at = open_page("pages/2_Upload.py", workspace["users"]["clinician"])
    at.text_input(key="upload.consent_name").input("Dana Client")
    at.checkbox(key="upload.consent_checkbox").set_value(True)
    at = at.button(key="upload.consent_button").click().run()
    at.file_uploader(key="upload.file").set_value(
        ("client.png", png_bytes(face_frame_bgr()), "image/png")
    )
    at = at.run().button(key="upload.analyse").click().run()
    assert not at.error, [error.value for error in at.error]
    assert_in_words(at, "Upload")
    table = at.dataframe[0].value
    assert list(table.columns[:3]) == ["Face", "Expression", "Confidence"]
    # Plain names: an emoji needs a font the browser may not have (an empty box).
    assert all(label.isascii() for label in table["Expression"])
