"""Shared helpers for the page tests and the browser test.

A tiny untrained FER+ model is built on the fly so the page tests do not depend on a published
model (the plumbing is under test, not accuracy); a real face frame is grabbed from the shared
video in ``$FER_DATA_DIR``. Accounts are made in the test's database with ``AccountStore`` and a
page is "logged in" the way ``ui.auth.log_in`` does it: the user and the time of the last
activity in the session state.
"""

# The pages import streamlit_webrtc (aiortc) first; TensorFlow/MediaPipe before it segfaults.
import streamlit_webrtc  # noqa: F401  # isort: skip

import json
import os
import sqlite3
import time
from pathlib import Path
from unittest import mock

import numpy as np
import pytest

SHARED_VIDEO = Path("videos") / "WolfgangLanger_Pexels.mp4"


def build_tiny_model(model_dir: Path) -> Path:
    """An untrained 8-class FER+ classifier with a card: enough to exercise the pipeline."""
    import keras

    from fer.emotions import FERPLUS
    from fer.models.zoo import build_classifier

    model_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(0)
    model = build_classifier("ziggy", len(FERPLUS))
    model.save(model_dir / "model.keras")
    card = {
        "name": "tiny-test",
        "version": "0",
        "classes": list(FERPLUS.names),
        "label_set": "ferplus",
        "intended_use": "tests only: untrained",
    }
    (model_dir / "card.json").write_text(json.dumps(card))
    return model_dir


def shared_data_dir() -> Path:
    value = os.environ.get("FER_DATA_DIR")
    if not value or not (Path(value) / SHARED_VIDEO).is_file():
        pytest.skip("FER_DATA_DIR is unset or lacks videos/WolfgangLanger_Pexels.mp4")
    return Path(value)


def face_frame_bgr(second: float = 2.0) -> np.ndarray:
    """A 640×360 BGR frame with the woman's face, from the shared video."""
    import cv2

    capture = cv2.VideoCapture(str(shared_data_dir() / SHARED_VIDEO))
    try:
        capture.set(cv2.CAP_PROP_POS_MSEC, second * 1000)
        ok, frame = capture.read()
    finally:
        capture.release()
    assert ok, "could not read a frame from the shared video"
    return frame


def png_bytes(frame_bgr: np.ndarray) -> bytes:
    import cv2

    ok, encoded = cv2.imencode(".png", frame_bgr)
    assert ok
    return encoded.tobytes()


@pytest.fixture
def webrtc_without_runtime():
    """AppTest has no Runtime session manager; the component treats None as "no session info"."""
    with mock.patch("streamlit_webrtc.component.get_this_session_info", return_value=None):
        yield


def rows(path: Path, table: str) -> int:
    """Row count of ``table`` in the SQLite file at ``path`` (0 if the file does not exist)."""
    if not path.exists():
        return 0
    with sqlite3.connect(path) as connection:
        return connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


PASSWORD = "correct horse battery"  # at least 12 characters, as AccountStore requires


def make_user(location, name: str, role: str, password: str = PASSWORD):
    """A user in the database at ``location`` (created if missing)."""
    from fer.accounts import AccountStore

    return AccountStore(location).add_user(name, role, password)


def log_in(at, user):
    """Put ``user`` in the AppTest's session state as ``ui.auth.log_in`` does; returns ``at``."""
    at.session_state["auth.user"] = user
    at.session_state["auth.last_activity"] = time.monotonic()
    return at


def audit_actions(location) -> list[tuple[str, str, str]]:
    """(actor, action, target) of every audit entry, oldest first."""
    from fer.accounts import AuditLog

    entries = AuditLog(location).entries()
    return [
        (row.actor, row.action, row.target) for row in entries.iloc[::-1].itertuples(index=False)
    ]


def record_session(location, owner, name: str = "Test Client", notes: str = "",
                   model: str = "tiny", n_frames: int = 10) -> int:
    """A finished video session of ``owner`` (a User) with ``n_frames`` frames of one face."""
    from fer.emotions import FER2013
    from fer.sessions.records import FrameRecord
    from fer.sessions.store import SessionStore

    classes = list(FER2013.names)
    store = SessionStore(location)
    consent = store.record_consent(name)
    probs = np.full(len(classes), 0.1, np.float32)
    probs[classes.index("happy")] = 0.4
    frames = [
        FrameRecord(step / 2, 0, (0, 0, 48, 48), probs, probs, "happy", 0.4)
        for step in range(n_frames)
    ]
    return store.create_session(
        consent.id, model, classes, "video", notes=notes, frames=frames,
        owner_id=None if owner is None else owner.id,
    )


class ManualClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now
