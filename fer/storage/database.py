"""Where the session database lives and how every connection to it is set up.

A location is a file path (SQLite, the embedded default) or a ``postgresql://`` URL. Opening one
creates what is missing and migrates the schema to the newest revision (Alembic, see
:mod:`fer.storage.migrations`), once per location and process; a database already at the newest
revision is only read, so opening it does not wait for another program's write.

SQLite files are private to their owner (file 0600, a folder this code creates 0700) and every
connection switches on foreign keys and ``secure_delete`` (deleted rows are overwritten with
zeros). The file uses incremental auto-vacuum, so :func:`fer.storage.erasure.erase_free_space`
can hand freed pages back and truncate the write-ahead log: after a deletion, the deleted values
are gone from the bytes on disk, not merely unlisted.
"""

from __future__ import annotations

import os
import re
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.pool import NullPool

from fer.config import LOCAL_DATA_DIR

# Every failure of the database itself (a corrupt file, an unreachable server) is one of these.
DatabaseError = sqlalchemy.exc.SQLAlchemyError

POSTGRES_SCHEMES = ("postgresql", "postgresql+psycopg", "postgres")
# How long a writer waits for another one before giving up (SQLite's lock is per file).
BUSY_TIMEOUT_MS = 10_000

_ENGINES: dict[str, Engine] = {}
_ENGINES_LOCK = threading.Lock()


def database_url(location: str | Path) -> URL:
    """The SQLAlchemy URL of a location: a file path or a ``postgresql://`` URL.

    Raises ``ValueError`` for an empty location, an in-memory database (each call opens its own
    connection, so it would be empty every time) or a URL of another kind of database.
    """
    text = str(location).strip()
    if text in ("", ":memory:") or text.startswith("file:"):
        raise ValueError(
            f"The session database needs a file path or a postgresql:// URL, got {text!r} "
            "(an in-memory database would be empty on every call)"
        )
    if "://" in text:
        scheme = text.split("://", 1)[0].lower()
        if scheme not in POSTGRES_SCHEMES:
            raise ValueError(
                f"Unsupported database URL scheme {scheme!r}: use a file path (SQLite) or "
                "postgresql://user@host:port/database"
            )
        try:
            return sqlalchemy.make_url(text).set(drivername="postgresql+psycopg")
        except (ValueError, sqlalchemy.exc.ArgumentError):
            # Not the text: it may hold the password.
            raise ValueError(
                "The postgresql:// URL could not be read: check its form, "
                "postgresql://user:password@host:port/database (the port a number)"
            ) from None
    scheme_only = re.match(r"([A-Za-z][A-Za-z0-9+.-]+):/?(?!/)", text)
    if scheme_only and scheme_only[1].lower() in POSTGRES_SCHEMES:
        # A URL missing a slash would otherwise become a new SQLite file named after it,
        # password and all.
        raise ValueError(
            f"The database location starts like a {scheme_only[1]} URL but lacks its '//': "
            "write postgresql://user:password@host:port/database"
        )
    if re.match(r"postgres(ql)?\W", text, re.IGNORECASE) and "@" in text:
        # The same with its colon lost ("postgresql//user:password@host"): as a path, the
        # password would name new folders and every error about the file.
        raise ValueError(
            "The database location starts like a postgresql:// URL but is not one: "
            "write postgresql://user:password@host:port/database"
        )
    path = Path(text).expanduser().resolve()
    return URL.create("sqlite", database=str(path))


def is_postgres(engine: Engine | Connection) -> bool:
    return engine.dialect.name == "postgresql"


def sqlite_path(engine: Engine) -> Path | None:
    """The database file of a SQLite engine (None for PostgreSQL)."""
    if engine.dialect.name != "sqlite" or engine.url.database is None:
        return None
    return Path(engine.url.database)


