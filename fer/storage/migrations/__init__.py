"""The session database's schema history as Alembic migrations, applied on open.

``versions/`` holds one file per revision: ``r0001`` is the schema the store had before
SQLAlchemy (a file made by that code is stamped with it, not rebuilt), ``r0002`` adds accounts,
sharing, the audit log and the triggers through which the schema itself enforces consent,
``r0003`` the per-frame signals (valence, arousal, action units, their asymmetry, head pose),
clinicians' markers and the REST API's tokens, ``r0004`` the remote session rooms, ``r0005``
how bright each recorded face was (the share of its crop clipped to white), ``r0006`` keeps
SQLite from giving a deleted session's id again, ``r0007`` gives the database a random
installation id of its own (:mod:`fer.storage.installation`), ``r0008`` an expiry for API
tokens, ``r0009`` keeps SQLite's REPLACE from getting round the triggers, ``r0010`` keeps a
revoked token revoked and frames with their session. Users never run Alembic by hand: opening
a database that :func:`is_current` finds behind runs :func:`upgrade` in a write transaction.

A new revision is a file in ``versions/`` with ``revision``, ``down_revision`` (the previous
head) and an ``upgrade()`` that handles both dialects; revisions are never edited once shipped,
which is also why each keeps its own copy of the SQL helpers it uses. The migration tests read
the head from ``tests/storage/migration_support.py`` (``HEAD``, ``HEAD_USER_VERSION``).
"""

from __future__ import annotations

import functools
from pathlib import Path

import sqlalchemy
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy.engine import Connection

MIGRATIONS_DIR = Path(__file__).resolve().parent
LEGACY_REVISION = "r0001"
# SQLite's header field ``user_version`` as the code before Alembic wrote it; revisions from
# r0002 on set it to their number, so that older code refuses a newer file instead of using it.
LEGACY_USER_VERSION = 1
LEGACY_TABLES = frozenset({"consents", "sessions", "frames"})
# Any constant: instances of the app starting together take turns at migrating PostgreSQL.
_POSTGRES_LOCK_KEY = 0x46455253


def _config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


@functools.cache
def head_revision() -> str:
    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    if head is None:
        raise RuntimeError(f"No migrations in {MIGRATIONS_DIR}")
    return head


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def is_current(connection: Connection) -> bool:
    """Whether the database already has the newest schema; reads only, so a caller can look
    before taking the write lock that :func:`upgrade` needs."""
    return current_revision(connection) == head_revision()


def upgrade(connection: Connection) -> None:
    """Bring the database behind ``connection`` (inside a write transaction) to the newest schema.

    Raises ``ValueError`` when the database was made by newer software or holds tables this code
    did not make.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(
            sqlalchemy.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _POSTGRES_LOCK_KEY}
        )
    config = _config(connection)
    current = current_revision(connection)
    if current is None:
        tables = set(sqlalchemy.inspect(connection).get_table_names())
        if tables & LEGACY_TABLES:
            if not _is_legacy_file(connection, tables):
                raise ValueError(
                    f"The database holds tables ({', '.join(sorted(tables))}) that this "
                    "software did not make; use another database"
                )
            command.stamp(config, LEGACY_REVISION)
            current = LEGACY_REVISION
    if current is not None:
        try:
            ScriptDirectory(str(MIGRATIONS_DIR)).get_revision(current)
        except CommandError:
            raise ValueError(
                f"The database has schema revision {current!r}, made by newer software than "
                "this; update the software or use another database"
            ) from None
    if current != head_revision():
        command.upgrade(config, "head")


def _is_legacy_file(connection: Connection, tables: set[str]) -> bool:
    """A SQLite file made by the store before Alembic: its three tables and user_version 1."""
    if connection.dialect.name != "sqlite" or not LEGACY_TABLES <= tables:
        return False
    version = connection.exec_driver_sql("PRAGMA user_version").scalar()
    return version == LEGACY_USER_VERSION
