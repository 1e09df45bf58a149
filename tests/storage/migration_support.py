"""Databases of an earlier schema revision, for the tests that upgrade them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy
from alembic import command
from sqlalchemy.pool import NullPool

from fer.storage.database import database_url
from fer.storage.migrations import _config

# The schema's newest revision and SQLite's user_version at it: a new revision changes these two
# lines, not every test that upgrades a database to the head.
HEAD = "r0010"
HEAD_USER_VERSION = 10


@contextmanager
def database_at(location, revision: str) -> Iterator[sqlalchemy.Connection]:
    """A connection, in one transaction, to a new database at ``location`` migrated to
    ``revision`` only (a SQLite file's folder is made)."""
    url = database_url(location)
    if url.get_backend_name() == "sqlite":
        Path(str(url.database)).parent.mkdir(parents=True, exist_ok=True)
    engine = sqlalchemy.create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            command.upgrade(_config(connection), revision)
            yield connection
    finally:
        engine.dispose()


def execute(connection: sqlalchemy.Connection, sql: str, **params) -> None:
    connection.execute(sqlalchemy.text(sql), params)


def rows(location, sql: str) -> list[tuple]:
    """The rows ``sql`` reads from the database at ``location``, past any store."""
    engine = sqlalchemy.create_engine(database_url(location), poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(sqlalchemy.text(sql))]
    finally:
        engine.dispose()
