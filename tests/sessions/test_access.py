"""Who sees which sessions: clinicians their own and shared ones, admins all, reviewers none."""

from __future__ import annotations

import pytest

from fer.accounts import AccountStore, User
from fer.sessions.records import AccessDeniedError, SessionNotFoundError
from tests.sessions.helpers import CLASSES, record

pytestmark = pytest.mark.usefixtures("cheap_password_hashes")


@pytest.fixture
def people(store, database_location):
    accounts = AccountStore(database_location)
    password = "correct horse battery"
    return {
        name: accounts.add_user(name, role, password)
        for name, role in (
            ("ana", "clinician"), ("ben", "clinician"), ("rita", "reviewer"), ("ada", "admin")
        )
    }


@pytest.fixture
def recorded(store, people):
    """One session each for ana and ben, and one from before accounts (no owner)."""
    consent = store.record_consent("Dana Client")
    ids = {}
    for owner in ("ana", "ben", None):
        ids[owner] = store.create_session(
            consent.id, "m", CLASSES, "live", frames=[record()],
            owner_id=people[owner].id if owner else None,
        )
    return ids


def test_a_clinician_sees_only_their_own_sessions(store, people, recorded):
    ana = people["ana"]
    assert [info.id for info in store.list_sessions(ana)] == [recorded["ana"]]
    assert store.get_session(recorded["ana"], viewer=ana).owner_id == ana.id
    for other in (recorded["ben"], recorded[None]):
        with pytest.raises(SessionNotFoundError):
            store.get_session(other, viewer=ana)
        with pytest.raises(SessionNotFoundError):
            store.load_frames(other, viewer=ana)
        with pytest.raises(SessionNotFoundError):
            store.export_csv(other, viewer=ana)
        with pytest.raises(SessionNotFoundError):
            store.export_json(other, viewer=ana)
        with pytest.raises(SessionNotFoundError):
            store.delete_session(other, viewer=ana)
    assert len(store.list_sessions()) == 3


def test_the_refusal_does_not_tell_a_hidden_session_from_a_missing_one(store, people, recorded):
    ana = people["ana"]
    with pytest.raises(SessionNotFoundError) as hidden:
        store.get_session(recorded["ben"], viewer=ana)
    with pytest.raises(SessionNotFoundError) as missing:
        store.get_session(999, viewer=ana)
    assert str(hidden.value).replace(str(recorded["ben"]), "N") == str(missing.value).replace(
        "999", "N"
    )


def test_an_admin_sees_everything_and_a_reviewer_nothing(store, people, recorded):
    assert len(store.list_sessions(people["ada"])) == 3
    assert store.load_frames(recorded[None], viewer=people["ada"]).shape[0] == 1
    rita = people["rita"]
    with pytest.raises(AccessDeniedError):
        store.list_sessions(rita)
    for call in (store.get_session, store.load_frames, store.export_csv, store.export_json):
        with pytest.raises(AccessDeniedError):
            call(recorded["ana"], viewer=rita)
    assert isinstance(AccessDeniedError("x"), PermissionError)


def test_sharing_lets_another_clinician_see_but_not_delete(store, people, recorded):
    ana, ben = people["ana"], people["ben"]
    store.share_session(recorded["ben"], ana.id)
    store.share_session(recorded["ben"], ana.id)  # twice changes nothing
    assert sorted(info.id for info in store.list_sessions(ana)) == sorted(
        [recorded["ana"], recorded["ben"]]
    )
    assert "session_id" in store.export_csv(recorded["ben"], viewer=ana)
    with pytest.raises(AccessDeniedError):
        store.delete_session(recorded["ben"], viewer=ana)
    store.delete_session(recorded["ben"], viewer=ben)
    assert [info.id for info in store.list_sessions(ana)] == [recorded["ana"]]


