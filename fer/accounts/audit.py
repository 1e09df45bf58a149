"""The audit log: who logged in, viewed, exported, deleted what, and when. Append-only.

Entries name people by account and sessions or consents by id, never a client's name, so that
erasing a name leaves nothing of it here. The database's triggers refuse any change to an entry.
"""

from __future__ import annotations

import io
import sys
import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Connection, select

from fer.config import DEFAULT_SESSION_DB
from fer.storage.database import open_engine, read_connection, write_transaction
from fer.storage.tables import audit_log
from fer.storage.text_fields import validate_text

# What the app and the command line record (other actions are allowed).
ACTIONS = (
    "login",
    "login_failed",
    "logout",
    "view_session",
    "export_session",
    "delete_session",
    "withdraw_consent",
    "erase_consent_name",
    "share_session",
    "add_user",
    "disable_user",
    "set_role",
    "set_password",
    "purge_sessions",
    "close_abandoned_sessions",
    "erase_free_space",
)
COLUMNS = ("at", "actor", "action", "target", "detail")
MAX_FIELD_LENGTH = 200
# What an entry is about: a kind and an id, or a client code of up to 200 characters
# (fer.sessions.schema.MAX_NAME_LENGTH) as in "client C-007".
MAX_TARGET_LENGTH = 250
MAX_DETAIL_LENGTH = 2000
# Spreadsheets run a cell starting with one of these as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Control characters, invisible format characters (bidirectional overrides) and line or
# paragraph separators: in an entry's field they could fake a line break or hide text.
_ESCAPED_CATEGORIES = ("Cc", "Cf", "Zl", "Zp")


def _one_line(value: Any) -> Any:
    """``value`` with control, format and line-separator characters written as escapes
    (``\\n``, ``\\x1b``, ``\\u2028``), so that one entry always reads as one line."""
    if not isinstance(value, str):
        return value
    return "".join(
        character.encode("unicode_escape").decode("ascii")
        if unicodedata.category(character) in _ESCAPED_CATEGORIES
        else character
        for character in value
    )


def _spreadsheet_safe(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def append_entry(
    connection: Connection, actor: str, action: str, target: str = "", detail: str = ""
) -> None:
    """Append one entry, stamped with the current time (UTC), inside the caller's transaction:
    a store that changes data writes its entry here, so the change and its record commit
    together or not at all.

    Control characters in any field are escaped rather than refused: the action happened and
    must be recorded, and the escaped text keeps the attempt to fake a line visible.
    """
    entry = {
        "at": datetime.now(UTC),
        "actor": _field(actor, "actor", MAX_FIELD_LENGTH, True),
        "action": _field(action, "action", MAX_FIELD_LENGTH, True),
        "target": _field(target, "target", MAX_TARGET_LENGTH, False),
        "detail": _field(detail, "detail", MAX_DETAIL_LENGTH, False),
    }
    connection.execute(audit_log.insert().values(**entry))


def _field(value: Any, name: str, max_length: int, required: bool) -> str:
    what = f"The audit entry's {name}"
    # Escaped before the checks: a NUL typed into a login name is recorded as "\x00", not
    # refused (the attempt happened).
    text = validate_text(_one_line(value), what, sys.maxsize, required)
    # The limit counts the characters given, not their escapes, which are longer: a value
    # within it is recorded whatever characters it holds.
    if len(value.strip()) > max_length:
        raise ValueError(f"{what} is longer than {max_length} characters")
    return text


class AuditLog:
    """The audit log in the session database (``location``: file path or PostgreSQL URL)."""

    def __init__(self, location: str | Path = DEFAULT_SESSION_DB):
        self.engine = open_engine(location)

    def __repr__(self) -> str:
        return f"AuditLog({self.engine.url.render_as_string(hide_password=True)!r})"

    def record(self, actor: str, action: str, target: str = "", detail: str = "") -> None:
        """Append one entry, stamped with the current time (UTC)."""
        with write_transaction(self.engine) as connection:
            append_entry(connection, actor, action, target, detail)

    def entries(self, limit: int = 1000) -> pd.DataFrame:
        """The newest ``limit`` entries, newest first: columns ``at, actor, action, target,
        detail`` (``at`` a time zone-aware datetime)."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"limit must be a positive integer, got {limit!r}")
        return self._frame(limit)

    def _frame(self, limit: int | None) -> pd.DataFrame:
        query = select(*(audit_log.c[name] for name in COLUMNS)).order_by(audit_log.c.id.desc())
        if limit is not None:
            query = query.limit(limit)
        with read_connection(self.engine) as connection:
            rows = connection.execute(query).all()
        frame = pd.DataFrame([tuple(row) for row in rows], columns=list(COLUMNS))
        frame["at"] = pd.to_datetime(frame["at"], utc=True)
        return frame

    def export_csv(self) -> str:
        """Every entry as CSV text, newest first; cells a spreadsheet would run are quoted."""
        frame = self._frame(None)
        frame["at"] = frame["at"].map(lambda value: value.isoformat())
        for column in COLUMNS[1:]:
            frame[column] = frame[column].map(_spreadsheet_safe)
        buffer = io.StringIO()
        frame.to_csv(buffer, index=False)
        return buffer.getvalue()
