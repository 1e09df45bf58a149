"""What ``fer users``, ``fer sessions`` and ``fer report`` share: which database, who acts,
how errors print.

The environment is read here, at the command line's edge: ``FER_SESSION_DB`` (a file path or a
``postgresql://`` URL, default ``data/sessions.db``); ``FER_RETENTION_DAYS`` through
:func:`fer.config.retention_days_from_env`, which the app shares.
"""

from __future__ import annotations

import argparse
import getpass
import os
from pathlib import Path

SESSION_DB_ENV = "FER_SESSION_DB"


def database_parent() -> argparse.ArgumentParser:
    """A parent parser adding ``--database`` to each action of a command."""
    parent = argparse.ArgumentParser(add_help=False)
    add_database_argument(parent)
    return parent


def add_database_argument(parser: argparse.ArgumentParser) -> None:
    """``--database``: the session database, from the environment unless given."""
    from fer.config import DEFAULT_SESSION_DB

    parser.add_argument(
        "--database",
        default=os.environ.get(SESSION_DB_ENV) or str(DEFAULT_SESSION_DB),
        metavar="LOCATION",
        help=f"session database: a file or a postgresql:// URL (default: ${SESSION_DB_ENV}, "
        "else data/sessions.db)",
    )


def require_existing_database(location: str) -> None:
    """``ValueError`` when ``location`` is a SQLite file that does not exist: a command that
    reads or changes existing data must not make a new, empty database at a mistyped path."""
    from fer.storage.database import database_url

    url = database_url(location)
    # Something else at the path (a folder, another file) is left to the store to name.
    if url.get_backend_name() == "sqlite" and not Path(str(url.database)).exists():
        raise ValueError(f"no session database at {url.database}")



def os_account_name() -> str:
    """The name of the operating-system account this process runs as.

    From the account database, not ``getpass.getuser()``: that reads ``LOGNAME`` and ``USER``
    first, which whoever runs the command can set to anything."""
    try:
        import pwd
    except ImportError:  # Windows: no account database; the login name is all there is
        return getpass.getuser()
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:  # a uid without an entry (a container's arbitrary user)
        return f"uid {os.geteuid()}"


def cli_actor() -> str:
    """Who the audit log names for a command-line action: ``cli:<os account>``."""
    return f"cli:{os_account_name()}"


def error_line(error: BaseException, database: object = None) -> str:
    """An error as one line: for a database error, the driver's own message (SQLAlchemy's text
    adds the SQL statement and a link, over several lines). SQLite's "database is locked" names
    no file, so the SQLite ``database`` the command was given is named after it."""
    line = " ".join(str(getattr(error, "orig", None) or error).split())
    if database is not None and "database is locked" in line and "://" not in str(database):
        line += (f" ({database}: another program is writing to it; nothing was changed, try "
                 "again when it has finished)")
    return line


def add_actions(parser: argparse.ArgumentParser, actions: dict[str, tuple[str, str]]):
    """Sub-parsers for a command's actions, each with its help line and example."""
    subparsers = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    parent = database_parent()
    made = {}
    for name, (help_text, example) in actions.items():
        made[name] = subparsers.add_parser(
            name,
            help=help_text,
            description=help_text,
            parents=[parent],
            epilog="example:\n  " + example,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
    return made