def open_engine(location: str | Path) -> Engine:
    """The engine of ``location``, created and migrated to the newest schema on first use.

    Engines are cached per location; a SQLite file removed since it was opened is created and
    migrated again.
    """
    url = database_url(location)
    key = url.render_as_string(hide_password=False)
    with _ENGINES_LOCK:
        engine = _ENGINES.get(key)
        path = sqlite_path(engine) if engine is not None else None
        if engine is not None and (path is None or path.exists()):
            return engine
        if engine is not None:
            engine.dispose()
        engine = _create_engine(url)
        try:
            _prepare(engine)
        except BaseException:
            engine.dispose()
            raise
        _ENGINES[key] = engine
        return engine


def forget_engine(location: str | Path) -> None:
    """Close the cached engine of ``location`` (its pooled connections) and drop it."""
    key = database_url(location).render_as_string(hide_password=False)
    with _ENGINES_LOCK:
        engine = _ENGINES.pop(key, None)
    if engine is not None:
        engine.dispose()


def _create_engine(url: URL) -> Engine:
    if url.get_backend_name() == "postgresql":
        return sqlalchemy.create_engine(url, pool_pre_ping=True)
    path = Path(str(url.database))
    _create_private_file(path)
    # One connection per call (NullPool), as SQLite is meant to be used: nothing stays open
    # between calls, so a checkpoint is never held back by an idle pooled connection.
    engine = sqlalchemy.create_engine(
        url, poolclass=NullPool, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000}
    )
    event.listen(engine, "connect", _configure_sqlite_connection)
    event.listen(engine, "begin", _begin_sqlite_transaction)
    return engine


def _create_private_file(path: Path) -> None:
    """Create the database file 0600 (and missing folders 0700); tighten our own old files.

    ``ValueError`` for something at ``path`` that is not a SQLite database (a folder, another
    file), which is left as it was."""
    if path.exists():
        if not path.is_file():
            raise ValueError(f"The session database {path} is not a file")
        # Read through SQLite, not open()/close(): closing any other descriptor of the file
        # drops every POSIX lock this process holds on it, which corrupts the database under
        # a connection that is still open (SQLite's unix VFS shares descriptors per file).
        probe = sqlite3.connect(f"{path.as_uri()}?mode=rw", uri=True)
        try:
            probe.execute("PRAGMA schema_version").fetchone()
        except sqlite3.DatabaseError as error:
            if "not a database" in str(error):
                raise ValueError(
                    f"{path} is not a SQLite database (another kind of file)"
                ) from None
            # Damaged otherwise: _prepare names it with SQLite's own words.
        finally:
            probe.close()
    folder = path.parent
    if not folder.exists():
        # Every missing folder, not only the last: mkdir(parents=True) makes the ones above it
        # with the umask's mode, and a folder others may write to above the database's lets
        # them swap the database's folder for one of their own.
        for missing in reversed([folder, *folder.parents]):
            try:
                missing.mkdir(mode=0o700)
            except FileExistsError:
                continue
            missing.chmod(0o700)  # mkdir's mode is filtered by the umask
    elif folder.resolve() == LOCAL_DATA_DIR.resolve():
        # The project's own data/ folder; a folder the user chose is theirs to set.
        folder.chmod(0o700)
    if not path.exists():
        try:
            descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            # Another process opening the same new database made it meanwhile. Anything but a
            # plain file there (a link put in since the check) is refused, as before.
            if not stat.S_ISREG(os.lstat(path).st_mode):
                raise
        else:
            os.close(descriptor)
    for member in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if member.exists() and stat.S_IMODE(member.stat().st_mode) & 0o077:
            member.chmod(0o600)  # a file made by older code (0644)


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    # Transactions are begun explicitly (see _begin_sqlite_transaction), not by the driver.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


def _begin_sqlite_transaction(connection: Connection) -> None:
    # IMMEDIATE takes the write lock at once, so a writer's checks and writes see one state.
    mode = "IMMEDIATE" if connection.get_execution_options().get("fer_write") else "DEFERRED"
    connection.exec_driver_sql(f"BEGIN {mode}")


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """One write transaction: everything inside commits together or not at all."""
    with engine.connect() as connection:
        connection.execution_options(fer_write=True)
        with connection.begin():
            yield connection


