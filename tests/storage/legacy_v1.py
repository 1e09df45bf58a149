"""The session database as the code before SQLAlchemy made it (schema version 1), frozen here.

Copied verbatim from fer/sessions/schema.py before the store moved to SQLAlchemy and Alembic, so
that the upgrade test builds a file exactly as today's users have one.
"""

SCHEMA_VERSION = 1

SCHEMA_V1 = """
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

FRAME_COLUMNS_V1 = (
    "session_id, t_seconds, track_id, x, y, w, h, probs, smoothed, label, confidence, "
    "landmarks, blendshapes"
)
