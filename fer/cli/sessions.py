"""Maintain recorded sessions: list them, delete one, or purge every session older than a number
of days (the clinic's retention period; --days defaults to $FER_RETENTION_DAYS). Deleted sessions
are erased from the database file, not only unlisted: while another program has the file open
the command waits for it, and fails saying so when it cannot finish (erase-free-space finishes
it later). Every action is recorded in the audit log as cli:<your OS account>; clients' names
are listed only with --show-names.
"""

from __future__ import annotations

import argparse
import shlex
import sqlite3
import sys

from fer.cli import printable
from fer.cli.database_options import (
    add_actions,
    cli_actor,
    error_line,
    require_existing_database,
)

EXAMPLE = """\
fer sessions list
fer sessions delete 42 --yes
fer sessions purge --days 365
fer sessions erase-free-space"""

ACTIONS = {
    "list": ("list every recorded session, newest first", "fer sessions list --show-names"),
    "delete": ("delete one session and its frames (the consent record stays)",
               "fer sessions delete 42"),
    "purge": ("delete every session that started more than N days ago",
              "FER_RETENTION_DAYS=365 fer sessions purge"),
    "erase-free-space": ("finish erasing deleted data from the database file, when a delete "
                         "or purge could not because another program had it open",
                         "fer sessions erase-free-space"),
}
# How long delete and purge wait for another program that has the database open before they
# report the erasure incomplete.
ERASE_WAIT_S = 60.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = add_actions(parser, ACTIONS)
    actions["list"].add_argument(
        "--show-names", action="store_true", help="also print who consented to each session"
    )
    actions["delete"].add_argument("session_id", type=int, metavar="ID")
    actions["delete"].add_argument("--yes", action="store_true", help="do not ask to confirm")
    actions["purge"].add_argument(
        "--days", type=_days, default=None, help="retention period (default: $FER_RETENTION_DAYS)"
    )


def _days(text: str) -> int:
    """``--days`` read as ``FER_RETENTION_DAYS`` is (:func:`fer.config.plain_whole_number`), so
    a slip of the finger (``1_0``) does not purge at a period nobody meant."""
    from fer.config import plain_whole_number

    days = plain_whole_number(text)
    if days is None:
        raise argparse.ArgumentTypeError(f"a whole number of days in the digits 0-9, not {text!r}")
    return days


def _when(value) -> str:
    return "-" if value is None else f"{value:%Y-%m-%d %H:%M}"


def _list(store, accounts, audit, actor: str, show_names: bool) -> None:
    owners = {user.id: user.name for user in accounts.list_users()}
    sessions = store.list_sessions()
    audit.record(actor, "list_sessions", detail=f"{len(sessions)} sessions")
    header = f"{'id':>5}  {'started (UTC)':<16}  {'ended':<16}  {'source':<6} {'frames':>7}  "
    header += f"{'owner':<14} {'consent':<8} {'client':<10} withdrawn"
    print(header + ("  consent by" if show_names else ""))
    for info in sessions:
        line = (
            f"{info.id:>5}  {_when(info.started_at):<16}  {_when(info.ended_at):<16}  "
            f"{info.source:<6} {info.n_frames:>7}  "
            f"{owners.get(info.owner_id, '-') if info.owner_id else '-':<14} "
            f"{info.consent_id:<8} {printable(info.client_code or '-'):<10} "
            f"{_when(info.consent_withdrawn_at)}"
        )
        print(line + (f"  {printable(info.consent_by)}" if show_names else ""))


def _erase_deleted_data(store, action: str, database: str) -> int:
    """Erase what the committed deletion freed, waiting a while for another program that has
    the database open; the deletion stands either way, and a failure here says that deleted
    values are still readable in the files. The app retries in the background; a command's
    process ends, so it waits here."""
    if store.erase_deleted_data(wait_s=0.5):
        return 0
    where = store.path if store.path is not None else database
    print(f"fer sessions {action}: another program has {where} open; waiting up to "
          f"{ERASE_WAIT_S:.0f} s for it to finish, to erase the deleted data from the file",
          file=sys.stderr)
    if store.erase_deleted_data(wait_s=ERASE_WAIT_S):
        print("erased the deleted data from the database file")
        return 0
    print(f"fer sessions {action}: error: the deletion stands, but erasing it is incomplete: "
          f"the deleted data is still readable in {where} and {where}-wal. Close the other "
          f"program using the database (the app, a sqlite3 shell), then run: "
          f"fer sessions erase-free-space --database {shlex.quote(database)}", file=sys.stderr)
    return 3


def run(args: argparse.Namespace) -> int:
    from fer.accounts import AccountStore, AuditLog
    from fer.config import retention_days_from_env
    from fer.sessions.store import SessionStore
    from fer.storage import DatabaseError
    from fer.storage.database import check_integrity

    actor = cli_actor()
    try:
        # Every action works on sessions already recorded: a mistyped path must not become a
        # new, empty database.
        require_existing_database(args.database)
        store = SessionStore(args.database)
        audit = AuditLog(args.database)
        if args.action != "list":
            # A change written around a damaged page would hide the damage until a backup is
            # all that is left.
            check_integrity(store.engine)
        if args.action == "list":
            _list(store, AccountStore(args.database), audit, actor, args.show_names)
        elif args.action == "delete":
            info = store.get_session(args.session_id)
            if not args.yes:
                answer = input(
                    f"Delete session {info.id} ({info.n_frames} frames, started "
                    f"{_when(info.started_at)} UTC)? This cannot be undone. [y/N] "
                )
                if answer.strip().lower() not in ("y", "yes"):
                    print("nothing deleted")
                    return 1
            store.delete_session(info.id, actor=actor, erase=False)
            print(f"deleted session {info.id}")
            return _erase_deleted_data(store, args.action, args.database)
        elif args.action == "purge":
            days = args.days if args.days is not None else retention_days_from_env()
            if days is None:
                raise ValueError("give --days N or set FER_RETENTION_DAYS")
            deleted = store.purge_older_than(days, actor=actor, erase=False)
            print(f"deleted {deleted} sessions that started more than {days} days ago")
            return _erase_deleted_data(store, args.action, args.database)
        elif args.action == "erase-free-space":
            audit.record(actor, "erase_free_space")
            return _erase_deleted_data(store, args.action, args.database)
    except (ValueError, OSError, DatabaseError, sqlite3.Error) as error:
        print(f"fer sessions {args.action}: error: {error_line(error, args.database)}",
              file=sys.stderr)
        return 2
    except EOFError:  # the question was asked of a closed or non-interactive input
        print(f"fer sessions {args.action}: error: no answer on standard input; nothing was "
              "deleted (add --yes to delete without asking)", file=sys.stderr)
        return 2
    return 0
