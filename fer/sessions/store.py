"""Session store: consent records, sessions and per-frame results in SQLite.

Nothing about a person is stored before that person's consent is on record. ``create_session``
needs the id of a stored, unwithdrawn consent (``ConsentError`` otherwise), and the schema's
``NOT NULL`` foreign key makes the same demand of any other writer. A withdrawn consent ends its
sessions and blocks further frames.

Every write runs in one transaction after the whole input has been validated, so malformed input
raises ``ValueError`` and leaves the database as it was. Each call opens its own connection: the
store can be shared between threads (Streamlit sessions, a recorder's page thread), and WAL mode
lets readers (a timeline page) run while a recorder writes.

Arrays are stored compactly as little-endian float32 blobs; blendshapes as JSON text.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from fer.config import DEFAULT_SESSION_DB
from fer.sessions.exports import frames_csv, session_json
from fer.sessions.records import (
    Consent,
    ConsentError,
    FrameRecord,
    SessionInfo,
    SessionNotFoundError,
    as_utc,
    encode_frame,
    parse_time,
    positive_id,
    utc_now,
    validate_classes,
    validate_text,
)
from fer.sessions.schema import (
    CLOCK_SKEW,
    CONSENT_STATEMENT,
    FRAME_COLUMNS,
    MAX_NAME_LENGTH,
    MAX_NOTES_LENGTH,
    SCHEMA,
    SCHEMA_VERSION,
    SOURCES,
)


def _inserted_id(cursor: sqlite3.Cursor) -> int:
    """The row id an ``INSERT`` gave (typeshed allows ``None``, which only non-inserts give)."""
    if cursor.lastrowid is None:
        raise RuntimeError("SQLite reported no row id for an INSERT")
    return cursor.lastrowid


class SessionStore:
    """Sessions and their frame results in one SQLite file (WAL mode).

    Parameters
    ----------
    path:
        Database file; created with its parent folder if missing. Defaults to
        ``fer.config.DEFAULT_SESSION_DB``.
    """

    def __init__(self, path: str | Path = DEFAULT_SESSION_DB):
        if str(path) in ("", ":memory:") or str(path).startswith("file:"):
            raise ValueError(
                "SessionStore needs a database file path (each call opens its own connection, "
                "so an in-memory database would be empty on every call)"
            )
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as connection:
            self.journal_mode = connection.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise ValueError(
                    f"{self.path} has schema version {version}; this code reads up to "
                    f"{SCHEMA_VERSION}. Update the software or use another database."
                )
            connection.executescript(SCHEMA)
            connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def __repr__(self) -> str:
        return f"SessionStore({str(self.path)!r})"

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # Autocommit mode: transactions are explicit (see _transaction).
        connection = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        try:
            connection.execute("PRAGMA foreign_keys=ON")
            connection.execute("PRAGMA busy_timeout=10000")
            yield connection
        finally:
            connection.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: everything inside commits together or not at all."""
        with self._connect() as connection:
            # IMMEDIATE takes the write lock now, so checks and writes see the same state.
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    # consent ----------------------------------------------------------------------------------

    def record_consent(
        self,
        given_by: str,
        given_at: datetime | None = None,
        statement: str = CONSENT_STATEMENT,
    ) -> Consent:
        """Store that ``given_by`` consented (now, or at ``given_at``) to ``statement``."""
        name = validate_text(given_by, "The name of the person consenting", MAX_NAME_LENGTH, True)
        text = validate_text(statement, "The consent statement", MAX_NOTES_LENGTH, True)
        when = utc_now() if given_at is None else as_utc(given_at, "given_at")
        if when > utc_now() + CLOCK_SKEW:
            raise ValueError(f"Consent cannot be given in the future ({when.isoformat()})")
        with self._transaction() as connection:
            cursor = connection.execute(
                "INSERT INTO consents (given_by, given_at, statement) VALUES (?, ?, ?)",
                (name, when.isoformat(), text),
            )
        return Consent(_inserted_id(cursor), name, when, text)

    def get_consent(self, consent_id: int) -> Consent:
        with self._connect() as connection:
            row = connection.execute(
                "SELECT id, given_by, given_at, statement, withdrawn_at FROM consents WHERE id=?",
                (positive_id(consent_id, "consent_id"),),
            ).fetchone()
        if row is None:
            raise ConsentError(f"No consent record {consent_id}")
        return Consent(row[0], row[1], parse_time(row[2]), row[3], parse_time(row[4]))

    def withdraw_consent(self, consent_id: int, at: datetime | None = None) -> None:
        """Mark a consent withdrawn and end its open sessions; no frame can be added afterwards.

        Stored data is kept until deleted with ``delete_session``.
        """
        when = (utc_now() if at is None else as_utc(at, "at")).isoformat()
        with self._transaction() as connection:
            updated = connection.execute(
                "UPDATE consents SET withdrawn_at=? WHERE id=? AND withdrawn_at IS NULL",
                (when, positive_id(consent_id, "consent_id")),
            ).rowcount
            if not updated:
                known = connection.execute(
                    "SELECT 1 FROM consents WHERE id=?", (consent_id,)
                ).fetchone()
                if known is None:
                    raise ConsentError(f"No consent record {consent_id}")
            connection.execute(
                "UPDATE sessions SET ended_at=? WHERE consent_id=? AND ended_at IS NULL",
                (when, consent_id),
            )

    # sessions ---------------------------------------------------------------------------------

    def create_session(
        self,
        consent_id: int | None,
        model: str,
        classes: Sequence[str],
        source: str,
        notes: str = "",
        started_at: datetime | None = None,
        frames: Iterable[FrameRecord] = (),
        ended_at: datetime | None = None,
    ) -> int:
        """Start a session under a stored consent and return its id.

        ``frames`` are written in the same transaction (an analysed upload is stored whole or not
        at all); ``ended_at`` closes the session at once.

        Raises ``ConsentError`` when ``consent_id`` is missing, unknown or withdrawn, and
        ``ValueError`` for malformed metadata or frames.
        """
        if consent_id is None:
            raise ConsentError(
                "A session can only be created after consent is recorded "
                "(SessionStore.record_consent)"
            )
        consent_id = positive_id(consent_id, "consent_id")
        model = validate_text(model, "model", MAX_NAME_LENGTH, True)
        names = validate_classes(classes)
        if source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
        notes = validate_text(notes, "notes", MAX_NOTES_LENGTH, False)
        started = utc_now() if started_at is None else as_utc(started_at, "started_at")
        ended = None if ended_at is None else as_utc(ended_at, "ended_at")
        if ended is not None and ended < started:
            raise ValueError(f"ended_at ({ended}) is before started_at ({started})")
        rows = [encode_frame(record, names) for record in frames]
        with self._transaction() as connection:
            consent = connection.execute(
                "SELECT given_by, given_at, withdrawn_at FROM consents WHERE id=?", (consent_id,)
            ).fetchone()
            if consent is None:
                raise ConsentError(f"No consent record {consent_id}; record consent first")
            if consent[2] is not None:
                raise ConsentError(f"Consent {consent_id} was withdrawn at {consent[2]}")
            if started < parse_time(consent[1]):
                raise ConsentError(
                    f"A session cannot start ({started.isoformat()}) before consent was given "
                    f"({consent[1]})"
                )
            cursor = connection.execute(
                "INSERT INTO sessions (consent_id, consent_by, consent_given_at, started_at, "
                "ended_at, model, classes, source, notes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    consent_id,
                    consent[0],
                    consent[1],
                    started.isoformat(),
                    ended.isoformat() if ended else None,
                    model,
                    json.dumps(list(names)),
                    source,
                    notes,
                ),
            )
            session_id = _inserted_id(cursor)
            self._insert_rows(connection, session_id, rows)
        return session_id

    def end_session(self, session_id: int, ended_at: datetime | None = None) -> None:
        """Set the session's end time (once; ending an ended session changes nothing)."""
        when = (utc_now() if ended_at is None else as_utc(ended_at, "ended_at")).isoformat()
        with self._transaction() as connection:
            self._require_session(connection, session_id)
            connection.execute(
                "UPDATE sessions SET ended_at=? WHERE id=? AND ended_at IS NULL",
                (when, session_id),
            )

    def set_notes(self, session_id: int, notes: str) -> None:
        notes = validate_text(notes, "notes", MAX_NOTES_LENGTH, False)
        with self._transaction() as connection:
            self._require_session(connection, session_id)
            connection.execute("UPDATE sessions SET notes=? WHERE id=?", (notes, session_id))

    def delete_session(self, session_id: int) -> None:
        """Delete a session and all its frames (the consent record stays as evidence)."""
        with self._transaction() as connection:
            self._require_session(connection, session_id)
            connection.execute("DELETE FROM frames WHERE session_id=?", (session_id,))
            connection.execute("DELETE FROM sessions WHERE id=?", (session_id,))

    @staticmethod
    def _require_session(connection: sqlite3.Connection, session_id: int) -> tuple:
        row = connection.execute(
            "SELECT s.classes, s.ended_at, c.withdrawn_at FROM sessions s "
            "JOIN consents c ON c.id = s.consent_id WHERE s.id=?",
            (positive_id(session_id, "session_id"),),
        ).fetchone()
        if row is None:
            raise SessionNotFoundError(f"No session {session_id}")
        return row

    # frames -----------------------------------------------------------------------------------

    def add_frames(self, session_id: int, records: Iterable[FrameRecord]) -> int:
        """Validate and append frame records in one transaction; return how many were written."""
        classes = self.get_session(session_id).classes
        rows = [encode_frame(record, classes) for record in records]
        return self.insert_encoded(session_id, rows)

    def insert_encoded(self, session_id: int, rows: Sequence[tuple]) -> int:
        """Append rows made by ``encode_frame`` for this session's classes (one transaction)."""
        if not rows:
            return 0
        with self._transaction() as connection:
            _, ended_at, withdrawn_at = self._require_session(connection, session_id)
            if withdrawn_at is not None:
                raise ConsentError(f"Consent for session {session_id} was withdrawn")
            if ended_at is not None:
                raise ValueError(f"Session {session_id} ended at {ended_at}; start a new one")
            self._insert_rows(connection, session_id, rows)
        return len(rows)

    @staticmethod
    def _insert_rows(connection: sqlite3.Connection, session_id: int, rows: Sequence[tuple]):
        connection.executemany(
            f"INSERT INTO frames ({FRAME_COLUMNS}) VALUES ({', '.join('?' * 13)})",
            [(session_id, *row) for row in rows],
        )

    # reading ----------------------------------------------------------------------------------

    _SESSION_QUERY = (
        "SELECT s.id, s.consent_id, s.consent_by, s.consent_given_at, s.started_at, s.ended_at, "
        "s.model, s.classes, s.source, s.notes, "
        "(SELECT count(*) FROM frames f WHERE f.session_id = s.id) FROM sessions s"
    )

    @staticmethod
    def _session_from_row(row: tuple) -> SessionInfo:
        return SessionInfo(
            id=row[0],
            consent_id=row[1],
            consent_by=row[2],
            consent_given_at=parse_time(row[3]),
            started_at=parse_time(row[4]),
            ended_at=parse_time(row[5]),
            model=row[6],
            classes=tuple(json.loads(row[7])),
            source=row[8],
            notes=row[9],
            n_frames=row[10],
        )

    def get_session(self, session_id: int) -> SessionInfo:
        with self._connect() as connection:
            row = connection.execute(
                f"{self._SESSION_QUERY} WHERE s.id=?", (positive_id(session_id, "session_id"),)
            ).fetchone()
        if row is None:
            raise SessionNotFoundError(f"No session {session_id}")
        return self._session_from_row(row)

    def list_sessions(self) -> list[SessionInfo]:
        """All sessions, newest first."""
        with self._connect() as connection:
            rows = connection.execute(f"{self._SESSION_QUERY} ORDER BY s.id DESC").fetchall()
        return [self._session_from_row(row) for row in rows]

    def load_frames(self, session_id: int, include_extras: bool = False) -> pd.DataFrame:
        """A session's frames ordered by time and track.

        Columns: ``t_seconds, track_id, x, y, w, h, label, confidence``, then ``prob_<class>``
        and ``smoothed_<class>`` for each class in the session's order; with ``include_extras``
        also ``landmarks`` ((N, 2) arrays or None) and ``blendshapes`` (dicts or None).
        """
        classes = self.get_session(session_id).classes
        with self._connect() as connection:
            rows = connection.execute(
                "SELECT t_seconds, track_id, x, y, w, h, label, confidence, probs, smoothed, "
                "landmarks, blendshapes FROM frames WHERE session_id=? "
                "ORDER BY t_seconds, track_id, id",
                (session_id,),
            ).fetchall()
        n_classes = len(classes)
        columns = ["t_seconds", "track_id", "x", "y", "w", "h", "label", "confidence"]
        frame = pd.DataFrame([row[:8] for row in rows], columns=columns)
        frame = frame.astype({"t_seconds": float, "track_id": int, "confidence": float})
        for offset, prefix in ((8, "prob"), (9, "smoothed")):
            values = np.frombuffer(b"".join(row[offset] for row in rows), "<f4")
            # Six decimals: what float32 holds, without float32-to-decimal noise in exports.
            values = np.round(values.reshape(len(rows), n_classes).astype(np.float64), 6)
            for index, name in enumerate(classes):
                frame[f"{prefix}_{name}"] = values[:, index]
        if include_extras:
            frame["landmarks"] = [
                None if row[10] is None else np.frombuffer(row[10], "<f4").reshape(-1, 2)
                for row in rows
            ]
            frame["blendshapes"] = [
                None if row[11] is None else json.loads(row[11]) for row in rows
            ]
        return frame

    # export -----------------------------------------------------------------------------------

    def export_csv(self, session_id: int) -> str:
        """The frames table as CSV text (see :func:`fer.sessions.exports.frames_csv`)."""
        return frames_csv(self.load_frames(session_id, include_extras=True), session_id)

    def export_json(self, session_id: int, include_landmarks: bool = True) -> str:
        """Session metadata and frames as a JSON document (``{"session": …, "frames": […]}``)."""
        frame = self.load_frames(session_id, include_extras=True)
        return session_json(self.get_session(session_id), frame, include_landmarks)


__all__ = ["SessionStore"]