def test_sessions_cannot_be_owned_by_or_shared_with_a_reviewer(store, people, recorded):
    consent = store.record_consent("Kim")
    with pytest.raises(ValueError, match="patient data"):
        store.create_session(consent.id, "m", CLASSES, "live", owner_id=people["rita"].id)
    with pytest.raises(ValueError, match="patient data"):
        store.share_session(recorded["ana"], people["rita"].id)
    with pytest.raises(ValueError, match="No user"):
        store.create_session(consent.id, "m", CLASSES, "live", owner_id=999)


def test_an_admin_may_delete_any_session(store, people, recorded):
    store.delete_session(recorded[None], viewer=people["ada"])
    assert len(store.list_sessions()) == 2


def test_a_viewer_object_with_a_made_up_role_sees_nothing(store, recorded):
    with pytest.raises(AccessDeniedError):
        store.list_sessions(User(1, "mallory", "superuser"))


def test_a_user_held_since_login_sees_nothing_once_disabled_or_given_another_role(
    store, people, recorded, database_location
):
    """A page's download button keeps the User of the run that drew it; the store reads the
    account again, so an account disabled or demoted meanwhile exports nothing."""
    accounts = AccountStore(database_location)
    ana, ada = people["ana"], people["ada"]
    assert store.export_csv(recorded["ana"], viewer=ana)
    accounts.disable_user("ana")
    with pytest.raises(SessionNotFoundError):
        store.export_csv(recorded["ana"], viewer=ana)
    assert store.list_sessions(viewer=ana) == []
    assert len(store.list_sessions(viewer=ada)) == 3
    accounts.add_user("eve", "admin", "correct horse battery")  # not the last admin then
    accounts.set_role("ada", "reviewer")
    with pytest.raises(SessionNotFoundError):
        store.load_frames(recorded["ben"], viewer=ada)  # the admin object, now a reviewer
    assert store.list_sessions(viewer=ada) == []


def test_a_shared_session_does_not_let_a_clinician_withdraw_or_rename_the_others(
    store, people, recorded
):
    ana, ben, ada = people["ana"], people["ben"], people["ada"]
    store.share_session(recorded["ben"], ana.id)
    consent_id = store.get_session(recorded["ben"]).consent_id
    for clinician in (ana, ben):  # the consent also covers the other's and an unowned session
        with pytest.raises(AccessDeniedError, match="recorded by someone else"):
            store.withdraw_consent(consent_id, viewer=clinician)
        with pytest.raises(AccessDeniedError, match="recorded by someone else"):
            store.erase_consent_name(consent_id, "Pseudonym", viewer=clinician)
    with pytest.raises(AccessDeniedError):
        store.withdraw_consent(consent_id, viewer=people["rita"])
    assert len(store.list_sessions()) == 3
    assert store.get_consent(consent_id).given_by == "Dana Client"
    assert store.get_consent(consent_id).withdrawn_at is None

    store.erase_consent_name(consent_id, "Pseudonym", viewer=ada)
    assert store.withdraw_consent(consent_id, viewer=ada) == 3


def test_a_clinician_withdraws_a_consent_whose_sessions_are_all_theirs(store, people):
    ana = people["ana"]
    consent = store.record_consent("Eli Client")
    assert store.withdraw_consent(consent.id, viewer=ana, delete_data=False) == 0  # none yet
    other = store.record_consent("Fay Client")
    store.create_session(other.id, "m", CLASSES, "live", frames=[record()], owner_id=ana.id)
    store.erase_consent_name(other.id, viewer=ana)
    assert store.withdraw_consent(other.id, viewer=ana) == 1


def test_a_disabled_account_withdraws_nothing(store, people, database_location):
    ana = people["ana"]
    consent = store.record_consent("Gil Client")
    store.create_session(consent.id, "m", CLASSES, "live", frames=[record()], owner_id=ana.id)
    AccountStore(database_location).disable_user(ana.name)
    with pytest.raises(AccessDeniedError, match="disabled"):
        store.withdraw_consent(consent.id, viewer=ana)
    assert store.get_consent(consent.id).withdrawn_at is None
