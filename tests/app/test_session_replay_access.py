"""Session replay with accounts: a clinician sees only their own (and shared) sessions, every
view and export is audited, exports are checked against the viewer when they are built, consent
withdrawal deletes or keeps (and says so), deletion needs a confirmation, names can be erased,
and user-given text is shown as plain text."""

from tests.app.page_support import (  # isort: skip  (imports webrtc first)
    audit_actions,
    log_in,
    make_user,
    rows,
)

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from fer.sessions.records import FrameRecord, SessionNotFoundError
from fer.sessions.store import SessionStore
from tests.research_fixtures import CLASSES
from tests.sessions.helpers import forget_deleted_session_ids

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "5_Session_replay.py")
TIMEOUT = 120
MARKDOWN_NAME = "![t](http://127.0.0.1:9/x.png) [link](http://127.0.0.1:9/) :red[Dana]"


@pytest.fixture
def clinicians(db_path):
    return make_user(db_path, "anna", "clinician"), make_user(db_path, "bert", "clinician")


def record(db_path: Path, owner, name: str = "Client of Anna", notes: str = "") -> int:
    """A finished session of ``owner`` with a few frames of one face."""
    store = SessionStore(db_path)
    consent = store.record_consent(name)
    probs = np.full(len(CLASSES), 0.1, np.float32)
    probs[3] = 0.4
    frames = [
        FrameRecord(t / 2, 0, (0, 0, 48, 48), probs, probs, "happy", 0.4) for t in range(10)
    ]
    return store.create_session(
        consent.id, "tiny", CLASSES, "video", notes=notes, frames=frames, owner_id=owner.id
    )


def open_replay(user) -> AppTest:
    at = log_in(AppTest.from_file(PAGE, default_timeout=TIMEOUT), user).run()
    assert not at.exception, at.exception
    return at


def session_options(at: AppTest) -> list[int]:
    boxes = [box for box in at.selectbox if box.key == "replay.session"]
    return list(boxes[0].options) if boxes else []


def test_a_clinician_sees_only_their_own_sessions(db_path, clinicians):
    anna, bert = clinicians
    mine = record(db_path, anna, "Client of Anna")
    record(db_path, bert, "Client of Bert")
    at = open_replay(anna)
    assert [int(option.split(" ")[0].lstrip("#")) for option in session_options(at)] == [mine]
    shown = " ".join(text.value for text in at.text)
    assert "Client of Anna" in shown and "Client of Bert" not in shown


def test_a_shared_session_becomes_visible(db_path, clinicians):
    anna, bert = clinicians
    session_id = record(db_path, bert, "Client of Bert")
    assert session_options(open_replay(anna)) == []
    SessionStore(db_path).share_session(session_id, anna.id)
    assert len(session_options(open_replay(anna))) == 1


def test_viewing_is_audited_once_per_login(db_path, clinicians):
    anna, _ = clinicians
    session_id = record(db_path, anna)
    at = open_replay(anna)
    at.slider(key="replay.interval").set_value(10).run()
    views = [entry for entry in audit_actions(db_path) if entry[1] == "view_session"]
    assert views == [("anna", "view_session", f"session {session_id}")]


def test_exports_are_built_when_pressed_checked_and_audited(db_path, clinicians):
    from ui.resources import audit_log
    from ui.sessions import _audited_export

    anna, bert = clinicians
    session_id = record(db_path, anna)
    at = open_replay(anna)
    labels = [button.proto.label for button in at.get("download_button")]
    assert labels[-2:] == ["Frames (CSV)", "Predominant emotion per 5 s (CSV)"]
    assert "export_session" not in [action for _, action, _ in audit_actions(db_path)]

    store = SessionStore(db_path)
    export = _audited_export(
        audit_log(), anna, session_id, "frames csv",
        lambda: store.export_csv(session_id, viewer=anna),
    )
    assert "t_seconds" in export().splitlines()[0]
    assert ("anna", "export_session", f"session {session_id}") in audit_actions(db_path)
    # Bert's button could never exist, and the store refuses his export if it were built.
    stolen = _audited_export(
        audit_log(), bert, session_id, "frames csv",
        lambda: store.export_csv(session_id, viewer=bert),
    )
    with pytest.raises(SessionNotFoundError):
        stolen()
    assert ("bert", "export_session", f"session {session_id}") not in audit_actions(db_path)


def test_withdrawal_deletes_by_default(db_path, clinicians):
    anna, _ = clinicians
    session_id = record(db_path, anna)
    at = open_replay(anna)
    assert at.radio(key="replay.withdraw_choice").value == "delete"
    at = at.button(key="replay.withdraw").click().run()
    assert not at.exception, at.exception
    assert any("deleted" in info.value for info in at.info)
    assert session_options(at) == [] and not at.get("download_button")
    assert SessionStore(db_path).list_sessions() == [] and rows(db_path, "frames") == 0
    actions = [action for _, action, _ in audit_actions(db_path)]
    assert actions[-1] == "withdraw_consent"
    with pytest.raises(SessionNotFoundError):
        SessionStore(db_path).export_csv(session_id)


