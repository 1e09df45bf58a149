"""The schema itself refuses what the store refuses, for a writer that bypasses the store.

SQLite through a plain ``sqlite3`` connection (foreign keys off, as every new connection has
them); PostgreSQL through SQLAlchemy ``text()`` on a connection of its own.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest
import sqlalchemy
from sqlalchemy.pool import NullPool

from fer.accounts.audit import AuditLog
from fer.sessions.store import SessionStore
from fer.storage.database import database_url

CLASSES = ("neutral", "happy")
NOW = datetime.now(UTC).isoformat()
SESSION_SQL = (
    "INSERT INTO sessions (consent_id, consent_by, consent_given_at, started_at, model, "
    "classes, source) VALUES (:consent, 'x', :now, :now, 'm', '[\"happy\"]', 'live')"
)
FRAME_SQL = (
    "INSERT INTO frames (session_id, t_seconds, track_id, x, y, w, h, probs, smoothed, label, "
    "confidence) VALUES (:session, 0.5, 0, 1, 2, 3, 4, :blob, :blob, 'happy', 0.9)"
)


class PlainConnection:
    """Executes one statement per transaction past the store; refusals raise ``Refused``."""

    def __init__(self, store: SessionStore):
        self.store = store
        self.engine = None
        if store.dialect == "postgresql":
            self.engine = sqlalchemy.create_engine(store.engine.url, poolclass=NullPool)
            self.refused = sqlalchemy.exc.IntegrityError
        else:
            self.refused = sqlite3.IntegrityError

    def execute(self, sql: str, **params) -> None:
        params.setdefault("now", NOW)
        if self.engine is not None:
            with self.engine.begin() as connection:
                connection.execute(sqlalchemy.text(sql), params)
            return
        connection = sqlite3.connect(self.store.path)
        try:
            assert connection.execute("PRAGMA foreign_keys").fetchone()[0] == 0
            connection.execute(sql, params)
            connection.commit()
        finally:
            connection.close()

    def refuses(self, sql: str, **params) -> None:
        with pytest.raises(self.refused):
            self.execute(sql, **params)


@pytest.fixture
def store(database_location) -> SessionStore:
    return SessionStore(database_location)


@pytest.fixture
def plain(store):
    connection = PlainConnection(store)
    yield connection
    if connection.engine is not None:
        connection.engine.dispose()


def test_a_plain_connection_may_write_what_the_rules_allow(store, plain):
    consent = store.record_consent("Dana")
    plain.execute(SESSION_SQL, consent=consent.id)
    (info,) = store.list_sessions()
    plain.execute(FRAME_SQL, session=info.id, blob=b"\0" * 8)
    assert store.get_session(info.id).n_frames == 1


def test_sessions_need_a_recorded_live_consent(store, plain):
    plain.refuses(SESSION_SQL, consent=42)
    consent = store.record_consent("Dana")
    store.withdraw_consent(consent.id)
    plain.refuses(SESSION_SQL, consent=consent.id)
    other = store.record_consent("Kim")
    session_id = store.create_session(other.id, "m", CLASSES, "live")
    plain.refuses("UPDATE sessions SET consent_id = :consent WHERE id = :session",
                  consent=consent.id, session=session_id)
    assert [info.consent_id for info in store.list_sessions()] == [other.id]


def test_frames_need_an_open_session_whose_consent_stands(store, plain):
    blob = b"\0" * 8
    plain.refuses(FRAME_SQL, session=999, blob=blob)
    consent = store.record_consent("Dana")
    ended = store.create_session(consent.id, "m", CLASSES, "live")
    store.end_session(ended)
    plain.refuses(FRAME_SQL, session=ended, blob=blob)
    open_session = store.create_session(consent.id, "m", CLASSES, "live")
    # Withdrawn behind the store's back, so the session is still open: the consent decides.
    plain.execute("UPDATE consents SET withdrawn_at = :now WHERE id = :consent",
                  consent=consent.id)
    assert store.get_session(open_session).ended_at is None
    plain.refuses(FRAME_SQL, session=open_session, blob=blob)
    assert store.get_session(open_session).n_frames == 0


def test_ended_sessions_and_withdrawals_cannot_be_undone(store, plain):
    consent = store.record_consent("Dana")
    session_id = store.create_session(consent.id, "m", CLASSES, "live")
    store.withdraw_consent(consent.id, delete_data=False)
    plain.refuses("UPDATE sessions SET ended_at = NULL WHERE id = :session", session=session_id)
    plain.refuses("UPDATE consents SET withdrawn_at = NULL WHERE id = :consent",
                  consent=consent.id)
    plain.refuses("UPDATE consents SET withdrawn_at = :now WHERE id = :consent",
                  consent=consent.id, now="2999-01-01T00:00:00+00:00")
    assert store.get_consent(consent.id).withdrawn_at is not None


def test_the_audit_log_is_append_only(store, plain, database_location):
    audit = AuditLog(database_location)
    audit.record("cli:tester", "delete_session", "session 1")
    plain.execute("INSERT INTO audit_log (at, actor, action) VALUES (:now, 'x', 'login')")
    plain.refuses("UPDATE audit_log SET actor = 'someone else'")
    plain.refuses("DELETE FROM audit_log")
    if store.dialect == "postgresql":
        plain.refuses("TRUNCATE audit_log")
    assert audit.entries()["actor"].tolist() == ["x", "cli:tester"]


def test_postgres_url_spellings_are_accepted():
    for text in ("postgresql://fer@127.0.0.1:5432/db", "postgresql+psycopg://fer@h/db"):
        assert database_url(text).drivername == "postgresql+psycopg"


MARKER_SQL = (
    "INSERT INTO markers (session_id, t_seconds, note, created_at) "
    "VALUES (:session, :t, :note, :now)"
)
TOKEN_SQL = (
    "INSERT INTO api_tokens (user_id, name, token_hash, created_at) "
    "VALUES (NULL, 'ehr', :hash, :now)"
)


def test_markers_need_an_open_session_whose_consent_stands(store, plain):
    plain.refuses(MARKER_SQL, session=999, t=1.0, note="")
    consent = store.record_consent("Dana")
    ended = store.create_session(consent.id, "m", CLASSES, "live")
    store.end_session(ended)
    plain.refuses(MARKER_SQL, session=ended, t=1.0, note="")
    open_session = store.create_session(consent.id, "m", CLASSES, "live")
    plain.execute(MARKER_SQL, session=open_session, t=0.0, note="allowed")
    plain.refuses(MARKER_SQL, session=open_session, t=-1.0, note="negative time")
    plain.refuses(MARKER_SQL, session=open_session, t=1.0, note="x" * 501)
    plain.execute("UPDATE consents SET withdrawn_at = :now WHERE id = :consent",
                  consent=consent.id)
    plain.refuses(MARKER_SQL, session=open_session, t=1.0, note="after withdrawal")
    assert store.list_markers(open_session)["note"].tolist() == ["allowed"]


def test_api_tokens_keep_only_unique_sha256_digests(store, plain):
    digest = "ab" * 32
    plain.execute(TOKEN_SQL, hash=digest)
    plain.refuses(TOKEN_SQL, hash=digest)  # unique
    plain.refuses(TOKEN_SQL, hash="plain-token")  # not a SHA-256 hex digest
    with store.engine.connect() as connection:
        rows = connection.execute(
            sqlalchemy.text("SELECT user_id, token_hash, last_used_at, revoked_at FROM api_tokens")
        ).all()
    assert [tuple(row) for row in rows] == [(None, digest, None, None)]


def replacing(store: SessionStore, table: str, columns: str, changed: str, where: str) -> str:
    """A statement that writes the row of ``table`` matching ``where`` again with ``changed``
    as one of its ``columns``: SQLite's REPLACE (which deletes the old row, firing no delete
    trigger), PostgreSQL's ``ON CONFLICT DO UPDATE``."""
    select_ = f"SELECT {changed} FROM {table} WHERE {where}"
    if store.dialect == "sqlite":
        return f"REPLACE INTO {table} ({columns}) {select_}"
    key = "only_row" if table == "installation" else "id"
    updates = ", ".join(f"{column} = EXCLUDED.{column}" for column in columns.split(", "))
    return f"INSERT INTO {table} ({columns}) {select_} ON CONFLICT ({key}) DO UPDATE SET {updates}"


