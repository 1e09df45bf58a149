"""Reading sessions back: the second part of the session store (:class:`SessionReader`).

Sessions, their frames and markers as ``viewer`` may see them (the rule is in
:mod:`fer.sessions.queries`; a session the viewer may not see raises ``SessionNotFoundError``, as
a missing one does), and their CSV and JSON exports. Builds on
:class:`fer.sessions.consents.ConsentRegister`; :class:`fer.sessions.deletion.SessionDeleter`
adds deleting sessions, :class:`fer.sessions.store.SessionStore` the other writes.
"""

from __future__ import annotations

import pandas as pd

from fer.accounts.users import User
from fer.sessions.consents import ConsentRegister
from fer.sessions.exports import frames_csv, session_json
from fer.sessions.markers import markers_table
from fer.sessions.queries import (
    client_codes_query,
    frames_query,
    frames_table,
    session_from_row,
    session_query,
    visible_session,
)
from fer.sessions.records import SessionInfo
from fer.sessions.schema import MAX_NAME_LENGTH
from fer.storage.database import read_connection
from fer.storage.tables import consents, sessions
from fer.storage.text_fields import canonical_code, validate_text


class SessionReader(ConsentRegister):
    """What is read back from the sessions of the database at ``self.engine``."""

    def get_session(self, session_id: int, viewer: User | None = None) -> SessionInfo:
        with read_connection(self.engine) as connection:
            return visible_session(connection, session_id, viewer)

    def list_sessions(self, viewer: User | None = None) -> list[SessionInfo]:
        """The sessions ``viewer`` may see (all without one), newest first."""
        with read_connection(self.engine) as connection:
            rows = connection.execute(session_query(viewer).order_by(sessions.c.id.desc())).all()
        return [session_from_row(row) for row in rows]

    def list_sessions_of_client(
        self, client_code: str, viewer: User | None = None
    ) -> list[SessionInfo]:
        """The sessions ``viewer`` may see of the client with this pseudonymous code (from the
        consents they were recorded under), oldest first: a client's history. The code matches
        as stored or in its canonical form (:func:`fer.storage.text_fields.canonical_code`),
        so that a code typed differently finds the same client, and one stored before codes
        were made canonical is still found as it is listed."""
        code = validate_text(client_code, "client_code", MAX_NAME_LENGTH, True)
        forms = {code, canonical_code(code, "client_code", MAX_NAME_LENGTH, True)}
        with read_connection(self.engine) as connection:
            rows = connection.execute(
                session_query(viewer)
                .where(consents.c.client_code.in_(sorted(forms)))
                .order_by(sessions.c.started_at, sessions.c.id)
            ).all()
        return [session_from_row(row) for row in rows]

    def list_client_codes(self, viewer: User | None = None) -> list[str]:
        """The client codes of the sessions ``viewer`` may see, sorted."""
        with read_connection(self.engine) as connection:
            return sorted(connection.execute(client_codes_query(viewer)).scalars().all())

    def list_markers(self, session_id: int, viewer: User | None = None) -> pd.DataFrame:
        """A session's markers in time order (columns in
        :data:`fer.sessions.markers.MARKER_COLUMNS`: ``t_seconds``, ``note`` ...)."""
        with read_connection(self.engine) as connection:
            info = visible_session(connection, session_id, viewer)
            return markers_table(connection, info.id)

    def load_frames(
        self, session_id: int, include_extras: bool = False, viewer: User | None = None
    ) -> pd.DataFrame:
        """A session's frames ordered by time and track.

        Columns: ``t_seconds, track_id, x, y, w, h, label, confidence``, then ``prob_<class>``
        and ``smoothed_<class>`` for each class in the session's order; with ``include_extras``
        also ``landmarks`` ((N, 2) arrays or None) and ``blendshapes`` (dicts or None); then
        the signals: ``valence, arousal``, one column per action unit (``AU1`` ...), ``yaw,
        pitch, roll`` and ``asym_<AU>`` per two-sided unit, NaN where a frame has none.
        """
        with read_connection(self.engine) as connection:
            info = visible_session(connection, session_id, viewer)
            rows = connection.execute(frames_query(info.id)).all()
        return frames_table(rows, info.classes, include_extras)

    # export -----------------------------------------------------------------------------------

    def export_csv(self, session_id: int, viewer: User | None = None) -> str:
        """The frames table as CSV text (see :func:`fer.sessions.exports.frames_csv`)."""
        frame = self.load_frames(session_id, include_extras=True, viewer=viewer)
        return frames_csv(frame, session_id)

    def export_json(
        self, session_id: int, include_landmarks: bool = True, viewer: User | None = None
    ) -> str:
        """Session metadata, frames and markers as a JSON document
        (``{"session": …, "frames": […], "markers": […]}``)."""
        with read_connection(self.engine) as connection:
            info = visible_session(connection, session_id, viewer)
            rows = connection.execute(frames_query(info.id)).all()
            marks = markers_table(connection, info.id)
        frame = frames_table(rows, info.classes, include_extras=True)
        return session_json(info, frame, include_landmarks, marks)
