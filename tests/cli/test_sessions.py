"""``fer sessions``: list, delete and purge from the command line, every action audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fer.accounts import AuditLog
from fer.cli import main
from fer.sessions.records import SessionNotFoundError
from fer.sessions.store import SessionStore

CLASSES = ("neutral", "happy")


@pytest.fixture
def database(tmp_path, monkeypatch):
    monkeypatch.setattr("fer.cli.database_options.os_account_name", lambda: "tester")
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


def test_stored_text_cannot_rewrite_the_terminal(database, capsys):
    store = SessionStore(database)
    consent = store.record_consent("Eve\x1b]0;owned\x07\n    9 2020-01-01 FORGED",
                                   client_code="C\x1b[31m-1")
    store.create_session(consent.id, "m", CLASSES, "live")
    assert main(["sessions", "list", "--show-names", "--database", database]) == 0
    output = capsys.readouterr().out
    assert "\x1b" not in output and "\x07" not in output
    assert len(output.splitlines()) == 2  # the header and one session
    assert "Eve\\x1b]0;owned\\x07\\x0a    9 2020-01-01 FORGED" in output
    assert "C\\x1b[31m-1" in output


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["delete", "99999999999999999999", "--yes"], "larger than any stored id"),
        (["purge", "--days", "1000000"], "reaches before the year 1"),
    ],
)
def test_numbers_beyond_the_database_are_refused_in_words(database, capsys, arguments, message):
    SessionStore(database)  # creates the database
    assert main(["sessions", *arguments, "--database", database]) == 2
    assert message in capsys.readouterr().err


def test_a_question_without_an_answer_deletes_nothing(database, recorded, monkeypatch, capsys):
    store, old, _ = recorded

    def closed(prompt=""):
        raise EOFError

    monkeypatch.setattr("builtins.input", closed)
    assert main(["sessions", "delete", str(old), "--database", database]) == 2
    assert "no answer on standard input" in capsys.readouterr().err
    assert store.get_session(old).id == old


def test_a_location_that_is_no_database_is_named_and_left_alone(tmp_path, capsys):
    notes = tmp_path / "notes.txt"
    notes.write_text("hi\n")
    notes.chmod(0o644)
    folder = tmp_path / "folder"
    folder.mkdir()
    for location, message in [
        (notes, "is not a SQLite database"),
        (folder, "is not a file"),
        (notes / "sub.db", "error:"),
        ("postgres:/user:s3cret@host/db", "lacks its '//'"),
        ("postgresql://user:s3cret@host:notaport/db", "could not be read"),
    ]:
        assert main(["sessions", "list", "--database", str(location)]) == 2
        error = capsys.readouterr().err
        assert message in error and "Traceback" not in error and "s3cret" not in error
    assert notes.stat().st_mode & 0o777 == 0o644 and notes.read_text() == "hi\n"
    assert folder.stat().st_mode & 0o100
    assert not (tmp_path / "postgres:").exists()


def test_a_damaged_database_is_named(tmp_path, database, recorded, capsys):
    damaged = tmp_path / "part.db"
    damaged.write_bytes(open(database, "rb").read()[:5000])
    assert main(["sessions", "list", "--database", str(damaged)]) == 2
    error = capsys.readouterr().err
    assert "cannot be used" in error and "Traceback" not in error


@pytest.mark.parametrize("text", ["1_0", "+30", "²", "٣٠"])
def test_purge_refuses_a_retention_setting_the_app_would_refuse(
    database, recorded, monkeypatch, capsys, text
):
    monkeypatch.setenv("FER_RETENTION_DAYS", text)
    assert main(["sessions", "purge", "--database", database]) == 2
    error = capsys.readouterr().err
    assert "FER_RETENTION_DAYS" in error and "invalid literal" not in error


@pytest.fixture
def writer_after_deletion(database, monkeypatch):
    """Another program that takes the write lock right after a deletion commits, and keeps it
    until the command is done."""
    import sqlite3

    monkeypatch.setattr("fer.storage.database.BUSY_TIMEOUT_MS", 200)
    monkeypatch.setattr("fer.cli.sessions.ERASE_WAIT_S", 0.3)
    holder = sqlite3.connect(database, isolation_level=None)

    def take_the_lock_after(method):
        def deleting_then_locked(self, *args, **kwargs):
            result = method(self, *args, **kwargs)
            holder.execute("BEGIN IMMEDIATE")
            return result
        return deleting_then_locked

    for name in ("delete_session", "purge_older_than"):
        monkeypatch.setattr(SessionStore, name, take_the_lock_after(getattr(SessionStore, name)))
    yield holder
    if holder.in_transaction:
        holder.execute("ROLLBACK")
    holder.close()


@pytest.mark.parametrize("action", [["delete", "{old}", "--yes"], ["purge", "--days", "365"]])
def test_a_deletion_and_its_audit_entry_commit_together(
    database, recorded, writer_after_deletion, capsys, action
):
    store, old, new = recorded
    arguments = [part.format(old=old) for part in action]
    code = main(["sessions", *arguments, "--database", database])
    writer_after_deletion.execute("ROLLBACK")
    assert [info.id for info in store.list_sessions()] == [new]
    assert AuditLog(database).entries()["action"].tolist() == [
        {"delete": "delete_session", "purge": "purge_sessions"}[action[0]]
    ]
    error = capsys.readouterr().err
    assert code != 0 and "deletion stands" in error


def test_a_reader_that_outlasts_the_wait_makes_the_delete_fail_until_erased(
    database, monkeypatch, capsys
):
    import sqlite3
    from pathlib import Path

    monkeypatch.setattr("fer.cli.sessions.ERASE_WAIT_S", 0.3)
    store = SessionStore(database)
    consent = store.record_consent("Dana Client")
    secret = "the client spoke about a secret plan"
    session_id = store.create_session(consent.id, "m", CLASSES, "live", notes=secret)
    reader = sqlite3.connect(database, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM sessions").fetchone()  # holds an old snapshot open
    code = main(["sessions", "delete", str(session_id), "--yes", "--database", database])
    error = capsys.readouterr().err
    assert code != 0
    assert "error:" in error and "incomplete" in error
    assert f"{database}-wal" in error and "fer sessions erase-free-space" in error
    reader.execute("COMMIT")
    reader.close()
    assert main(["sessions", "erase-free-space", "--database", database]) == 0
    wal = Path(f"{database}-wal")
    assert not wal.exists() or wal.stat().st_size == 0
    assert secret.encode() not in Path(database).read_bytes()
    assert "delete_session" in AuditLog(database).entries()["action"].tolist()


@pytest.mark.parametrize(
    "arguments", [["list"], ["delete", "1", "--yes"], ["purge", "--days", "30"],
                  ["erase-free-space"]]
)
def test_a_mistyped_database_path_is_refused_not_created(tmp_path, capsys, arguments):
    typo = tmp_path / "typo" / "sesions.db"
    assert main(["sessions", *arguments, "--database", str(typo)]) == 2
    assert "no session database" in capsys.readouterr().err
    assert not typo.parent.exists()


def test_a_database_error_prints_the_driver_s_message_on_one_line(
    database, recorded, writer_after_deletion, capsys
):
    store, old, _ = recorded
    writer_after_deletion.execute("BEGIN IMMEDIATE")  # another program is writing
    assert main(["sessions", "delete", str(old), "--yes", "--database", database]) == 2
    error = capsys.readouterr().err
    assert "database is locked" in error
    assert f"({database}: another program is writing to it; nothing was changed" in error
    assert len(error.strip().splitlines()) == 1
    assert "[SQL:" not in error and "sqlalche.me" not in error


def table_leaf_pages(data: bytes, page_size: int, root: int) -> list[int]:
    """The leaf pages of the table b-tree rooted at ``root``, in key order, read from the file
    itself (SQLite's file format: page type 0x05 interior, 0x0D leaf). Not through the
    ``dbstat`` table, which a test process may lack: once TensorFlow is loaded, its own copy
    of SQLite, built without it, can serve Python's ``sqlite3``."""
    start = (root - 1) * page_size
    header = start + (100 if root == 1 else 0)
    kind = data[header]
    if kind == 0x0D:
        return [root]
    assert kind == 0x05, f"page {root} is not a table b-tree page (type {kind:#x})"
    n_cells = int.from_bytes(data[header + 3 : header + 5], "big")
    children = []
    for cell in range(n_cells):
        offset = int.from_bytes(data[header + 12 + 2 * cell : header + 14 + 2 * cell], "big")
        children.append(int.from_bytes(data[start + offset : start + offset + 4], "big"))
    children.append(int.from_bytes(data[header + 8 : header + 12], "big"))  # right-most
    return [leaf for child in children for leaf in table_leaf_pages(data, page_size, child)]


def damage_a_frames_page(database: str) -> None:
    """Overwrite one leaf page of the frames table: a page that opening the database, listing
    its sessions or purging nothing never reads."""
    import sqlite3

    with sqlite3.connect(database) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = connection.execute("PRAGMA page_size").fetchone()[0]
        (root,) = connection.execute(
            "SELECT rootpage FROM sqlite_master WHERE type = 'table' AND name = 'frames'"
        ).fetchone()
    leaves = table_leaf_pages(Path(database).read_bytes(), page_size, root)
    assert len(leaves) > 20, leaves
    page = leaves[20]
    with open(database, "r+b") as file:
        file.seek((page - 1) * page_size)
        file.write(b"\xab" * page_size)
    with sqlite3.connect(database) as connection:
        try:  # a page this damaged is reported as an error rather than a line
            assert connection.execute("PRAGMA quick_check").fetchone()[0] != "ok"
        except sqlite3.DatabaseError as error:
            assert "malformed" in str(error)


@pytest.mark.parametrize(
    "arguments",
    [["purge", "--days", "30"], ["delete", "1", "--yes"], ["erase-free-space"]],
    ids=["purge", "delete", "erase-free-space"],
)
def test_a_change_to_a_database_with_a_damaged_page_is_refused(database, capsys, arguments):
    from tests.sessions.helpers import CLASSES as HELPER_CLASSES
    from tests.sessions.helpers import record

    store = SessionStore(database)
    consent = store.record_consent("Dana Client")
    frames = [record(index * 0.1) for index in range(400)]
    store.create_session(consent.id, "m", HELPER_CLASSES, "video", frames=frames)
    store.engine.dispose()
    damage_a_frames_page(database)
    before = open(database, "rb").read()
    action, *rest = arguments
    assert main(["sessions", action, *rest, "--database", database]) == 2
    error = capsys.readouterr().err
    assert f"{database} is damaged (SQLite's quick_check: " in error
    assert "nothing was changed" in error and "Traceback" not in error
    assert open(database, "rb").read() == before
    assert main(["sessions", "list", "--database", database]) == 0  # reading still works


@pytest.mark.parametrize("typo", [
    "postgresql//fer:S3CRET-PW@db:5432/fer", "Postgres;//fer:S3CRET-PW@db/fer",
    "postgresql+psycopg.//fer:S3CRET-PW@db/fer",
])
def test_a_postgresql_url_missing_its_colon_is_refused_without_its_password(
    tmp_path, monkeypatch, capsys, typo
):
    monkeypatch.chdir(tmp_path)
    assert main(["sessions", "list", "--database", typo]) == 2
    output = capsys.readouterr()
    assert "starts like a postgresql:// URL" in output.err
    assert "S3CRET-PW" not in output.err + output.out
    with pytest.raises(ValueError) as error:
        SessionStore(typo)  # the app's way in: no folder named after the password either
    assert "S3CRET-PW" not in str(error.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("text", ["1_0", "+30", "²", "٣٠", "-5", "1e9"])
def test_purge_refuses_days_the_retention_setting_would_refuse(database, recorded, capsys, text):
    store, old, new = recorded
    with pytest.raises(SystemExit) as exit_:
        main(["sessions", "purge", "--days", text, "--database", database])
    assert exit_.value.code == 2
    assert "digits 0-9" in capsys.readouterr().err
    assert {info.id for info in store.list_sessions()} == {old, new}
