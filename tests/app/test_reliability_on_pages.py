"""The expressions a model cannot be trusted on (fer.models.reliability) are marked where a
clinician reads them: the Live headline, Session replay's share of time, and the report of a
session recorded under the model's label with its test-time views (``"fer2013, tta
mirror+zoom"``), which names the shipped model only after the views are taken off."""

from tests.app.test_session_replay_insights import (  # isort: skip  (imports webrtc first)
    CLASSES,
    open_replay,
    signal_session,
)

from types import SimpleNamespace

import numpy as np
import pytest

from fer.config import MODELS_DIR
from fer.models.cards import recorded_model_dir
from fer.models.reliability import model_reliability
from fer.sessions.store import SessionStore
from tests.app.page_support import make_user
from ui.readout import headline
from ui.sessions import build_report

RECORDED = "fer2013, tta mirror+zoom"


@pytest.mark.parametrize(
    ("recorded", "expected"),
    [
        ("fer2013", "fer2013"),
        (RECORDED, "fer2013"),
        ("ferplus v2, tta mirror", "ferplus"),
        ("ferplus_balanced", "ferplus_balanced"),
        ("a model no longer installed, tta mirror", None),
    ],
)
def test_the_recorded_label_names_the_installed_model(recorded, expected):
    found = recorded_model_dir(recorded)
    assert found == (None if expected is None else MODELS_DIR / expected)


def test_the_shipped_fer2013_model_has_unreliable_expressions():
    """The premise of the page tests below (its robustness results say so)."""
    assert "sad" in model_reliability(MODELS_DIR / "fer2013")


def test_the_live_headline_says_to_read_an_unreliable_label_with_caution():
    probs = np.full(len(CLASSES), 0.05, np.float32)
    probs[CLASSES.index("sad")] = 0.7
    face = SimpleNamespace(label="sad", smoothed=probs, track_id=0)
    assert headline(face, CLASSES, {"sad": "why"}).endswith("read with caution")
    assert "caution" not in headline(face, CLASSES, {"disgust": "why"})
    assert "caution" not in headline(face, CLASSES)


def test_the_live_headline_says_when_a_face_is_too_bright_to_read():
    from fer.realtime.pipeline import FaceResult

    probs = np.full(len(CLASSES), 0.05, np.float32)
    probs[CLASSES.index("happy")] = 0.7

    def face(clipped_share):
        return FaceResult(
            track_id=1, bbox=(0, 0, 48, 48), probs=probs, smoothed=probs, label="happy",
            confidence=0.7, clipped_share=clipped_share,
        )

    assert headline(face(0.45), CLASSES).endswith("face too bright: less reliable")
    assert "too bright" not in headline(face(0.02), CLASSES)
    assert "too bright" not in headline(face(None), CLASSES)
    both = headline(face(0.45), CLASSES, {"happy": "why"})
    assert both.endswith("read with caution · face too bright: less reliable")


def test_session_replay_marks_the_unreliable_expressions_of_the_recorded_model(db_path):
    anna = make_user(db_path, "anna", "clinician")
    signal_session(db_path, anna, model=RECORDED)  # happy, then sad
    at = open_replay(anna)
    shares = next(
        table.value for table in at.dataframe if "share of time" in table.value.columns
    )
    reliability = dict(zip(shares["expression"], shares["reliability"], strict=True))
    assert reliability["sad"].startswith("read with caution: recognised")
    assert reliability["happy"] == ""


def test_the_report_of_a_live_session_marks_the_unreliable_expressions(db_path):
    anna = make_user(db_path, "anna", "clinician")
    session_id = signal_session(db_path, anna, model=RECORDED)
    html = build_report(SessionStore(db_path), session_id, anna, "html").decode("utf-8")
    assert "unreliable: recognised" in html