def test_replacing_a_row_cannot_undo_what_the_triggers_protect(store, plain, database_location):
    audit = AuditLog(database_location)
    audit.record("cli:tester", "delete_session", "session 1")
    consent = store.record_consent("Dana")
    session_id = store.create_session(consent.id, "m", CLASSES, "live")
    store.withdraw_consent(consent.id, delete_data=False)
    installation_id = store.installation_id()
    plain.execute("INSERT INTO users (id, name, role, password_hash, created_at) "
                  "VALUES (7, 'dr.a', 'clinician', 'x', :now)")
    plain.execute("INSERT INTO rooms (id, room_key, token_hash, code_hash, owner_id, "
                  "client_code, created_at, expires_at, state, ended_at) VALUES (5, 'key', "
                  ":digest, :digest, 7, 'C-1', :now, '2999-01-01', 'ended', :now)",
                  digest="ab" * 32)
    plain.refuses(replacing(store, "audit_log", "id, at, actor, action",
                            "id, at, 'nobody', 'login'", "id = 1"))
    plain.refuses(replacing(store, "installation", "only_row, id",
                            "only_row, '00000000-0000-0000-0000-000000000000'", "only_row = 1"))
    consent_columns = "id, given_by, given_at, statement, withdrawn_at"
    plain.refuses(replacing(store, "consents", consent_columns,
                            "id, given_by, given_at, statement, NULL", f"id = {consent.id}"))
    session_columns = ("id, consent_id, consent_by, consent_given_at, started_at, ended_at, "
                       "model, classes, source")
    plain.refuses(replacing(
        store, "sessions", session_columns, session_columns.replace("ended_at", "NULL"),
        f"id = {session_id}",
    ))
    room_columns = ("id, room_key, token_hash, code_hash, owner_id, client_code, created_at, "
                    "expires_at, state, ended_at")
    plain.refuses(replacing(store, "rooms", room_columns,
                            room_columns.replace("state", "'waiting'").replace("ended_at", "NULL"),
                            "id = 5"))
    if store.dialect == "sqlite":  # moving another row onto the protected one's key
        other = store.record_consent("Kim")
        plain.refuses("UPDATE OR REPLACE consents SET id = :consent WHERE id = :other",
                      consent=consent.id, other=other.id)
    assert audit.entries()["actor"].tolist() == ["cli:tester"]
    assert store.installation_id() == installation_id
    assert store.get_consent(consent.id).withdrawn_at is not None
    assert store.get_session(session_id).ended_at is not None
    with store.engine.connect() as connection:
        state = connection.execute(sqlalchemy.text("SELECT state FROM rooms")).scalar_one()
    assert state == "ended"


