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

import io
import json
import math
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from fer.config import DEFAULT_SESSION_DB
from fer.emotions import EMOTIONS, UNCERTAIN

SCHEMA_VERSION = 1
SOURCES = ("live", "image", "video")
CONSENT_STATEMENT = (
    "I agree that my face is analysed by this software during the session and that the "
    "results are stored for my clinician. I can withdraw this consent at any time."
)
MAX_NAME_LENGTH = 200
MAX_NOTES_LENGTH = 20_000
# A consent time a little ahead of this machine's clock is tolerated (clients' clocks drift).
_CLOCK_SKEW = timedelta(seconds=5)
_PROBABILITY_TOLERANCE = 1e-3

_SCHEMA = """
CREATE TABLE IF NOT EXISTS consents (
    id INTEGER PRIMARY KEY,
    given_by TEXT NOT NULL CHECK (length(trim(given_by)) > 0),
    given_at TEXT NOT NULL,
    statement TEXT NOT NULL,
    withdrawn_at TEXT
);
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY,
    consent_id INTEGER NOT NULL REFERENCES consents(id),
    consent_by TEXT NOT NULL,
    consent_given_at TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    model TEXT NOT NULL,
    classes TEXT NOT NULL,
    source TEXT NOT NULL,
    notes TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS frames (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    t_seconds REAL NOT NULL,
    track_id INTEGER NOT NULL,
    x REAL NOT NULL,
    y REAL NOT NULL,
    w REAL NOT NULL,
    h REAL NOT NULL,
    probs BLOB NOT NULL,
    smoothed BLOB NOT NULL,
    label TEXT NOT NULL,
    confidence REAL NOT NULL,
    landmarks BLOB,
    blendshapes TEXT
);
CREATE INDEX IF NOT EXISTS frames_by_session ON frames (session_id, t_seconds, track_id);
"""

_FRAME_COLUMNS = (
    "session_id, t_seconds, track_id, x, y, w, h, probs, smoothed, label, confidence, "
    "landmarks, blendshapes"
)


class ConsentError(ValueError):
    """A write about a person was attempted without a valid consent record."""


class SessionNotFoundError(ValueError):
    pass


@dataclass(frozen=True)
class Consent:
    id: int
    given_by: str
    given_at: datetime
    statement: str
    withdrawn_at: datetime | None = None


@dataclass(frozen=True)
class SessionInfo:
    id: int
    consent_id: int
    consent_by: str
    consent_given_at: datetime
    started_at: datetime
    ended_at: datetime | None
    model: str
    classes: tuple[str, ...]
    source: str
    notes: str
    n_frames: int

    def as_json_dict(self) -> dict[str, Any]:
        """Metadata with times as ISO 8601 strings (what the JSON export writes)."""
        return {
            "id": self.id,
            "consent_id": self.consent_id,
            "consent_by": self.consent_by,
            "consent_given_at": self.consent_given_at.isoformat(),
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "model": self.model,
            "classes": list(self.classes),
            "source": self.source,
            "notes": self.notes,
            "n_frames": self.n_frames,
        }


@dataclass(frozen=True)
class FrameRecord:
    """One face in one frame, as stored; ``from_result`` reads a pipeline ``FaceResult``."""

    t_seconds: float
    track_id: int
    bbox: tuple[float, float, float, float]
    probs: NDArray[np.float32]
    smoothed: NDArray[np.float32]
    label: str
    confidence: float
    landmarks: NDArray[np.float32] | None = None
    blendshapes: dict[str, float] | None = None

    @classmethod
    def from_result(cls, t_seconds: float, result: Any) -> FrameRecord:
        return cls(
            t_seconds=t_seconds,
            track_id=result.track_id,
            bbox=tuple(result.bbox),
            probs=result.probs,
            smoothed=result.smoothed,
            label=result.label,
            confidence=result.confidence,
            landmarks=getattr(result, "landmarks", None),
            blendshapes=getattr(result, "blendshapes", None),
        )


# --- conversions ------------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC)


