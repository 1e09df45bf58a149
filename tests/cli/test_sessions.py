"""``fer sessions``: list, delete and purge from the command line, every action audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fer.accounts import AuditLog
from fer.cli import main
from fer.sessions.records import SessionNotFoundError
from fer.sessions.store import SessionStore

CLASSES = ("neutral", "happy")


@pytest.fixture
def database(tmp_path, monkeypatch):
    monkeypatch.setattr("getpass.getuser", lambda: "tester")
    monkeypatch.delenv("FER_RETENTION_DAYS", raising=False)
    return str(tmp_path / "sessions.db")


@pytest.fixture
def recorded(database):
    store = SessionStore(database)
    now = datetime.now(UTC)
    consent = store.record_consent("Dana Client", given_at=now - timedelta(days=400))
    old = store.create_session(
        consent.id, "m", CLASSES, "live", started_at=now - timedelta(days=370)
    )
    new = store.create_session(consent.id, "m", CLASSES, "video", notes="recent")
    return store, old, new


def test_list_shows_sessions_without_names_unless_asked(database, recorded, capsys):
    _, old, new = recorded
    assert main(["sessions", "list", "--database", database]) == 0
    output = capsys.readouterr().out
    assert "Dana Client" not in output
    lines = output.splitlines()
    assert [line.split()[0] for line in lines[1:]] == [str(new), str(old)]
    assert main(["sessions", "list", "--show-names", "--database", database]) == 0
    assert "Dana Client" in capsys.readouterr().out
    assert AuditLog(database).entries()["action"].tolist() == ["list_sessions"] * 2


def test_delete_asks_unless_told_yes(database, recorded, monkeypatch, capsys):
    store, old, _ = recorded
    monkeypatch.setattr("builtins.input", lambda prompt="": "n")
    assert main(["sessions", "delete", str(old), "--database", database]) == 1
    assert store.get_session(old).id == old
    monkeypatch.setattr("builtins.input", lambda prompt="": "yes")
    assert main(["sessions", "delete", str(old), "--database", database]) == 0
    with pytest.raises(SessionNotFoundError):
        store.get_session(old)
    (entry,) = AuditLog(database).entries().to_dict("records")
    assert (entry["actor"], entry["action"], entry["target"]) == (
        "cli:tester", "delete_session", f"session {old}"
    )
    assert main(["sessions", "delete", str(old), "--yes", "--database", database]) == 2
    assert "No session" in capsys.readouterr().err


def test_purge_uses_days_or_the_retention_setting(database, recorded, monkeypatch, capsys):
    store, old, new = recorded
    assert main(["sessions", "purge", "--database", database]) == 2
    assert "FER_RETENTION_DAYS" in capsys.readouterr().err
    monkeypatch.setenv("FER_RETENTION_DAYS", "365")
    assert main(["sessions", "purge", "--database", database]) == 0
    assert [info.id for info in store.list_sessions()] == [new]
    assert main(["sessions", "purge", "--days", "0", "--database", database]) == 2
    (entry,) = AuditLog(database).entries().to_dict("records")
    assert entry["action"] == "purge_sessions" and entry["detail"].startswith("1 sessions")


def test_each_action_has_help_with_an_example(capsys):
    for action in ("list", "delete", "purge"):
        with pytest.raises(SystemExit) as exit_:
            main(["sessions", action, "--help"])
        assert exit_.value.code == 0
        assert "example:\n  " in capsys.readouterr().out
