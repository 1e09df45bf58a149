"""The session database's tables as SQLAlchemy Core objects, for building queries.

The schema itself (types per dialect, constraints, indexes, triggers) is made by the migrations in
:mod:`fer.storage.migrations`; these definitions name the same columns so that queries are
composed, parameterised and portable between SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Column,
    Dialect,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
)
from sqlalchemy.types import TypeDecorator


class UtcTime(TypeDecorator[datetime]):
    """A time zone-aware datetime stored as ISO 8601 text in UTC.

    Text in UTC, as the store wrote before SQLAlchemy, sorts in time order, so comparisons in SQL
    (retention cut-offs) work on the stored text in both dialects.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError(f"expected a time zone-aware datetime, got {value!r}")
        return value.astimezone(UTC).isoformat()

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else datetime.fromisoformat(value)


metadata = MetaData()

consents = Table(
    "consents",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("given_by", Text, nullable=False),
    Column("given_at", UtcTime, nullable=False),
    Column("statement", Text, nullable=False),
    Column("withdrawn_at", UtcTime),
    Column("client_code", Text),
    Column("erased_at", UtcTime),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("role", Text, nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("created_at", UtcTime, nullable=False),
    Column("disabled_at", UtcTime),
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("locked_until", UtcTime),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("consent_id", Integer, ForeignKey("consents.id"), nullable=False),
    Column("consent_by", Text, nullable=False),
    Column("consent_given_at", UtcTime, nullable=False),
    Column("started_at", UtcTime, nullable=False),
    Column("ended_at", UtcTime),
    Column("model", Text, nullable=False),
    Column("classes", Text, nullable=False),  # JSON list, the order of the probability columns
    Column("source", Text, nullable=False),
    Column("notes", Text, nullable=False, default=""),
    Column("owner_id", Integer, ForeignKey("users.id")),
)

frames = Table(
    "frames",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "session_id", Integer, ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False
    ),
    Column("t_seconds", Float, nullable=False),
    Column("track_id", Integer, nullable=False),
    Column("x", Float, nullable=False),
    Column("y", Float, nullable=False),
    Column("w", Float, nullable=False),
    Column("h", Float, nullable=False),
    Column("probs", LargeBinary, nullable=False),  # little-endian float32, one per class
    Column("smoothed", LargeBinary, nullable=False),
    Column("label", Text, nullable=False),
    Column("confidence", Float, nullable=False),
    Column("landmarks", LargeBinary),  # little-endian float32 (x, y) pairs
    Column("blendshapes", Text),  # JSON object name -> score
    # The per-face signals (revision r0003); NULL before it and for faces without landmarks.
    Column("valence", Float),
    Column("arousal", Float),
    Column("action_units", Text),  # JSON object FACS code -> intensity in 0..1
    Column("au_asymmetry", Text),  # JSON object FACS code -> left minus right
    Column("head_pose", Text),  # JSON object yaw, pitch, roll -> degrees
    Column("clipped_share", Float),  # share of the crop clipped white (revision r0005)
)

markers = Table(
    "markers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "session_id", Integer, ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False
    ),
    Column("t_seconds", Float, nullable=False),
    Column("note", Text, nullable=False, default=""),
    Column("created_by", Integer, ForeignKey("users.id")),
    Column("created_at", UtcTime, nullable=False),
)

# Bearer tokens of the REST API; only the SHA-256 hex digest of a token is kept.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id")),  # NULL: not tied to an account
    Column("name", Text),
    Column("token_hash", Text, nullable=False, unique=True),
    Column("created_at", UtcTime, nullable=False),
    Column("last_used_at", UtcTime),
    Column("revoked_at", UtcTime),
    Column("expires_at", UtcTime),  # NULL: issued before revision r0008, no expiry
)

# The states of a room (``rooms.state``, revision r0004), in the only order a room moves
# through them; it is open in the first two, until it expires. Here rather than in
# ``fer.rooms`` because a consent withdrawn in the session store closes its room too.
ROOM_WAITING, ROOM_CONSENTED, ROOM_WITHDRAWN, ROOM_ENDED = (
    "waiting", "consented", "withdrawn", "ended",
)
OPEN_ROOM_STATES = (ROOM_WAITING, ROOM_CONSENTED)

# Remote session rooms (revision r0004); the link's secret and the short code only as digests.
rooms = Table(
    "rooms",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("room_key", Text, nullable=False, unique=True),
    Column("token_hash", Text, nullable=False),
    Column("code_hash", Text, nullable=False, unique=True),
    Column("owner_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("client_code", Text, nullable=False),
    Column("created_at", UtcTime, nullable=False),
    Column("expires_at", UtcTime, nullable=False),
    Column("state", Text, nullable=False, default="waiting"),
    Column("consent_id", Integer, ForeignKey("consents.id")),
    Column("ended_at", UtcTime),
)

session_shares = Table(
    "session_shares",
    metadata,
    Column(
        "session_id",
        Integer,
        ForeignKey("sessions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("user_id", Integer, ForeignKey("users.id"), primary_key=True),
    Column("shared_at", UtcTime, nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UtcTime, nullable=False),
    Column("actor", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("target", Text, nullable=False, default=""),
    Column("detail", Text, nullable=False, default=""),
)

# The database's own random id (revision r0007), one row; read by fer.storage.installation.
installation = Table(
    "installation",
    metadata,
    Column("only_row", Integer, primary_key=True),
    Column("id", Text, nullable=False),
)

# The order of an encoded frame row (fer.sessions.records.encode_frame), after session_id.
FRAME_VALUE_COLUMNS = (
    "t_seconds",
    "track_id",
    "x",
    "y",
    "w",
    "h",
    "probs",
    "smoothed",
    "label",
    "confidence",
    "landmarks",
    "blendshapes",
    "valence",
    "arousal",
    "action_units",
    "au_asymmetry",
    "head_pose",
    "clipped_share",
)
