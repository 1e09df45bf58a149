"""The audit log: entries appended with a time, listed newest first, exported safely."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pandas as pd
import pytest

from fer.accounts import AuditLog


@pytest.fixture
def audit(database_location) -> AuditLog:
    return AuditLog(database_location)


def test_entries_are_listed_newest_first_with_their_time(audit):
    before = datetime.now(UTC)
    audit.record("ana", "login")
    audit.record("ana", "view_session", "session 3")
    audit.record("cli:root", "delete_session", "session 3", "by request of the client")
    entries = audit.entries()
    assert list(entries.columns) == ["at", "actor", "action", "target", "detail"]
    assert entries["action"].tolist() == ["delete_session", "view_session", "login"]
    assert entries.loc[0, "detail"] == "by request of the client"
    assert (entries["at"] >= pd.Timestamp(before)).all()
    assert entries["at"].dt.tz is not None
    assert audit.entries(limit=1)["action"].tolist() == ["delete_session"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [(("", "login"), "actor"), (("ana", " "), "action"), (("ana", "login", 5), "target"),
     (("ana", "login", "", "x" * 2001), "detail")],
)
def test_malformed_entries_are_refused(audit, arguments, message):
    with pytest.raises(ValueError, match=message):
        audit.record(*arguments)
    assert audit.entries().empty


def test_an_empty_log_lists_and_exports(audit):
    assert audit.entries().empty
    assert audit.export_csv().strip() == "at,actor,action,target,detail"
    with pytest.raises(ValueError, match="limit"):
        audit.entries(0)


def test_the_csv_export_holds_every_entry_and_defuses_formulas(audit):
    audit.record("=HYPERLINK(\"http://x\")", "login")
    audit.record("ana", "export_session", "session 1")
    table = pd.read_csv(io.StringIO(audit.export_csv()))
    assert table["action"].tolist() == ["export_session", "login"]
    assert table.loc[1, "actor"].startswith("'=")
    assert datetime.fromisoformat(table.loc[0, "at"]).tzinfo is not None


def test_control_characters_in_any_field_are_escaped_onto_one_line(audit):
    forged = "admin1\n2026-01-01T00:00:00 | cli:root | delete_session"
    audit.record(forged, "list\r_users", "user\x1b[2J 1", "a\u2028b\u202ec")
    (entry,) = audit.entries().to_dict("records")
    assert entry["actor"] == "admin1\\n2026-01-01T00:00:00 | cli:root | delete_session"
    assert entry["action"] == "list\\r_users"
    assert entry["target"] == "user\\x1b[2J 1"
    assert entry["detail"] == "a\\u2028b\\u202ec"
    assert len(audit.export_csv().splitlines()) == 2


def test_a_nul_in_a_field_is_recorded_escaped(audit):
    # What was typed into a login form is recorded, never refused (PostgreSQL cannot store a
    # NUL in text).
    audit.record("who\x00ever", "login_failed")
    assert audit.entries()["actor"].tolist() == ["who\\x00ever"]


def test_a_field_within_its_limit_is_recorded_however_long_its_escapes(audit):
    # The longest client code a consent takes, and invisible format characters, whose escapes
    # are longer than they are: both are recorded.
    audit.record("ana", "view_client_history", "client " + "C" * 200, "\u202e" * 2000)
    (entry,) = audit.entries().to_dict("records")
    assert entry["target"] == "client " + "C" * 200
    assert entry["detail"] == "\\u202e" * 2000
    with pytest.raises(ValueError, match="target is longer than"):
        audit.record("ana", "view_client_history", "client " + "C" * 250)