def test_a_revoked_or_expiring_token_and_recorded_frames_stay_as_they_are(
    store, plain, database_location
):
    """Schema r0010: no plain connection can bring a revoked token back, put off or remove its
    expiry, give it another hash or account, or move frames to another session."""
    from fer.accounts.tokens import TokenStore
    from tests.sessions.helpers import CLASSES as RECORD_CLASSES
    from tests.sessions.helpers import record

    tokens = TokenStore(database_location)
    revoked, _ = tokens.issue(None, "revoked")
    tokens.revoke(revoked.id)
    expiring, _ = tokens.issue(None, "expiring")
    plain.refuses("UPDATE api_tokens SET revoked_at = NULL WHERE id = :id", id=revoked.id)
    plain.refuses("UPDATE api_tokens SET expires_at = NULL WHERE id = :id", id=expiring.id)
    plain.refuses("UPDATE api_tokens SET expires_at = '9999-12-31T00:00:00+00:00' WHERE id = :id",
                  id=expiring.id)
    plain.refuses("UPDATE api_tokens SET token_hash = :hash WHERE id = :id",
                  hash="cd" * 32, id=expiring.id)
    plain.refuses("UPDATE api_tokens SET id = 99 WHERE id = :id", id=expiring.id)
    plain.execute("UPDATE api_tokens SET expires_at = :now WHERE id = :id", id=expiring.id)
    plain.execute("UPDATE api_tokens SET last_used_at = :now WHERE id = :id", id=expiring.id)
    if store.dialect == "sqlite":
        plain.refuses("REPLACE INTO api_tokens (id, name, token_hash, created_at) "
                      "SELECT id, name, :hash, created_at FROM api_tokens WHERE id = :id",
                      hash="ef" * 32, id=revoked.id)
    assert [token.revoked_at is not None for token in tokens.list_tokens()] == [True, False]

    consent = store.record_consent("Dana")
    ended = store.create_session(consent.id, "m", RECORD_CLASSES, "live", frames=[record(0.0)])
    store.end_session(ended)
    other = store.create_session(consent.id, "m", RECORD_CLASSES, "live", frames=[record(0.0)])
    plain.refuses("UPDATE frames SET session_id = :to WHERE session_id = :from_",
                  to=ended, from_=other)
    assert (store.get_session(ended).n_frames, store.get_session(other).n_frames) == (1, 1)
