"""Manage the app's local accounts: add one (clinician, reviewer or admin), list them, change a
role or a password, disable one, issue or revoke an API token (fer serve). Passwords are asked
for twice without echo, or read as one line from standard input with --password-stdin; never
given as an argument. Every action is recorded in the audit log as cli:<your user name>.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime, timedelta

from fer.cli import printable
from fer.cli.database_options import (
    add_actions,
    cli_actor,
    error_line,
    require_existing_database,
)

# fer.accounts.tokens.DEFAULT_TOKEN_LIFETIME and MAX_TOKEN_LIFETIME in days (kept here so that
# `fer --help` does not import the database layer; a test holds them equal).
DEFAULT_TOKEN_DAYS = 365
MAX_TOKEN_DAYS = 3650

EXAMPLE = """\
fer users add dr.lee --role clinician
printf '%s\\n' "$PASSWORD" | fer users add admin --role admin --password-stdin
fer users list
fer users set-role dr.lee admin
fer users disable dr.lee
fer users token dr.lee --label "health record export" --days 90
fer users token dr.lee --list
fer users token dr.lee --revoke 3"""

ROLES = ("clinician", "reviewer", "admin")  # fer.accounts.ROLES, without importing it here

ACTIONS = {
    "add": ("add an account", "fer users add dr.lee --role clinician"),
    "list": ("list accounts with their role and state", "fer users list"),
    "disable": ("refuse an account's logins from now on (kept for the audit log)",
                "fer users disable dr.lee"),
    "set-role": ("change an account's role", "fer users set-role dr.lee reviewer"),
    "set-password": ("set a new password (lifts a lock-out)",
                     "fer users set-password dr.lee --password-stdin < password.txt"),
    "token": ("issue an API token for fer serve (printed once), list or revoke one",
              "fer users token dr.lee --label 'health record export'"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = add_actions(parser, ACTIONS)
    for name in ("add", "disable", "set-role", "set-password", "token"):
        actions[name].add_argument("name", help="the account's login name")
    actions["add"].add_argument("--role", required=True, choices=ROLES)
    actions["set-role"].add_argument("role", choices=ROLES)
    for name in ("add", "set-password"):
        actions[name].add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password as one line from standard input instead of a prompt",
        )
    actions["token"].add_argument("--label", default="fer users token",
                                  help="what the token is for (shown by --list)")
    lifetime = actions["token"].add_mutually_exclusive_group()
    lifetime.add_argument("--days", type=int, default=DEFAULT_TOKEN_DAYS, metavar="N",
                          help=f"days until the new token expires (default {DEFAULT_TOKEN_DAYS}, "
                          f"at most {MAX_TOKEN_DAYS})")
    lifetime.add_argument("--no-expiry", action="store_true",
                          help="the new token works until it is revoked")
    instead = actions["token"].add_mutually_exclusive_group()
    instead.add_argument("--revoke", type=int, metavar="ID",
                         help="revoke the account's token ID instead of issuing one")
    instead.add_argument("--list", action="store_true",
                         help="list the account's tokens instead of issuing one")


def read_password(from_stdin: bool) -> str:
    """The new password: one line of standard input, or typed twice at a prompt."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password (at least 12 characters): ")
    if getpass.getpass("The same password again: ") != first:
        raise ValueError("The two passwords differ; nothing was changed")
    return first


def _token(args: argparse.Namespace, accounts, audit, actor: str) -> None:
    from fer.accounts.tokens import TokenStore

    tokens = TokenStore(args.database)
    user = accounts.get_user_by_name(args.name)
    if args.list:
        records = tokens.list_tokens(user.name)
        audit.record(actor, "list_api_tokens", f"user {user.id}", f"{len(records)} tokens")
        print(f"{'id':>4}  {'label':<32} {'created (UTC)':<16}  state")
        for record in records:
            state = token_state(record)
            if user.disabled_at and state.startswith("active"):
                # The API refuses every token of a disabled account, whatever the token says.
                state = f"refused: account disabled {user.disabled_at:%Y-%m-%d}"
            print(f"{record.id:>4}  {printable(record.name):<32} "
                  f"{record.created_at:%Y-%m-%d %H:%M}  {state}")
    elif args.revoke is not None:
        record = tokens.revoke(args.revoke, user.name, actor=actor)
        print(f"revoked API token {record.id} of {user.name!r}")
    else:
        if not args.no_expiry and not 1 <= args.days <= MAX_TOKEN_DAYS:
            raise ValueError(f"--days must be from 1 to {MAX_TOKEN_DAYS}, not {args.days}")
        lifetime = None if args.no_expiry else timedelta(days=args.days)
        record, token = tokens.issue(user.name, args.label, actor=actor, lifetime=lifetime)
        until = ("it does not expire" if record.expires_at is None
                 else f"valid until {record.expires_at:%Y-%m-%d %H:%M} UTC")
        print(f"API token {record.id} for {user.name!r}, {until} (shown only now; keep it "
              "secret):", file=sys.stderr)
        print(token)


def token_state(record, now: datetime | None = None) -> str:
    """``active until …``, ``active, no expiry``, ``expired …`` or ``revoked …``."""
    now = now or datetime.now(UTC)
    if record.revoked_at:
        return f"revoked {record.revoked_at:%Y-%m-%d}"
    if record.expires_at is None:
        return "active, no expiry"
    if now >= record.expires_at:
        return f"expired {record.expires_at:%Y-%m-%d}"
    return f"active until {record.expires_at:%Y-%m-%d}"


def run(args: argparse.Namespace) -> int:
    from fer.accounts import AccountStore, AuditLog
    from fer.storage import DatabaseError

    actor = cli_actor()
    try:
        if args.action != "add":
            # Only adding an account (the first admin, README) may create the database; the
            # other actions change or read existing accounts, and a mistyped path must not
            # become a new, empty database.
            require_existing_database(args.database)
        accounts = AccountStore(args.database)
        audit = AuditLog(args.database)
        if args.action == "list":
            users = accounts.list_users()
            audit.record(actor, "list_users", detail=f"{len(users)} accounts")
            print(f"{'id':>4}  {'name':<24} {'role':<10} state")
            for user in users:
                state = f"disabled {user.disabled_at:%Y-%m-%d}" if user.disabled_at else "active"
                print(f"{user.id:>4}  {user.name:<24} {user.role:<10} {state}")
            return 0
        if args.action == "add":
            user = accounts.add_user(
                args.name, args.role, read_password(args.password_stdin), actor=actor
            )
            print(f"added {user.role} {user.name!r} (id {user.id})")
        elif args.action == "disable":
            accounts.disable_user(args.name, actor=actor)
            print(f"disabled {args.name!r}")
        elif args.action == "set-role":
            accounts.set_role(args.name, args.role, actor=actor)
            print(f"{args.name!r} is now {args.role}")
        elif args.action == "set-password":
            accounts.set_password(args.name, read_password(args.password_stdin), actor=actor)
            print(f"new password set for {args.name!r}")
        elif args.action == "token":
            _token(args, accounts, audit, actor)
    except (ValueError, OSError, DatabaseError) as error:
        print(f"fer users {args.action}: error: {error_line(error, args.database)}",
              file=sys.stderr)
        return 2
    except EOFError:  # the prompt met a closed or non-interactive input
        print(f"fer users {args.action}: error: no password on standard input; nothing was "
              "changed (use --password-stdin to pipe one in)", file=sys.stderr)
        return 2
    return 0
