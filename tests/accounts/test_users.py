"""Accounts: Argon2 hashes, roles, lock-out after repeated failures, disabling."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy

from fer.accounts import LOCKOUT, MAX_FAILED_LOGINS, AccountStore, LoginError, User
from fer.accounts.users import UserNotFoundError

pytestmark = pytest.mark.usefixtures("cheap_password_hashes")

PASSWORD = "correct horse battery"
T0 = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def accounts(database_location) -> AccountStore:
    return AccountStore(database_location)


def stored_hash(accounts: AccountStore, name: str) -> str:
    with accounts.engine.connect() as connection:
        return connection.execute(
            sqlalchemy.text("SELECT password_hash FROM users WHERE name = :name"), {"name": name}
        ).scalar_one()


def test_passwords_are_stored_as_argon2_hashes_only(accounts):
    user = accounts.add_user("ana", "clinician", PASSWORD)
    assert user == User(user.id, "ana", "clinician")
    hashed = stored_hash(accounts, "ana")
    assert hashed.startswith("$argon2id$") and PASSWORD not in hashed
    assert accounts.authenticate("ana", PASSWORD) == user
    assert accounts.get_user(user.id) == user
    assert accounts.get_user_by_name("ana") == user


def test_real_argon2_parameters_are_the_default():
    # The module's hasher is swapped for a cheap one in tests; the class default is the real one.
    from argon2 import PasswordHasher, Type

    from fer.accounts import users

    assert PasswordHasher().type is Type.ID
    assert users.MIN_PASSWORD_LENGTH >= 12


@pytest.mark.parametrize(
    ("name", "role", "password", "message"),
    [
        ("ana", "doctor", PASSWORD, "role"),
        ("ana", "clinician", "short", "at least 12"),
        ("", "clinician", PASSWORD, "non-empty"),
        ("a\nb", "clinician", PASSWORD, "control"),
        ("x" * 101, "clinician", PASSWORD, "at most"),
        # Names that would look like another's: a Cyrillic е, e + combining accent, full width.
        ("dr.l\u0435e", "clinician", PASSWORD, "only the letters a-z"),
        ("dr.jose\u0301", "clinician", PASSWORD, "only the letters a-z"),
        ("\uff44\uff52.lee", "clinician", PASSWORD, "only the letters a-z"),
        ("dr lee", "clinician", PASSWORD, "only the letters a-z"),
    ],
)
def test_invalid_accounts_are_refused(accounts, name, role, password, message):
    with pytest.raises(ValueError, match=message):
        accounts.add_user(name, role, password)
    assert accounts.list_users() == []


def test_names_are_unique(accounts):
    accounts.add_user("ana", "clinician", PASSWORD)
    with pytest.raises(ValueError, match="exists"):
        accounts.add_user(" ana ", "admin", PASSWORD)
    with pytest.raises(ValueError, match="exists"):
        accounts.add_user("Ana", "admin", PASSWORD)  # case does not make another name


def test_names_differing_in_case_added_at_once_make_one_account(accounts, monkeypatch):
    """The second name is added while the first one's transaction is still open: on
    PostgreSQL it once found no other name and both accounts were made."""
    from fer.accounts import users as users_module

    inserted_id = users_module.inserted_id
    outcome: list[str] = []
    threads: list[threading.Thread] = []

    def add_second() -> None:
        try:
            accounts.add_user("dr.lee", "clinician", PASSWORD)
            outcome.append("added")
        except ValueError as error:
            outcome.append(str(error))

    def insert_then_add_another(result):
        monkeypatch.setattr(users_module, "inserted_id", inserted_id)
        threads.append(threading.Thread(target=add_second))
        threads[0].start()
        threads[0].join(timeout=1.0)  # long enough to reach the check; it waits for this one
        return inserted_id(result)

    monkeypatch.setattr(users_module, "inserted_id", insert_then_add_another)
    accounts.add_user("Dr.Lee", "clinician", PASSWORD)
    threads[0].join()
    assert outcome == ["A user named 'dr.lee' exists already"]
    assert [user.name for user in accounts.list_users()] == ["Dr.Lee"]


def test_a_failed_login_does_not_tell_whether_the_name_exists(accounts):
    accounts.add_user("ana", "clinician", PASSWORD)
    with pytest.raises(LoginError) as wrong_password:
        accounts.authenticate("ana", "wrong password!!")
    with pytest.raises(LoginError) as unknown_name:
        accounts.authenticate("nobody", PASSWORD)
    assert str(wrong_password.value) == str(unknown_name.value)
    assert isinstance(wrong_password.value, ValueError)


@pytest.mark.parametrize("name", ["ana", "nobody"])
def test_five_failures_lock_the_login_for_fifteen_minutes(accounts, name):
    accounts.add_user("ana", "clinician", PASSWORD)
    for attempt in range(MAX_FAILED_LOGINS - 1):
        with pytest.raises(LoginError, match="Wrong name or password"):
            accounts.authenticate(name, "wrong password!!", now=T0 + timedelta(seconds=attempt))
    with pytest.raises(LoginError, match="locked until 2030-01-01 09:15 UTC"):
        accounts.authenticate(name, "wrong password!!", now=T0 + timedelta(seconds=5))
    # Even the right password waits for the lock to end.
    with pytest.raises(LoginError, match="locked until"):
        accounts.authenticate(name, PASSWORD, now=T0 + timedelta(minutes=14))
    if name == "ana":
        after = T0 + timedelta(seconds=5) + LOCKOUT
        assert accounts.authenticate("ana", PASSWORD, now=after).name == "ana"


def test_a_success_resets_the_failure_count(accounts):
    accounts.add_user("ana", "clinician", PASSWORD)
    for _round in range(3):
        for _attempt in range(MAX_FAILED_LOGINS - 1):
            with pytest.raises(LoginError, match="Wrong"):
                accounts.authenticate("ana", "nope nope nope", now=T0)
        accounts.authenticate("ana", PASSWORD, now=T0)


def test_a_disabled_account_cannot_log_in_but_stays_listed(accounts):
    accounts.add_user("ada", "admin", PASSWORD)
    accounts.add_user("ana", "clinician", PASSWORD)
    accounts.disable_user("ana")
    accounts.disable_user("ana")  # twice changes nothing
    with pytest.raises(LoginError, match="Wrong name or password"):
        accounts.authenticate("ana", PASSWORD)
    listed = {user.name: user for user in accounts.list_users()}
    assert listed["ana"].disabled_at is not None and listed["ada"].disabled_at is None


def test_roles_and_passwords_can_change(accounts):
    accounts.add_user("ada", "admin", PASSWORD)
    accounts.add_user("ana", "clinician", PASSWORD)
    accounts.set_role("ana", "reviewer")
    assert accounts.get_user_by_name("ana").role == "reviewer"
    assert not accounts.get_user_by_name("ana").sees_patient_data
    with pytest.raises(ValueError, match="role"):
        accounts.set_role("ana", "root")
    accounts.set_password("ana", "another long password")
    with pytest.raises(LoginError):
        accounts.authenticate("ana", PASSWORD)
    assert accounts.authenticate("ana", "another long password").role == "reviewer"
    with pytest.raises(UserNotFoundError):
        accounts.set_role("nobody", "admin")
    with pytest.raises(UserNotFoundError):
        accounts.get_user(999)


def test_the_last_admin_cannot_be_demoted_or_disabled(accounts):
    accounts.add_user("ada", "admin", PASSWORD)
    with pytest.raises(ValueError, match="last enabled admin"):
        accounts.set_role("ada", "clinician")
    with pytest.raises(ValueError, match="last enabled admin"):
        accounts.disable_user("ada")
    accounts.add_user("bo", "admin", PASSWORD)
    accounts.disable_user("ada")



def test_two_admins_leaving_at_once_leave_one_admin(accounts, monkeypatch):
    """One admin disabled while the other is demoted in a transaction still open: on
    PostgreSQL each once counted the other as staying, and no admin was left."""
    accounts.add_user("ada", "admin", PASSWORD)
    accounts.add_user("bob", "admin", PASSWORD)
    keep_an_admin = AccountStore._keep_an_admin
    outcome: list[str] = []
    threads: list[threading.Thread] = []

    def demote_bob() -> None:
        try:
            accounts.set_role("bob", "clinician")
            outcome.append("demoted")
        except ValueError as error:
            outcome.append(str(error))

    def counted_then_bob_demoted(connection, leaving_id):
        monkeypatch.setattr(AccountStore, "_keep_an_admin", staticmethod(keep_an_admin))
        keep_an_admin(connection, leaving_id)
        threads.append(threading.Thread(target=demote_bob))
        threads[0].start()
        threads[0].join(timeout=1.0)  # long enough to count; it waits for this one

    monkeypatch.setattr(AccountStore, "_keep_an_admin", staticmethod(counted_then_bob_demoted))
    accounts.disable_user("ada")
    threads[0].join()
    assert outcome == ["This is the last enabled admin; make another admin first"]
    assert [user.name for user in accounts.list_users()
            if user.is_admin and user.disabled_at is None] == ["bob"]

def test_roles_say_who_sees_patient_data():
    assert User(1, "a", "clinician").sees_patient_data
    assert User(1, "a", "admin").sees_patient_data
    assert not User(1, "a", "reviewer").sees_patient_data


def test_a_weak_old_hash_is_upgraded_on_login(accounts, monkeypatch):
    from argon2 import PasswordHasher

    from fer.accounts import users

    accounts.add_user("ana", "clinician", PASSWORD)
    old = stored_hash(accounts, "ana")
    monkeypatch.setattr(users, "password_hasher", PasswordHasher(time_cost=2, memory_cost=64))
    accounts.authenticate("ana", PASSWORD)
    assert stored_hash(accounts, "ana") != old
    assert "t=2" in stored_hash(accounts, "ana")


def test_a_failure_checked_while_another_locked_the_account_keeps_the_lock(
    accounts, monkeypatch
):
    """Two requests at once: A passes the lock check and waits in the password check while B
    fails for the fifth time and locks. A's failure once lifted B's lock, and the next
    guess could be checked at once."""
    accounts.add_user("ana", "clinician", PASSWORD)
    for _ in range(MAX_FAILED_LOGINS - 1):
        with pytest.raises(LoginError):
            accounts.authenticate("ana", "wrong password!!", now=T0)
    verify = AccountStore._verify

    def b_locks_meanwhile(hashed, password):  # while A's password is being checked
        monkeypatch.setattr(AccountStore, "_verify", staticmethod(verify))
        with pytest.raises(LoginError, match="locked"):
            accounts.authenticate("ana", "wrong password!!", now=T0)
        return verify(hashed, password)

    monkeypatch.setattr(AccountStore, "_verify", staticmethod(b_locks_meanwhile))
    with pytest.raises(LoginError):
        accounts.authenticate("ana", "another wrong one", now=T0)  # request A
    with pytest.raises(LoginError, match="locked until"):
        accounts.authenticate("ana", PASSWORD, now=T0 + timedelta(minutes=1))


def test_a_right_password_checked_while_the_account_was_locked_is_refused(
    accounts, monkeypatch
):
    accounts.add_user("ana", "clinician", PASSWORD)
    for _ in range(MAX_FAILED_LOGINS - 1):
        with pytest.raises(LoginError):
            accounts.authenticate("ana", "wrong password!!", now=T0)
    verify = AccountStore._verify

    def b_locks_meanwhile(hashed, password):
        monkeypatch.setattr(AccountStore, "_verify", staticmethod(verify))
        with pytest.raises(LoginError, match="locked"):
            accounts.authenticate("ana", "wrong password!!", now=T0)
        return verify(hashed, password)

    monkeypatch.setattr(AccountStore, "_verify", staticmethod(b_locks_meanwhile))
    with pytest.raises(LoginError, match="locked until"):
        accounts.authenticate("ana", PASSWORD, now=T0)


def test_an_over_long_password_costs_a_password_check_for_a_known_name_too(
    accounts, monkeypatch
):
    """Skipping the check for a known name (and not for an unknown one) told by timing
    alone which names exist."""
    accounts.add_user("ana", "clinician", PASSWORD)
    checked = []
    verify = AccountStore._verify

    def counting(hashed, password):
        checked.append(len(password))
        return verify(hashed, password)

    monkeypatch.setattr(AccountStore, "_verify", staticmethod(counting))
    for name in ("ana", "nobody"):
        with pytest.raises(LoginError, match="Wrong name or password"):
            accounts.authenticate(name, "x" * 5000)
    assert checked == [1024, 1024]


def test_unknown_names_are_kept_cut_to_the_longest_possible_name(accounts):
    with pytest.raises(LoginError):
        accounts.authenticate("n" * 4_000_000, "wrong password!!")
    (kept,) = accounts._unknown
    assert len(kept) == 101


def test_a_password_set_for_a_name_typed_with_spaces_is_the_one_that_works(accounts):
    accounts.add_user("ana", "clinician", PASSWORD)
    accounts.set_password(" ana ", "a brand new passphrase")
    assert accounts.authenticate("ana", "a brand new passphrase").name == "ana"


@pytest.mark.parametrize(
    ("name", "password"),
    [("ana\x00", PASSWORD), ("a\x00na", "wrong password!!"), ("\ud800ana", PASSWORD),
     ("ana", "wrong \ud800 password")],
)
def test_a_nul_or_lone_surrogate_in_a_login_is_a_failed_login(accounts, name, password):
    """A NUL in the name once reached PostgreSQL, which refused the query (DataError, an
    error page instead of the login's message); a lone surrogate raised UnicodeEncodeError
    on either backend."""
    accounts.add_user("ana", "clinician", PASSWORD)
    with pytest.raises(LoginError, match="Wrong name or password"):
        accounts.authenticate(name, password)
    assert accounts.authenticate("ana", PASSWORD).name == "ana"
