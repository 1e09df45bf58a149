"""Session store: consent records, sessions and per-frame results, in SQLite or PostgreSQL.

Nothing about a person is stored before that person's consent is on record. ``create_session``
needs the id of a stored, unwithdrawn consent (``ConsentError`` otherwise), and the schema's
triggers make the same demand of any other writer (see :mod:`fer.storage.migrations`). A
withdrawn consent ends its sessions, blocks further frames and, unless the clinic's policy keeps
the recording, deletes them.

Every write runs in one transaction after the whole input has been validated, so malformed input
raises ``ValueError`` and leaves the database as it was. Each call takes its own connection: the
store can be shared between threads (Streamlit sessions, a recorder's page thread), and readers
(a timeline page) run while a recorder writes. Deletions are followed by
:func:`fer.storage.erasure.erase_free_space`, so deleted values leave the file.

Who sees what: methods that read or delete a session take an optional ``viewer`` (a
:class:`fer.accounts.User`); the rule is in :mod:`fer.sessions.queries`. A session the viewer may
not see raises ``SessionNotFoundError``, as a missing one does.

Arrays are stored compactly as little-endian float32 blobs; blendshapes and the per-face signals
(action units, their asymmetry, head pose) as JSON text. Consent records are kept by the base
classes :class:`fer.sessions.consents.ConsentRegister`, (what is read back and exported)
:class:`fer.sessions.reading.SessionReader` and (deleting sessions)
:class:`fer.sessions.deletion.SessionDeleter`, clinician markers by :mod:`fer.sessions.markers`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Connection, select, update

from fer.accounts.audit import append_entry
from fer.accounts.users import User
from fer.config import DEFAULT_SESSION_DB
from fer.sessions import retention
from fer.sessions.deletion import SessionDeleter
from fer.sessions.markers import insert_marker
from fer.sessions.queries import locked_session, may_hold_patient_data
from fer.sessions.records import (
    ConsentError,
    FrameRecord,
    SessionEndedError,
    as_utc,
    encode_frame,
    positive_id,
    utc_now,
    validate_classes,
)
from fer.sessions.schema import MAX_NAME_LENGTH, MAX_NOTES_LENGTH, SOURCES
from fer.storage.database import (
    inserted_id,
    journal_mode,
    open_engine,
    sqlite_path,
    write_transaction,
)
from fer.storage.installation import read_installation_id
from fer.storage.tables import FRAME_VALUE_COLUMNS, consents, frames, session_shares, sessions
from fer.storage.text_fields import validate_text


def _new_session_id(connection: Connection) -> dict[str, int]:
    """The id of a new session where the database must be told one: on SQLite, one past every
    id a session ever had, deleted ones included (schema revision r0006), because SQLite would
    give a deleted newest session's id again. Empty on PostgreSQL, whose identity column never
    gives an id twice. Called inside the write transaction, which no other writer shares."""
    if connection.dialect.name != "sqlite":
        return {}
    highest = connection.exec_driver_sql(
        "SELECT max(coalesce((SELECT max(id) FROM sessions), 0), "
        "coalesce((SELECT highest FROM session_ids_deleted), 0))"
    ).scalar_one()
    return {"id": int(highest) + 1}


class SessionStore(SessionDeleter):
    """Sessions and their frame results in one database.

    Parameters
    ----------
    location:
        A SQLite file (created 0600 with its folder if missing) or a ``postgresql://`` URL.
        Defaults to ``fer.config.DEFAULT_SESSION_DB``. The schema is migrated on first open.
    """

    def __init__(self, location: str | Path = DEFAULT_SESSION_DB):
        self.engine = open_engine(location)
        self.path = sqlite_path(self.engine)
        self.journal_mode = journal_mode(self.engine)

    def __repr__(self) -> str:
        return f"SessionStore({self.engine.url.render_as_string(hide_password=True)!r})"

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.engine.dialect.name

    def installation_id(self) -> uuid.UUID:
        """The database's own random id (:mod:`fer.storage.installation`): the same for every
        reader of this database, different in every other one."""
        return read_installation_id(self.engine)

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
        owner_id: int | None = None,
        actor: str | None = None,
    ) -> int:
        """Start a session under a stored consent and return its id.

        ``frames`` are written in the same transaction (an analysed upload is stored whole or not
        at all); ``ended_at`` closes the session at once. ``owner_id`` is the recording
        clinician's account (see :mod:`fer.sessions.queries` for who sees the session). With
        ``actor``, the ``record_session`` audit entry (source, consent and frames stored) is
        written in the same transaction.

        Raises ``ConsentError`` when ``consent_id`` is missing, unknown or withdrawn, and
        ``ValueError`` for malformed metadata or frames or an owner who may not hold patient data.
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
        if owner_id is not None:
            owner_id = positive_id(owner_id, "owner_id")
        rows = [encode_frame(record, names) for record in frames]
        with write_transaction(self.engine) as connection:
            consent = connection.execute(
                select(consents.c.given_by, consents.c.given_at, consents.c.withdrawn_at)
                .where(consents.c.id == consent_id)
                .with_for_update(read=True)
            ).first()
            if consent is None:
                raise ConsentError(f"No consent record {consent_id}; record consent first")
            if consent.withdrawn_at is not None:
                raise ConsentError(
                    f"Consent {consent_id} was withdrawn at {consent.withdrawn_at.isoformat()}"
                )
            if started < consent.given_at:
                raise ConsentError(
                    f"A session cannot start ({started.isoformat()}) before consent was given "
                    f"({consent.given_at.isoformat()})"
                )
            if owner_id is not None:
                may_hold_patient_data(connection, owner_id)
            session_id = inserted_id(
                connection.execute(
                    sessions.insert().values(
                        **_new_session_id(connection),
                        consent_id=consent_id,
                        consent_by=consent.given_by,
                        consent_given_at=consent.given_at,
                        started_at=started,
                        model=model,
                        classes=json.dumps(list(names)),
                        source=source,
                        notes=notes,
                        owner_id=owner_id,
                    )
                )
            )
            self._insert_rows(connection, session_id, rows)
            if ended is not None:  # after the frames: the schema refuses frames of ended sessions
                connection.execute(
                    update(sessions).where(sessions.c.id == session_id).values(ended_at=ended)
                )
            if actor is not None:
                append_entry(
                    connection, actor, "record_session", f"session {session_id}",
                    f"{source}, consent {consent_id}, {len(rows)} frames",
                )
        return session_id

    def end_session(self, session_id: int, ended_at: datetime | None = None) -> None:
        """Set the session's end time (once; ending an ended session changes nothing).

        Raises ``ValueError`` for an end before the session's start (as ``create_session``
        does), and ``SessionNotFoundError`` for an unknown session."""
        given = ended_at is not None
        when = utc_now() if ended_at is None else as_utc(ended_at, "ended_at")
        with write_transaction(self.engine) as connection:
            locked_session(connection, session_id)
            started = connection.execute(
                select(sessions.c.started_at).where(sessions.c.id == session_id)
            ).scalar_one()
            if when < started:
                if given:
                    raise ValueError(
                        f"ended_at ({when.isoformat()}) is before the session started "
                        f"({started.isoformat()})"
                    )
                when = started  # a clock behind the one that dated the start
            connection.execute(
                update(sessions)
                .where(sessions.c.id == session_id, sessions.c.ended_at.is_(None))
                .values(ended_at=when)
            )

    def set_notes(self, session_id: int, notes: str) -> None:
        """Replace an open session's notes; ``SessionEndedError`` once it has ended (its notes
        are then part of the record: only erasing the client's name still redacts them)."""
        notes = validate_text(notes, "notes", MAX_NOTES_LENGTH, False)
        with write_transaction(self.engine) as connection:
            state = locked_session(connection, session_id)
            if state.ended_at is not None:
                raise SessionEndedError(
                    f"Session {session_id} ended at {state.ended_at.isoformat()}; its notes "
                    "are part of the record and can no longer be changed"
                )
            connection.execute(
                update(sessions).where(sessions.c.id == session_id).values(notes=notes)
            )
        self._erase()  # the old notes

    def share_session(self, session_id: int, user_id: int, actor: str | None = None) -> None:
        """Let another clinician (or admin) see a session; sharing twice changes nothing. With
        ``actor``, the ``share_session`` audit entry is written in the same transaction."""
        user_id = positive_id(user_id, "user_id")
        with write_transaction(self.engine) as connection:
            locked_session(connection, session_id)
            name = may_hold_patient_data(connection, user_id)
            if actor is not None:
                append_entry(connection, actor, "share_session", f"session {session_id}",
                             f"with {name}")
            already = connection.execute(
                select(session_shares.c.user_id).where(
                    session_shares.c.session_id == session_id, session_shares.c.user_id == user_id
                )
            ).first()
            if already is None:
                connection.execute(
                    session_shares.insert().values(
                        session_id=session_id, user_id=user_id, shared_at=utc_now()
                    )
                )

    def close_abandoned_sessions(
        self,
        idle_for: timedelta = timedelta(0),
        now: datetime | None = None,
        actor: str | None = None,
    ) -> int:
        """End sessions left open (by a crash): at their last frame's time, else their start.

        Only sessions whose last frame is at least ``idle_for`` before ``now`` count as
        abandoned; with several app instances on one database, pass a few minutes so that
        another instance's live session is left alone. Returns how many were closed. With
        ``actor``, the ``close_abandoned_sessions`` audit entry is written in the same
        transaction when any was closed.
        """
        now = utc_now() if now is None else as_utc(now, "now")
        with write_transaction(self.engine) as connection:
            return retention.close_abandoned(connection, idle_for, now, actor)

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
        with write_transaction(self.engine) as connection:
            state = locked_session(connection, session_id)
            if state.withdrawn_at is not None:
                raise ConsentError(f"Consent for session {session_id} was withdrawn")
            if state.ended_at is not None:
                raise SessionEndedError(
                    f"Session {session_id} ended at {state.ended_at.isoformat()}; "
                    "start a new one"
                )
            self._insert_rows(connection, session_id, rows)
        return len(rows)

    @staticmethod
    def _insert_rows(connection: Connection, session_id: int, rows: Sequence[tuple]) -> None:
        if not rows:
            return
        values = [
            {"session_id": session_id, **dict(zip(FRAME_VALUE_COLUMNS, row, strict=True))}
            for row in rows
        ]
        connection.execute(frames.insert(), values)

    # markers ----------------------------------------------------------------------------------

    def add_marker(
        self,
        session_id: int,
        t_seconds: float,
        note: str = "",
        created_by: User | int | None = None,
    ) -> int:
        """Mark a moment of an open session with an optional short note; return the marker's id.

        ``t_seconds`` counts from the session's start and may not lie in the future;
        ``created_by`` (an account or its id) must be allowed to see the session. Raises
        ``ValueError`` (malformed input), ``SessionEndedError``, ``ConsentError`` (consent
        withdrawn) or ``SessionNotFoundError`` (see :func:`fer.sessions.markers.insert_marker`).
        """
        with write_transaction(self.engine) as connection:
            return insert_marker(connection, session_id, t_seconds, note, created_by, utc_now())

__all__ = ["SessionStore"]