def _as_utc(value: datetime, what: str) -> datetime:
    if not isinstance(value, datetime):
        raise ValueError(f"{what} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None:
        raise ValueError(f"{what} must carry a time zone (e.g. datetime.now(UTC)), got {value}")
    return value.astimezone(UTC)


def _parse_time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _finite_number(value: Any, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{what} must be finite, got {number}")
    return number


def _float32_blob(values: Any, shape: tuple[int | None, ...], what: str) -> bytes:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be numeric, got {type(values).__name__}") from None
    if array.ndim != len(shape) or any(
        expected is not None and size != expected
        for size, expected in zip(array.shape, shape, strict=True)
    ):
        wanted = "(" + ", ".join("N" if size is None else str(size) for size in shape) + ")"
        raise ValueError(f"{what} must have shape {wanted}, got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{what} contains NaN or infinite values")
    return array.astype("<f4").tobytes()


def _probabilities_blob(values: Any, n_classes: int, what: str) -> bytes:
    blob = _float32_blob(values, (n_classes,), what)
    array = np.frombuffer(blob, "<f4")
    if array.min() < -_PROBABILITY_TOLERANCE or array.max() > 1 + _PROBABILITY_TOLERANCE:
        raise ValueError(f"{what} must lie in [0, 1], got {array.tolist()}")
    return blob


def encode_frame(record: FrameRecord, classes: Sequence[str]) -> tuple:
    """Validate ``record`` against ``classes`` and return its row (without the session id).

    Raises ``ValueError`` naming the first problem. Pure: no database access, so recorders can
    validate on the thread that produced the result.
    """
    if not isinstance(record, FrameRecord):
        raise ValueError(f"expected a FrameRecord, got {type(record).__name__}")
    t_seconds = _finite_number(record.t_seconds, "t_seconds")
    if t_seconds < 0:
        raise ValueError(f"t_seconds must be >= 0, got {t_seconds}")
    if isinstance(record.track_id, bool) or not isinstance(record.track_id, int | np.integer):
        raise ValueError(f"track_id must be an integer, got {record.track_id!r}")
    if record.track_id < 0:
        raise ValueError(f"track_id must be >= 0, got {record.track_id}")
    if len(record.bbox) != 4:
        raise ValueError(f"bbox must be (x, y, w, h), got {record.bbox!r}")
    x, y, w, h = (_finite_number(value, "bbox") for value in record.bbox)
    if w < 0 or h < 0:
        raise ValueError(f"bbox width and height must be >= 0, got {record.bbox!r}")
    probs = _probabilities_blob(record.probs, len(classes), "probs")
    smoothed = _probabilities_blob(record.smoothed, len(classes), "smoothed")
    if record.label != UNCERTAIN and record.label not in classes:
        raise ValueError(f"label {record.label!r} is not one of {list(classes)} or {UNCERTAIN!r}")
    confidence = _finite_number(record.confidence, "confidence")
    if not 0 <= confidence <= 1 + _PROBABILITY_TOLERANCE:
        raise ValueError(f"confidence must lie in [0, 1], got {confidence}")
    landmarks = None
    if record.landmarks is not None:
        landmarks = _float32_blob(record.landmarks, (None, 2), "landmarks")
    blendshapes = None
    if record.blendshapes is not None:
        if not isinstance(record.blendshapes, dict) or not all(
            isinstance(name, str) for name in record.blendshapes
        ):
            raise ValueError("blendshapes must be a dict of name -> score")
        blendshapes = json.dumps(
            {name: _finite_number(score, f"blendshape {name!r}")
             for name, score in record.blendshapes.items()},
            allow_nan=False,
        )
    return (
        t_seconds, int(record.track_id), x, y, w, h, probs, smoothed, str(record.label),
        round(min(confidence, 1.0), 6), landmarks, blendshapes,
    )


def _validate_classes(classes: Sequence[str]) -> tuple[str, ...]:
    if isinstance(classes, str) or not isinstance(classes, Sequence) or not classes:
        raise ValueError(f"classes must be a non-empty list of emotion names, got {classes!r}")
    names = tuple(classes)
    unknown = [name for name in names if name not in EMOTIONS]
    if unknown:
        raise ValueError(f"classes {unknown} are not known emotions ({', '.join(EMOTIONS)})")
    if len(set(names)) != len(names):
        raise ValueError(f"classes repeat a name: {list(names)}")
    return names


def _validate_text(value: Any, what: str, max_length: int, required: bool) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be text, got {type(value).__name__}")
    text = value.strip()
    if required and not text:
        raise ValueError(f"{what} must not be empty")
    if len(text) > max_length:
        raise ValueError(f"{what} is longer than {max_length} characters")
    return text


# --- the store --------------------------------------------------------------------------------


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
            connection.executescript(_SCHEMA)
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
        name = _validate_text(given_by, "The name of the person consenting", MAX_NAME_LENGTH, True)
        text = _validate_text(statement, "The consent statement", MAX_NOTES_LENGTH, True)
        when = _now() if given_at is None else _as_utc(given_at, "given_at")
        if when > _now() + _CLOCK_SKEW:
            raise ValueError(f"Consent cannot be given in the future ({when.isoformat()})")
        with self._transaction() as connection:
            cursor = connection.execute(
                "INSERT INTO consents (given_by, given_at, statement) VALUES (?, ?, ?)",
                (name, when.isoformat(), text),
            )
        return Consent(int(cursor.lastrowid), name, when, text)

    def get_consent(self, consent_id: int) -> Consent:
        with self._connect() as connection:
            row = connection.execute(
                "SELECT id, given_by, given_at, statement, withdrawn_at FROM consents WHERE id=?",
                (_id(consent_id, "consent_id"),),
            ).fetchone()
        if row is None:
            raise ConsentError(f"No consent record {consent_id}")
        return Consent(row[0], row[1], _parse_time(row[2]), row[3], _parse_time(row[4]))

    def withdraw_consent(self, consent_id: int, at: datetime | None = None) -> None:
        """Mark a consent withdrawn and end its open sessions; no frame can be added afterwards.

        Stored data is kept until deleted with ``delete_session``.
        """
        when = (_now() if at is None else _as_utc(at, "at")).isoformat()
        with self._transaction() as connection:
            updated = connection.execute(
                "UPDATE consents SET withdrawn_at=? WHERE id=? AND withdrawn_at IS NULL",
                (when, _id(consent_id, "consent_id")),
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
        consent_id = _id(consent_id, "consent_id")
        model = _validate_text(model, "model", MAX_NAME_LENGTH, True)
        names = _validate_classes(classes)
        if source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
        notes = _validate_text(notes, "notes", MAX_NOTES_LENGTH, False)
        started = _now() if started_at is None else _as_utc(started_at, "started_at")
        ended = None if ended_at is None else _as_utc(ended_at, "ended_at")
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
            if started < _parse_time(consent[1]):
                raise ConsentError(
                    f"A session cannot start ({started.isoformat()}) before consent was given "
                    f"({consent[1]})"
                )
            cursor = connection.execute(
                "INSERT INTO sessions (consent_id, consent_by, consent_given_at, started_at, "
                "ended_at, model, classes, source, notes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (consent_id, consent[0], consent[1], started.isoformat(),
                 ended.isoformat() if ended else None, model, json.dumps(list(names)), source,
                 notes),
            )
            session_id = int(cursor.lastrowid)
            self._insert_rows(connection, session_id, rows)
        return session_id

    def end_session(self, session_id: int, ended_at: datetime | None = None) -> None:
        """Set the session's end time (once; ending an ended session changes nothing)."""
        when = (_now() if ended_at is None else _as_utc(ended_at, "ended_at")).isoformat()
        with self._transaction() as connection:
            self._require_session(connection, session_id)
            connection.execute(
                "UPDATE sessions SET ended_at=? WHERE id=? AND ended_at IS NULL",
                (when, session_id),
            )

    def set_notes(self, session_id: int, notes: str) -> None:
        notes = _validate_text(notes, "notes", MAX_NOTES_LENGTH, False)
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
            (_id(session_id, "session_id"),),
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
            f"INSERT INTO frames ({_FRAME_COLUMNS}) VALUES ({', '.join('?' * 13)})",
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
            id=row[0], consent_id=row[1], consent_by=row[2],
            consent_given_at=_parse_time(row[3]), started_at=_parse_time(row[4]),
            ended_at=_parse_time(row[5]), model=row[6], classes=tuple(json.loads(row[7])),
            source=row[8], notes=row[9], n_frames=row[10],
        )

    def get_session(self, session_id: int) -> SessionInfo:
        with self._connect() as connection:
            row = connection.execute(
                f"{self._SESSION_QUERY} WHERE s.id=?", (_id(session_id, "session_id"),)
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
        """The frames table as CSV text (a ``session_id`` column first; blendshape scores as
        ``blendshape_<name>`` columns; landmarks are left to the JSON export)."""
        frame = self.load_frames(session_id, include_extras=True)
        blendshapes = pd.DataFrame(
            [value or {} for value in frame["blendshapes"]], index=frame.index
        ).add_prefix("blendshape_")
        frame = pd.concat([frame.drop(columns=["landmarks", "blendshapes"]), blendshapes], axis=1)
        frame.insert(0, "session_id", session_id)
        buffer = io.StringIO()
        frame.to_csv(buffer, index=False)
        return buffer.getvalue()

    def export_json(self, session_id: int, include_landmarks: bool = True) -> str:
        """Session metadata and frames as a JSON document (``{"session": …, "frames": […]}``)."""
        info = self.get_session(session_id)
        frame = self.load_frames(session_id, include_extras=True)
        records = []
        for row in frame.itertuples(index=False):
            item = {
                "t_seconds": row.t_seconds,
                "track_id": row.track_id,
                "bbox": [row.x, row.y, row.w, row.h],
                "label": row.label,
                "confidence": row.confidence,
                "probs": {name: getattr(row, f"prob_{name}") for name in info.classes},
                "smoothed": {name: getattr(row, f"smoothed_{name}") for name in info.classes},
                "blendshapes": row.blendshapes,
            }
            if include_landmarks:
                item["landmarks"] = (
                    None if row.landmarks is None
                    else np.round(row.landmarks.astype(np.float64), 6).tolist()
                )
            records.append(item)
        return json.dumps({"session": info.as_json_dict(), "frames": records}, allow_nan=False)


def _id(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


# --- batching recorder ------------------------------------------------------------------------


class SessionRecorder:
    """Buffers frame results in memory and writes them to the store in batches.

    ``add`` validates and buffers without touching SQLite, so a webrtc frame callback may call it;
    the page thread calls ``maybe_flush`` on every pass of its loop, which writes when
    ``flush_interval_s`` (at most 1 s) has passed since the last write or ``max_batch`` rows are
    waiting. ``close`` writes the rest and ends the session. All methods are thread-safe.

    When nobody flushes (the page went away) the buffer stops growing at ``max_pending`` rows and
    counts what it drops in ``n_dropped``.
    """

    def __init__(
        self,
        store: SessionStore,
        session_id: int,
        flush_interval_s: float = 0.5,
        max_batch: int = 500,
        max_pending: int = 20_000,
        clock: Callable[[], float] = time.monotonic,
    ):
        if not 0 < flush_interval_s <= 1:
            raise ValueError(f"flush_interval_s must be in (0, 1], got {flush_interval_s}")
        if max_batch < 1 or max_pending < max_batch:
            raise ValueError("need 1 <= max_batch <= max_pending")
        info = store.get_session(session_id)
        if info.ended_at is not None:
            raise ValueError(f"Session {session_id} has ended; start a new one to record")
        self.store = store
        self.session_id = session_id
        self.classes = info.classes
        self.flush_interval_s = flush_interval_s
        self.max_batch = max_batch
        self.max_pending = max_pending
        self._clock = clock
        self._lock = threading.Lock()  # guards the buffer and counters
        self._flush_lock = threading.Lock()  # keeps batches in order
        self._pending: list[tuple] = []
        self._last_flush = clock()
        self.n_written = 0
        self.n_dropped = 0
        self.closed = False

    @property
    def n_pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def add(self, t_seconds: float, results: Iterable[Any]) -> int:
        """Buffer a frame's face results (pipeline ``FaceResult``s) at ``t_seconds``."""
        return self.add_records(FrameRecord.from_result(t_seconds, result) for result in results)

    def add_records(self, records: Iterable[FrameRecord]) -> int:
        rows = [encode_frame(record, self.classes) for record in records]
        with self._lock:
            if self.closed:
                raise ValueError(f"The recorder for session {self.session_id} is closed")
            room = self.max_pending - len(self._pending)
            self.n_dropped += max(0, len(rows) - room)
            self._pending.extend(rows[: max(room, 0)])
        return len(rows)

    def due(self) -> bool:
        with self._lock:
            waiting = len(self._pending)
            elapsed = self._clock() - self._last_flush
        return waiting >= self.max_batch or (waiting > 0 and elapsed >= self.flush_interval_s)

    def maybe_flush(self) -> int:
        """Write the buffer if it is due; return the number of rows written."""
        return self.flush() if self.due() else 0

    def flush(self) -> int:
        """Write everything buffered now in one transaction; on failure keep it for a retry."""
        with self._flush_lock:
            with self._lock:
                batch, self._pending = self._pending, []
            try:
                self.store.insert_encoded(self.session_id, batch)
            except BaseException:
                with self._lock:
                    self._pending[:0] = batch
                raise
            with self._lock:
                self.n_written += len(batch)
                self._last_flush = self._clock()
            return len(batch)

    def close(self) -> int:
        """Flush, end the session and refuse further rows; return the rows written overall."""
        with self._lock:
            if self.closed:
                return self.n_written
            self.closed = True  # first, so no row can slip in after the final flush
        self.flush()
        self.store.end_session(self.session_id)
        return self.n_written