def test_withdrawal_can_keep_the_session_and_says_so(db_path, clinicians):
    anna, _ = clinicians
    record(db_path, anna)
    at = open_replay(anna)
    at.radio(key="replay.withdraw_choice").set_value("keep")
    at = at.button(key="replay.withdraw").click().run()
    assert not at.exception, at.exception
    assert any("policy requires" in info.value for info in at.info)
    (warning,) = at.warning
    assert warning.value.startswith("Consent withdrawn at ")
    assert "policy requires" in warning.value
    assert len(session_options(at)) == 1
    assert not [button for button in at.button if button.key == "replay.withdraw"]


def test_deletion_needs_a_confirmation(db_path, clinicians):
    anna, _ = clinicians
    session_id = record(db_path, anna)
    at = open_replay(anna)
    at = at.button(key="replay.delete").click().run()
    assert any("Tick the box" in error.value for error in at.error)
    assert rows(db_path, "sessions") == 1
    at.checkbox(key="replay.delete_confirm").check()
    at = at.button(key="replay.delete").click().run()
    assert not at.exception, at.exception
    assert rows(db_path, "sessions") == 0 and rows(db_path, "frames") == 0
    assert any(f"Session #{session_id} was deleted" in info.value for info in at.info)
    assert ("anna", "delete_session", f"session {session_id}") in audit_actions(db_path)


def test_a_session_only_shared_with_a_clinician_is_not_theirs_to_delete(db_path, clinicians):
    anna, bert = clinicians
    session_id = record(db_path, bert, "Client of Bert")
    SessionStore(db_path).share_session(session_id, anna.id)
    at = open_replay(anna)
    at.checkbox(key="replay.delete_confirm").check()
    at = at.button(key="replay.delete").click().run()
    assert not at.exception, at.exception
    (error,) = at.error
    assert "Only the clinician who recorded session" in error.value
    assert rows(db_path, "sessions") == 1 and rows(db_path, "frames") == 10
    assert "delete_session" not in [action for _, action, _ in audit_actions(db_path)]


def test_a_name_can_be_erased_or_pseudonymised(db_path, clinicians):
    anna, _ = clinicians
    session_id = record(db_path, anna, "Dana Client")
    at = open_replay(anna)
    at.text_input(key="replay.erase_replacement").input("Client 17")
    at.checkbox(key="replay.erase_confirm").check()
    at = at.button(key="replay.erase").click().run()
    assert not at.exception, at.exception
    store = SessionStore(db_path)
    assert store.get_session(session_id).consent_by == "Client 17"
    assert any("Consent by Client 17" in text.value for text in at.text)
    at.text_input(key="replay.erase_replacement").input("")
    at.checkbox(key="replay.erase_confirm").check()
    at = at.button(key="replay.erase").click().run()
    assert store.get_session(session_id).consent_by.startswith("erased (consent ")
    erased = [entry for entry in audit_actions(db_path) if entry[1] == "erase_consent_name"]
    assert len(erased) == 2


def test_names_and_notes_are_plain_text(db_path, clinicians):
    anna, _ = clinicians
    record(db_path, anna, MARKDOWN_NAME, notes="Uploaded file: ![f](http://127.0.0.1:9/f.png)")
    at = open_replay(anna)
    texts = " ".join(text.value for text in at.text)
    assert MARKDOWN_NAME in texts and "![f](http://127.0.0.1:9/f.png)" in texts
    rendered = " ".join(
        element.value
        for element in [*at.markdown, *at.caption, *at.info, *at.warning, *at.success]
    )
    assert "127.0.0.1:9" not in rendered


def test_a_session_given_a_deleted_session_s_id_is_shown_and_audited_as_itself(
    db_path, clinicians
):
    anna, _ = clinicians
    first = record(db_path, anna, "Client of Anna")
    at = open_replay(anna)
    SessionStore(db_path).delete_session(first)  # in another tab
    forget_deleted_session_ids(db_path)  # a database from before r0006
    probs = np.full(len(CLASSES), 0.1, np.float32)
    probs[4] = 0.4  # sad, where the deleted session was happy
    store = SessionStore(db_path)
    consent = store.record_consent("Another Client")
    frames = [FrameRecord(t / 2, 0, (0, 0, 48, 48), probs, probs, "sad", 0.4) for t in range(10)]
    second = store.create_session(
        consent.id, "tiny", CLASSES, "video", frames=frames, owner_id=anna.id
    )
    assert second == first
    at = at.run()
    assert not at.exception, at.exception
    views = [entry for entry in audit_actions(db_path) if entry[1] == "view_session"]
    assert views == [("anna", "view_session", f"session {first}")] * 2
    shown = " ".join(element.value for element in (*at.markdown, *at.text))
    assert "Another Client" in shown and "happy" not in shown.lower()
