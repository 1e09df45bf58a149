"""``fer users``: accounts from the command line, every action in the audit log."""

from __future__ import annotations

import io

import pytest

from fer.accounts import ROLES, AccountStore, AuditLog
from fer.cli import main

pytestmark = pytest.mark.usefixtures("cheap_password_hashes")

PASSWORD = "a long enough password"


@pytest.fixture
def database(tmp_path, monkeypatch):
    monkeypatch.setattr("fer.cli.database_options.os_account_name", lambda: "tester")
    return str(tmp_path / "sessions.db")


def fer_users(database, *arguments, stdin: str | None = None, monkeypatch=None) -> int:
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(["users", *arguments, "--database", database])


def test_add_with_password_from_stdin_then_log_in(database, monkeypatch, capsys):
    code = fer_users(database, "add", "dr.lee", "--role", "clinician", "--password-stdin",
                     stdin=PASSWORD + "\n", monkeypatch=monkeypatch)
    assert code == 0
    assert "added clinician 'dr.lee'" in capsys.readouterr().out
    user = AccountStore(database).authenticate("dr.lee", PASSWORD)
    assert user.role == "clinician"
    (entry,) = AuditLog(database).entries().to_dict("records")
    assert (entry["actor"], entry["action"], entry["target"]) == (
        "cli:tester", "add_user", f"user {user.id}"
    )
    assert PASSWORD not in AuditLog(database).export_csv()


def test_add_prompts_twice_and_refuses_a_mismatch(database, monkeypatch, capsys):
    answers = iter([PASSWORD, PASSWORD + "x"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert fer_users(database, "add", "ada", "--role", "admin") == 2
    assert "differ" in capsys.readouterr().err
    assert AccountStore(database).list_users() == []
    answers = iter([PASSWORD, PASSWORD])
    assert fer_users(database, "add", "ada", "--role", "admin") == 0
    assert AccountStore(database).authenticate("ada", PASSWORD).role == "admin"


def test_list_disable_set_role_and_set_password(database, monkeypatch, capsys):
    for name, role in (("ada", "admin"), ("lee", "clinician")):
        fer_users(database, "add", name, "--role", role, "--password-stdin",
                  stdin=PASSWORD, monkeypatch=monkeypatch)
    assert fer_users(database, "set-role", "lee", "reviewer") == 0
    assert fer_users(database, "disable", "lee") == 0
    assert fer_users(database, "set-password", "ada", "--password-stdin",
                     stdin="another long password\n", monkeypatch=monkeypatch) == 0
    capsys.readouterr()
    assert fer_users(database, "list") == 0
    listing = capsys.readouterr().out
    assert "ada" in listing and "admin" in listing and "active" in listing
    assert "reviewer" in listing and "disabled" in listing
    assert AccountStore(database).authenticate("ada", "another long password").name == "ada"
    actions = AuditLog(database).entries()["action"].tolist()
    assert actions == [
        "list_users", "set_password", "disable_user", "set_role", "add_user", "add_user"
    ]
    assert set(AuditLog(database).entries()["actor"]) == {"cli:tester"}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["add", "x", "--role", "clinician", "--password-stdin"], "at least 12"),
        (["disable", "nobody"], "No user"),
        (["set-role", "nobody", "admin"], "No user"),
    ],
)
def test_errors_are_one_clear_line(database, monkeypatch, capsys, arguments, message):
    AccountStore(database)  # creates the database
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["users", *arguments, "--database", database]) == 2
    error = capsys.readouterr().err
    assert message in error and "Traceback" not in error


def test_each_action_has_help_with_an_example(capsys):
    for action in ("add", "list", "disable", "set-role", "set-password"):
        with pytest.raises(SystemExit) as exit_:
            main(["users", action, "--help"])
        assert exit_.value.code == 0
        assert "example:\n  fer users" in capsys.readouterr().out


