"""Erasing deleted rows from the session database's bytes on disk (:func:`erase_free_space`).

A deletion only unlists rows: SQLite's ``secure_delete`` (switched on for every connection by
:mod:`fer.storage.database`) zeroes the deleted cells, but freed pages stay in the file and old
page images in its write-ahead log until they are handed back and the log is truncated.
PostgreSQL needs a ``VACUUM`` to prune dead rows. Every deletion of patient data calls
:func:`erase_free_space` afterwards.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time

import sqlalchemy
from sqlalchemy.engine import Engine

from fer.storage.database import sqlite_path

# Where deleted patient data can linger (what PostgreSQL's VACUUM visits after a deletion).
PATIENT_DATA_TABLES = ("frames", "markers", "sessions", "session_shares", "consents")

# Databases a background thread is trying to erase deleted rows from (erase_free_space).
_LOG_RETRIES: set[str] = set()
_LOG_RETRIES_LOCK = threading.Lock()
LOG_RETRY_INTERVAL_S = 1.0
LOG_RETRY_S = 3600.0
CHECKPOINT_WAIT_MS = 50
# How long erase_free_space keeps trying before handing over to the background thread.
ERASE_TRY_S = 1.25
ERASE_RETRY_INTERVAL_S = 0.05
# The name the erasure has logged under since it lived in fer.storage.database, which
# docs/security.md tells operators to watch.
logger = logging.getLogger("fer.storage.database")


def _erased_once(engine: Engine) -> bool:
    """Hand freed pages back, copy SQLite's write-ahead log into the file and truncate it;
    False while another connection is in the way (a writer holding the lock, or a reader of an
    older snapshot that keeps part of the log in use), in which case the old page images are
    still in the file and its ``-wal``."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        # Each step would otherwise wait the whole busy timeout; callers retry instead, so a
        # long reader costs a deletion seconds, not minutes.
        cursor.execute(f"PRAGMA busy_timeout={CHECKPOINT_WAIT_MS}")
        try:
            # executescript steps the pragma to its end: execute() stops after its first
            # step, which frees one page and leaves the rest of them in the file.
            cursor.executescript("PRAGMA incremental_vacuum")
            busy = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        except sqlite3.OperationalError as error:
            if "locked" in str(error) or "busy" in str(error):
                return False  # another writer holds the lock: the same as a busy checkpoint
            raise
        finally:
            cursor.close()
        return not busy
    finally:
        raw.close()


def _erase_later(engine: Engine) -> None:
    """Keep trying to erase in a background thread (one per database at a time), so the page
    images of deleted rows do not stay in the file and its ``-wal`` once the reader is done.
    The thread ends with the process: a command-line run waits itself instead
    (``erase_free_space(wait_s=...)``)."""
    key = engine.url.render_as_string(hide_password=True)
    with _LOG_RETRIES_LOCK:
        if key in _LOG_RETRIES:
            return
        _LOG_RETRIES.add(key)
    path = sqlite_path(engine)
    logger.warning(
        "another connection has %s open; deleted rows stay readable in it and its -wal until "
        "that connection is done; retrying in the background", path,
    )

    def retry() -> None:
        try:
            deadline = time.monotonic() + LOG_RETRY_S
            while time.monotonic() < deadline:
                time.sleep(LOG_RETRY_INTERVAL_S)
                try:
                    if _erased_once(engine):
                        logger.info("erased the deleted rows from %s and its -wal", path)
                        return
                except (sqlite3.Error, sqlalchemy.exc.SQLAlchemyError):
                    continue  # the file replaced meanwhile: try again
            logger.error(
                "deleted rows may remain in %s and its -wal: another connection held it for "
                "%.0f s; run `fer sessions erase-free-space` once it is closed", path, LOG_RETRY_S,
            )
        finally:
            with _LOG_RETRIES_LOCK:
                _LOG_RETRIES.discard(key)

    threading.Thread(target=retry, name="fer-erase-free-space", daemon=True).start()


def erase_free_space(
    engine: Engine,
    tables: tuple[str, ...] = PATIENT_DATA_TABLES,
    wait_s: float | None = None,
) -> bool:
    """Make deleted rows unreadable on disk; call after every deletion. True once done.

    SQLite: ``secure_delete`` has zeroed the deleted cells; the incremental vacuum gives freed
    pages back and the checkpoint copies the write-ahead log into the file and truncates it, so
    no old page image stays in the file or its ``-wal``. While another connection still reads
    an old snapshot (or writes), that cannot finish. With ``wait_s=None`` this tries briefly,
    then leaves it to a background thread of this process (:func:`_erase_later`) and returns
    False; with ``wait_s`` it keeps trying in the caller's thread for up to that long and
    returns False if it could not, leaving the erasure to a later call.
    PostgreSQL: ``VACUUM`` of ``tables`` prunes the dead rows (what stays in the server's
    write-ahead log and backups is the clinic's to manage).
    """
    if engine.dialect.name == "sqlite":
        deadline = time.monotonic() + (ERASE_TRY_S if wait_s is None else wait_s)
        while not _erased_once(engine):
            if time.monotonic() >= deadline:
                if wait_s is None:
                    _erase_later(engine)
                return False
            time.sleep(ERASE_RETRY_INTERVAL_S)  # an old snapshot's reader usually ends soon
        return True
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for table in tables:
            connection.exec_driver_sql(f'VACUUM "{table}"')
    return True
