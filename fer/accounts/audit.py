"""The audit log: who logged in, viewed, exported, deleted what, and when. Append-only.

Entries name people by account and sessions or consents by id, never a client's name, so that
erasing a name leaves nothing of it here. The database's triggers refuse any change to an entry.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select

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
)
COLUMNS = ("at", "actor", "action", "target", "detail")
MAX_FIELD_LENGTH = 200
MAX_DETAIL_LENGTH = 2000
# Spreadsheets run a cell starting with one of these as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _spreadsheet_safe(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


class AuditLog:
    """The audit log in the session database (``location``: file path or PostgreSQL URL)."""

    def __init__(self, location: str | Path = DEFAULT_SESSION_DB):
        self.engine = open_engine(location)

    def __repr__(self) -> str:
        return f"AuditLog({self.engine.url.render_as_string(hide_password=True)!r})"

    def record(self, actor: str, action: str, target: str = "", detail: str = "") -> None:
        """Append one entry, stamped with the current time (UTC)."""
        entry = {
            "at": datetime.now(UTC),
            "actor": validate_text(actor, "The audit entry's actor", MAX_FIELD_LENGTH, True),
            "action": validate_text(action, "The audit entry's action", MAX_FIELD_LENGTH, True),
            "target": validate_text(target, "The audit entry's target", MAX_FIELD_LENGTH, False),
            "detail": validate_text(detail, "The audit entry's detail", MAX_DETAIL_LENGTH, False),
        }
        with write_transaction(self.engine) as connection:
            connection.execute(audit_log.insert().values(**entry))

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