def test_the_roles_offered_are_the_accounts_roles():
    from fer.cli import users

    assert users.ROLES == ROLES


def test_a_closed_prompt_adds_no_account(database, monkeypatch, capsys):
    def closed(prompt=""):
        raise EOFError

    monkeypatch.setattr("getpass.getpass", closed)
    assert main(["users", "add", "bob", "--role", "clinician", "--database", database]) == 2
    assert "no password on standard input" in capsys.readouterr().err
    assert main(["users", "list", "--database", database]) == 0
    assert "bob" not in capsys.readouterr().out


def test_listing_and_revoking_a_token_at_once_is_refused(database, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["users", "token", "dr.lee", "--list", "--revoke", "1", "--database", database])
    assert exited.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_a_token_id_beyond_the_database_is_refused_in_words(database, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse battery\n"))
    main(["users", "add", "dr.lee", "--role", "clinician", "--password-stdin", "--database",
          database])
    capsys.readouterr()
    arguments = ["users", "token", "dr.lee", "--revoke", "99999999999999999999"]
    assert main([*arguments, "--database", database]) == 2
    assert "larger than any stored id" in capsys.readouterr().err


def test_the_actor_is_the_os_account_not_the_login_variables(tmp_path, monkeypatch):
    import os
    import pwd

    database = str(tmp_path / "sessions.db")
    monkeypatch.setenv("LOGNAME", "admin1\n2026-01-01T00:00:00 | cli:root | delete_session")
    monkeypatch.setenv("USER", "someone.else")
    AuditLog(database)  # creates the database
    assert main(["users", "list", "--database", database]) == 0
    (entry,) = AuditLog(database).entries().to_dict("records")
    assert entry["actor"] == f"cli:{pwd.getpwuid(os.geteuid()).pw_name}"


@pytest.mark.parametrize(
    "arguments", [["list"], ["disable", "dr.lee"], ["set-role", "dr.lee", "admin"],
                  ["token", "dr.lee", "--list"]]
)
def test_a_mistyped_database_path_is_refused_not_created(tmp_path, capsys, arguments):
    typo = tmp_path / "typo" / "sesions.db"
    assert main(["users", *arguments, "--database", str(typo)]) == 2
    assert "no session database" in capsys.readouterr().err
    assert not typo.parent.exists()


def test_the_first_account_creates_the_database(tmp_path, monkeypatch):
    database = tmp_path / "new" / "sessions.db"
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    code = main(["users", "add", "admin", "--role", "admin", "--password-stdin",
                 "--database", str(database)])
    assert code == 0 and database.is_file()


def test_listing_tokens_is_audited(database, monkeypatch, capsys):
    assert fer_users(database, "add", "dr.lee", "--role", "clinician", "--password-stdin",
                     stdin=PASSWORD + "\n", monkeypatch=monkeypatch) == 0
    assert fer_users(database, "token", "dr.lee", "--list") == 0
    entry = AuditLog(database).entries().to_dict("records")[0]
    user = AccountStore(database).get_user_by_name("dr.lee")
    assert (entry["actor"], entry["action"], entry["target"]) == (
        "cli:tester", "list_api_tokens", f"user {user.id}"
    )


def test_a_disabled_accounts_tokens_are_listed_as_refused(database, monkeypatch, capsys):
    assert fer_users(database, "add", "dr.lee", "--role", "clinician", "--password-stdin",
                     stdin=PASSWORD + "\n", monkeypatch=monkeypatch) == 0
    assert fer_users(database, "token", "dr.lee", "--label", "ehr") == 0
    assert fer_users(database, "token", "dr.lee", "--list") == 0
    assert "active until" in capsys.readouterr().out
    assert fer_users(database, "disable", "dr.lee") == 0
    capsys.readouterr()
    assert fer_users(database, "token", "dr.lee", "--list") == 0
    listing = capsys.readouterr().out
    assert "refused: account disabled" in listing and "active" not in listing