@contextmanager
def read_connection(engine: Engine) -> Iterator[Connection]:
    """A connection whose reads inside the block see one consistent state."""
    with engine.connect() as connection, connection.begin():
        yield connection


def _prepare(engine: Engine) -> None:
    from fer.storage.migrations import is_current, upgrade

    if engine.dialect.name == "sqlite":
        try:
            _prepare_sqlite_file(engine)
        except (sqlite3.DatabaseError, sqlalchemy.exc.DatabaseError) as error:  # damaged
            raise ValueError(
                f"The session database {sqlite_path(engine)} cannot be used: {error}"
            ) from None
    # Looked at first without the write lock: a database already at the newest schema opens
    # while another program writes to it. Processes that find it behind take turns at the lock,
    # and upgrade() looks again under it, so the second one finds nothing left to do.
    with read_connection(engine) as connection:
        if is_current(connection):
            return
    with write_transaction(engine) as connection:
        upgrade(connection)


def _prepare_sqlite_file(engine: Engine) -> None:
    """Set the file's auto-vacuum and journal modes, trying again while another process holds
    it. Both changes take the write lock from a read lock; when two processes do that on a new
    file at once, SQLite answers one "database is locked" at once instead of waiting (waiting
    would deadlock), so the busy timeout does not cover it. Both steps are safe to repeat (the
    auto-vacuum mode is looked at first, WAL set again is a no-op), so the one that lost finds
    the other's work done."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            _set_sqlite_file_modes(engine)
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() >= deadline:
                raise
            time.sleep(0.02)


def _set_sqlite_file_modes(engine: Engine) -> None:
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        # Incremental auto-vacuum lets erase_free_space truncate freed pages; a file made
        # before it was set is rewritten once by VACUUM to switch it on.
        if cursor.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:
            cursor.execute("PRAGMA auto_vacuum=INCREMENTAL")
            cursor.execute("VACUUM")
        cursor.execute("PRAGMA journal_mode=WAL").fetchone()
        cursor.close()
    finally:
        raw.close()


def check_integrity(engine: Engine) -> None:
    """``ValueError`` naming the file when SQLite's ``quick_check`` finds a damaged page.

    Opening a database reads only its schema, and a deletion only the rows it deletes: a
    damaged page elsewhere (frames, notes, the audit log) would go unnoticed by the command
    that changes the file, and the change would be written around it. PostgreSQL checks its
    own pages as it reads them; nothing is done for it.
    """
    path = sqlite_path(engine)
    if path is None:
        return
    try:
        with engine.connect() as connection:
            found = [str(row[0]) for row in connection.exec_driver_sql("PRAGMA quick_check(3)")]
    except (sqlite3.DatabaseError, sqlalchemy.exc.DatabaseError) as error:
        found = [str(getattr(error, "orig", None) or error)]
    if found != ["ok"]:
        problems = "; ".join(" ".join(problem.split()) for problem in found)
        raise ValueError(
            f"The session database {path} is damaged (SQLite's quick_check: {problems}); "
            "nothing was changed. Restore it from a backup, or copy out what is readable with "
            "sqlite3's .recover."
        )


def journal_mode(engine: Engine) -> str | None:
    """SQLite's journal mode (``"wal"``); None for PostgreSQL."""
    if engine.dialect.name != "sqlite":
        return None
    with engine.connect() as connection:
        return str(connection.exec_driver_sql("PRAGMA journal_mode").scalar())


def inserted_id(result: sqlalchemy.CursorResult[Any]) -> int:
    """The primary key an ``INSERT`` gave its row."""
    key = result.inserted_primary_key
    if key is None or key[0] is None:
        raise RuntimeError("The database reported no id for an INSERT")
    return int(key[0])
