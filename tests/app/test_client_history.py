"""The Client history page: a clinician picks among the client codes of sessions they may see,
gets only those sessions (by code, never the name) and the trends across them; a reviewer
cannot open it."""

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
from fer.sessions.records import FrameRecord
from fer.sessions.schema import MAX_NAME_LENGTH
from fer.sessions.store import SessionStore
from ui.navigation import specs_for

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "8_Client_history.py")
CLASSES = list(FER2013.names)


def client_session(db_path: Path, owner, code: str, name: str, days_ago: int, label: str) -> int:
    store = SessionStore(db_path)
    started = datetime.now(UTC) - timedelta(days=days_ago)
    consent = store.record_consent(name, client_code=code, given_at=started)
    probs = np.full(len(CLASSES), 0.05, np.float32)
    probs[CLASSES.index(label)] = 0.7
    frames = [
        FrameRecord(step / 2, 0, (0, 0, 48, 48), probs, probs, label, 0.7,
                    valence=0.3, arousal=0.1, action_units={"AU12": 0.1 * (step % 3)})
        for step in range(12)
    ]
    return store.create_session(
        consent.id, "tiny", CLASSES, "video", frames=frames, owner_id=owner.id,
        started_at=started, ended_at=started + timedelta(seconds=6),
    )


def open_history(user) -> AppTest:
    at = log_in(AppTest.from_file(PAGE, default_timeout=120), user).run()
    assert not at.exception, at.exception
    return at


def test_a_clinician_sees_only_their_clients_sessions_and_trends(db_path):
    anna = make_user(db_path, "anna", "clinician")
    bert = make_user(db_path, "bert", "clinician")
    first = client_session(db_path, anna, "C-007", "Carla Secret", 14, "happy")
    second = client_session(db_path, anna, "C-007", "Carla Secret", 7, "sad")
    client_session(db_path, bert, "C-999", "Other Person", 3, "angry")
    client_session(db_path, bert, "C-007", "Carla Secret", 1, "angry")  # Bert's, not shared
    at = open_history(anna)
    assert list(at.selectbox(key="history.client").options) == ["C-007"]
    (table,) = [t.value for t in at.dataframe if "session" in t.value.columns]
    assert list(table["session"]) == [f"#{first}", f"#{second}"]
    everything = json.dumps(
        [str(t.value.to_dict()) for t in at.dataframe]
        + [e.proto.spec for e in at.get("plotly_chart")]
        + [t.value for t in at.text] + [m.value for m in at.markdown]
    )
    assert "Carla" not in everything and "Secret" not in everything
    assert any("descriptive, not diagnostic" in c.value for c in at.caption)
    charts = at.get("plotly_chart")
    assert len(charts) == 2
    shares = json.loads(charts[0].proto.spec)
    assert {trace["name"] for trace in shares["data"]} == {"happy", "sad"}
    assert ("anna", "view_client_history", "client C-007") in audit_actions(db_path)


def test_a_reviewer_cannot_open_client_history(db_path):
    reviewer = make_user(db_path, "rita", "reviewer")
    at = log_in(AppTest.from_file(PAGE, default_timeout=120), reviewer).run()
    assert not at.selectbox
    assert not at.dataframe
    assert "pages/8_Client_history.py" not in [spec.path for spec in specs_for("reviewer")]
    assert "pages/8_Client_history.py" in [spec.path for spec in specs_for("clinician")]
    assert "pages/8_Client_history.py" in [spec.path for spec in specs_for("admin")]


def test_without_client_codes_the_page_says_so(db_path):
    anna = make_user(db_path, "anna", "clinician")
    at = open_history(anna)
    assert any("client code" in info.value for info in at.info)


@pytest.mark.parametrize(
    ("code", "stored"),
    [("C" * MAX_NAME_LENGTH, "C" * MAX_NAME_LENGTH), ("C-\u202e7" * 40, "C-7" * 40),
     ("e\u0301" * 100, "\u00e9" * 100)],
    ids=["longest", "format characters", "accents"],
)
def test_any_client_code_the_consent_form_takes_opens_its_history(db_path, code, stored):
    anna = make_user(db_path, "anna", "clinician")
    client_session(db_path, anna, code, "Carla Secret", 3, "happy")
    at = open_history(anna)
    assert at.selectbox(key="history.client").value == stored  # direction overrides dropped
    assert [t for t in at.dataframe if "session" in t.value.columns]
    ((actor, action, target),) = [
        entry for entry in audit_actions(db_path) if entry[1] == "view_client_history"
    ]
    assert (actor, target) == ("anna", "client " + stored)
