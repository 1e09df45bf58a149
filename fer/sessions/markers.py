"""Clinician markers: a timestamped short note at a moment of a session ("mark moment").

A marker belongs to one session and is deleted with it. It is added while the session is open and
its consent stands (the schema's trigger refuses others, see :mod:`fer.storage.migrations`), by
someone who may see the session (the rule of :mod:`fer.sessions.queries`), at a time inside the
session: from its start up to now. The note is plain text, shown as such wherever it appears.
A marker is never edited: once its session has ended, only erasing the client's name
(:func:`fer.sessions.retention.erase_name`) rewrites its note.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection, select

from fer.accounts.users import User
from fer.sessions.queries import locked_session, visible_session
from fer.sessions.records import (
    ConsentError,
    SessionEndedError,
    finite_number,
    positive_id,
)
from fer.sessions.schema import CLOCK_SKEW, MAX_MARKER_NOTE_LENGTH
from fer.storage.database import inserted_id
from fer.storage.tables import markers, users
from fer.storage.text_fields import validate_text

MARKER_COLUMNS = ("id", "t_seconds", "note", "created_by", "created_by_name", "created_at")
# Line breaks and tabs are text; other control characters (escape sequences, NUL) are not.
_ALLOWED_CONTROLS = frozenset("\n\t")


def validate_note(note: Any) -> str:
    """A marker's note: text of at most ``MAX_MARKER_NOTE_LENGTH`` characters, no control codes
    (line breaks and tabs aside); surrounding blanks are dropped and an empty note is allowed."""
    if note is None:
        return ""
    text = validate_text(note, "The marker's note", MAX_MARKER_NOTE_LENGTH, False)
    if any(unicodedata.category(char) == "Cc" and char not in _ALLOWED_CONTROLS for char in text):
        raise ValueError("The marker's note must be plain text (no control characters)")
    return text


def validate_offset(t_seconds: Any) -> float:
    """A marker's time: a finite number of seconds from the session's start, not negative."""
    if isinstance(t_seconds, bool):
        raise ValueError(f"t_seconds must be a number, got {t_seconds!r}")
    value = finite_number(t_seconds, "t_seconds")
    if value < 0:
        raise ValueError(f"t_seconds must be >= 0, got {value}")
    return value


def _author(connection: Connection, created_by: User | int | None) -> User | None:
    if created_by is None or isinstance(created_by, User):
        return created_by
    user_id = positive_id(created_by, "created_by")
    row = connection.execute(select(users).where(users.c.id == user_id)).first()
    if row is None:
        raise ValueError(f"No user {user_id} to make the marker")
    return User(row.id, row.name, row.role, row.disabled_at)


def insert_marker(
    connection: Connection,
    session_id: int,
    t_seconds: Any,
    note: Any,
    created_by: User | int | None,
    now: datetime,
) -> int:
    """Add a marker in an open write transaction and return its id (see the module docstring).

    Raises ``ValueError`` for a malformed time or note or a time outside the session;
    ``SessionEndedError`` for an ended session; ``ConsentError`` when the session's consent
    was withdrawn; ``SessionNotFoundError`` for a session the author may not see.
    """
    offset = validate_offset(t_seconds)
    text = validate_note(note)
    author = _author(connection, created_by)
    info = visible_session(connection, session_id, author)
    state = locked_session(connection, info.id)
    if state.withdrawn_at is not None:
        raise ConsentError(f"Consent for session {info.id} was withdrawn")
    if state.ended_at is not None:
        raise SessionEndedError(f"Session {info.id} has ended; markers are made while it runs")
    elapsed = (now - info.started_at + CLOCK_SKEW).total_seconds()
    if offset > elapsed:
        raise ValueError(
            f"t_seconds ({offset:g}) is after the present moment of session {info.id} "
            f"({max(elapsed, 0.0):.1f} s since it started)"
        )
    return inserted_id(
        connection.execute(
            markers.insert().values(
                session_id=info.id,
                t_seconds=offset,
                note=text,
                created_by=None if author is None else author.id,
                created_at=now,
            )
        )
    )


def markers_table(connection: Connection, session_id: int) -> pd.DataFrame:
    """A session's markers in time order: ``id, t_seconds, note, created_by`` (user id or None),
    ``created_by_name`` and ``created_at``. The caller checks who may see the session."""
    rows = connection.execute(
        select(
            markers.c.id,
            markers.c.t_seconds,
            markers.c.note,
            markers.c.created_by,
            users.c.name.label("created_by_name"),
            markers.c.created_at,
        )
        .select_from(markers.outerjoin(users, users.c.id == markers.c.created_by))
        .where(markers.c.session_id == session_id)
        .order_by(markers.c.t_seconds, markers.c.id)
    ).all()
    table = pd.DataFrame([tuple(row) for row in rows], columns=list(MARKER_COLUMNS))
    table["t_seconds"] = table["t_seconds"].astype(float)
    table["note"] = table["note"].astype(object)
    return table
