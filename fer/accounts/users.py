"""Local accounts: names, roles, Argon2 password hashes, lock-out after repeated failures.

Passwords are never stored: only their Argon2id hashes (argon2-cffi's defaults, rehashed on login
when those defaults grow). After ``MAX_FAILED_LOGINS`` consecutive failures an account is locked
for ``LOCKOUT``. A failed login says the same whether the name exists or not, takes as long, and
locks out an unknown name just like a known one, so the login form does not tell which names
exist. Accounts are disabled, never deleted: the audit log keeps naming them.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from fer.accounts.audit import append_entry
from fer.config import DEFAULT_SESSION_DB
from fer.storage.database import (
    inserted_id,
    is_postgres,
    open_engine,
    read_connection,
    write_transaction,
)
from fer.storage.tables import users

ROLES = ("clinician", "reviewer", "admin")
PATIENT_DATA_ROLES = ("clinician", "admin")
MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 12
# Bounds the work one login attempt can cause.
MAX_PASSWORD_LENGTH = 1024
MAX_USER_NAME_LENGTH = 100
NEW_USER_NAME = re.compile(r"[A-Za-z0-9._@-]+")
# Unknown names whose failures are counted in memory; beyond this the oldest are forgotten.
_MAX_TRACKED_UNKNOWN = 10_000
FAILED_LOGIN_MESSAGE = "Wrong name or password."

# Module level so that tests can swap in cheaper parameters.
password_hasher = PasswordHasher()


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: str
    disabled_at: datetime | None = None

    @property
    def sees_patient_data(self) -> bool:
        """Clinicians and admins see recorded sessions; reviewers never do."""
        return self.role in PATIENT_DATA_ROLES

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class LoginError(ValueError):
    """A login was refused; the message is safe to show and never says whether a name exists."""


class LockedOutError(LoginError):
    """A login refused unchecked because the name is locked out (nothing was tried)."""


class UserNotFoundError(ValueError):
    pass


def validate_role(role: Any) -> str:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}; got {role!r}")
    return str(role)


def validate_user_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValueError("A user name must be non-empty text")
    text = name.strip()
    if len(text) > MAX_USER_NAME_LENGTH:
        raise ValueError(f"A user name is at most {MAX_USER_NAME_LENGTH} characters")
    if any(not character.isprintable() for character in text):
        raise ValueError("A user name must not contain control characters")
    return text


def validate_new_user_name(name: Any) -> str:
    """A name for a new account: :func:`validate_user_name`, and only ASCII letters, digits
    and ``. _ - @``. Names are shown and audited as text, so two accounts must never look
    alike: accented letters written two ways, a Cyrillic "е" for a Latin "e" or full-width
    letters would each make a second "dr.lee". Case is kept but does not tell names apart."""
    text = validate_user_name(name)
    if not NEW_USER_NAME.fullmatch(text):
        raise ValueError(
            "A user name may hold only the letters a-z and A-Z, digits and . _ - @ "
            f"(got {text!r})"
        )
    return text


def validate_password(password: Any) -> str:
    if not isinstance(password, str):
        raise ValueError("A password must be text")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"A password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValueError(f"A password is at most {MAX_PASSWORD_LENGTH} characters")
    return password


def _as_now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError(f"now must carry a time zone, got {now}")
    return now.astimezone(UTC)


def _locked_message(until: datetime) -> str:
    return (
        f"Too many failed logins: this login is locked until {until:%Y-%m-%d %H:%M} UTC. "
        "Try again then, or ask an admin."
    )


def _user_from_row(row: Any) -> User:
    return User(row.id, row.name, row.role, row.disabled_at)


class AccountStore:
    """User accounts in the session database (``location``: file path or PostgreSQL URL)."""

    def __init__(self, location: str | Path = DEFAULT_SESSION_DB):
        self.engine = open_engine(location)
        self._lock = threading.Lock()
        # name -> (consecutive failures, locked until) for names that have no enabled account.
        self._unknown: dict[str, tuple[int, datetime | None]] = {}
        self._dummy_hash: str | None = None

    def __repr__(self) -> str:
        return f"AccountStore({self.engine.url.render_as_string(hide_password=True)!r})"

    # managing accounts -----------------------------------------------------------------------

    def add_user(self, name: str, role: str, password: str, actor: str | None = None) -> User:
        """Create an account; with ``actor``, its ``add_user`` audit entry in the same
        transaction (as for every change below).

        Raises ``ValueError`` for a taken name, an unknown role or a password that is too short.
        """
        name = validate_new_user_name(name)
        role = validate_role(role)
        hashed = password_hasher.hash(validate_password(password))
        taken = ValueError(f"A user named {name!r} exists already")
        try:
            with write_transaction(self.engine) as connection:
                if is_postgres(connection):
                    # The unique constraint compares exact names, so two names differing in
                    # case, added at once, would each find no other here; SQLite's write
                    # transactions run one at a time already.
                    connection.execute(text("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE"))
                same = select(users.c.id).where(func.lower(users.c.name) == name.lower())
                if connection.execute(same).first():
                    raise taken
                user_id = inserted_id(
                    connection.execute(
                        users.insert().values(
                            name=name,
                            role=role,
                            password_hash=hashed,
                            created_at=datetime.now(UTC),
                            failed_logins=0,
                        )
                    )
                )
                if actor is not None:
                    append_entry(connection, actor, "add_user", f"user {user_id}",
                                 f"{name} as {role}")
        except IntegrityError:  # added at the same moment by another connection
            raise taken from None
        return User(user_id, name, role)

    def set_password(self, name: str, password: str, actor: str | None = None) -> None:
        """Replace a password (and lift a lock-out)."""
        hashed = password_hasher.hash(validate_password(password))
        with write_transaction(self.engine) as connection:
            row = self._row(connection, name, lock=True)
            connection.execute(
                users.update()
                .where(users.c.id == row.id)  # the row found, however the name was typed
                .values(password_hash=hashed, failed_logins=0, locked_until=None)
            )
            if actor is not None:
                append_entry(connection, actor, "set_password", f"user {row.id}", row.name)

    def set_role(self, name: str, role: str, actor: str | None = None) -> None:
        role = validate_role(role)
        with write_transaction(self.engine) as connection:
            row = self._row(connection, name, lock=True)
            if row.role == "admin" and role != "admin":
                self._keep_an_admin(connection, row.id)
            connection.execute(users.update().where(users.c.id == row.id).values(role=role))
            if actor is not None:
                append_entry(connection, actor, "set_role", f"user {row.id}",
                             f"{row.name} to {role}")

    def disable_user(self, name: str, actor: str | None = None) -> None:
        """Refuse the account's logins from now on; the row stays for the audit trail."""
        with write_transaction(self.engine) as connection:
            row = self._row(connection, name, lock=True)
            if actor is not None:
                append_entry(connection, actor, "disable_user", f"user {row.id}", row.name)
            if row.disabled_at is not None:
                return
            if row.role == "admin":
                self._keep_an_admin(connection, row.id)
            connection.execute(
                users.update().where(users.c.id == row.id).values(disabled_at=datetime.now(UTC))
            )

    @staticmethod
    def _keep_an_admin(connection: Any, leaving_id: int) -> None:
        if is_postgres(connection):
            # Each change locks only its own row: two admins disabled or demoted at once
            # would each count the other and leave no admin. SQLite's write transactions
            # run one at a time already.
            connection.execute(text("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE"))
        others = connection.execute(
            select(func.count())
            .select_from(users)
            .where(
                users.c.role == "admin",
                users.c.disabled_at.is_(None),
                users.c.id != leaving_id,
            )
        ).scalar_one()
        if not others:
            raise ValueError("This is the last enabled admin; make another admin first")

    @staticmethod
    def _row(connection: Any, name: str, lock: bool = False) -> Any:
        query = select(users).where(users.c.name == validate_user_name(name))
        row = connection.execute(query.with_for_update() if lock else query).first()
        if row is None:
            raise UserNotFoundError(f"No user named {name!r}")
        return row

    # reading ---------------------------------------------------------------------------------

    def list_users(self) -> list[User]:
        """Every account, disabled ones included, by name."""
        with read_connection(self.engine) as connection:
            rows = connection.execute(select(users).order_by(users.c.name)).all()
        return [_user_from_row(row) for row in rows]

    def get_user(self, user_id: int) -> User:
        with read_connection(self.engine) as connection:
            row = connection.execute(select(users).where(users.c.id == user_id)).first()
        if row is None:
            raise UserNotFoundError(f"No user {user_id}")
        return _user_from_row(row)

    def get_user_by_name(self, name: str) -> User:
        with read_connection(self.engine) as connection:
            return _user_from_row(self._row(connection, name))

    # logging in ------------------------------------------------------------------------------

    def authenticate(self, name: str, password: str, now: datetime | None = None) -> User:
        """The user whose name and password these are; ``LoginError`` otherwise.

        ``now`` (for tests) is the time against which lock-outs are counted.
        """
        now = _as_now(now)
        if not isinstance(name, str) or not isinstance(password, str):
            raise LoginError(FAILED_LOGIN_MESSAGE)
        # No account has a longer name; the cut bounds what is kept of an unknown one.
        name = name.strip()[: MAX_USER_NAME_LENGTH + 1]
        row = None
        # No account's name holds an unprintable character (validate_user_name), and
        # PostgreSQL refuses a query holding a NUL: such a name fails as an unknown one.
        if name.isprintable():
            with read_connection(self.engine) as connection:
                row = connection.execute(select(users).where(users.c.name == name)).first()
        if row is None or row.disabled_at is not None:
            self._fail_unknown(name, password, now)
        if row.locked_until is not None and row.locked_until > now:
            raise LockedOutError(_locked_message(row.locked_until))
        # An over-long password is checked (cut) all the same: as slow as for an unknown name.
        matches = self._verify(row.password_hash, password[:MAX_PASSWORD_LENGTH])
        if len(password) > MAX_PASSWORD_LENGTH or not matches:
            self._fail_known(row.id, now)
        with write_transaction(self.engine) as connection:
            current = connection.execute(
                select(users.c.locked_until, users.c.disabled_at)
                .where(users.c.id == row.id)
                .with_for_update()
            ).one()
            if current.disabled_at is not None:
                raise LoginError(FAILED_LOGIN_MESSAGE)
            if current.locked_until is not None and current.locked_until > now:
                # Locked by a failure that finished while this password was being checked.
                raise LoginError(_locked_message(current.locked_until))
            values: dict[str, Any] = {"failed_logins": 0, "locked_until": None}
            if password_hasher.check_needs_rehash(row.password_hash):
                values["password_hash"] = password_hasher.hash(password)
            connection.execute(users.update().where(users.c.id == row.id).values(**values))
        return _user_from_row(row)

    @staticmethod
    def _verify(hashed: str, password: str) -> bool:
        try:
            # "surrogatepass": a lone surrogate (in no stored password) costs a full check
            # too, where encoding it strictly would raise before any.
            return password_hasher.verify(hashed, password.encode("utf-8", "surrogatepass"))
        except (VerificationError, InvalidHashError):
            return False

    def _fail_known(self, user_id: int, now: datetime) -> NoReturn:
        with write_transaction(self.engine) as connection:
            row = connection.execute(
                select(users.c.failed_logins, users.c.locked_until)
                .where(users.c.id == user_id)
                .with_for_update()
            ).one()
            failures, locked_until = self._count_failure(row.failed_logins, row.locked_until, now)
            connection.execute(
                users.update()
                .where(users.c.id == user_id)
                .values(failed_logins=failures, locked_until=locked_until)
            )
        if locked_until is not None:
            raise LoginError(_locked_message(locked_until))
        raise LoginError(FAILED_LOGIN_MESSAGE)

    def _fail_unknown(self, name: str, password: str, now: datetime) -> NoReturn:
        with self._lock:
            failures, locked_until = self._unknown.get(name, (0, None))
        if locked_until is not None and locked_until > now:
            raise LockedOutError(_locked_message(locked_until))  # as fast as for a known name
        # As slow as checking a real password, so timing does not tell the names apart.
        if self._dummy_hash is None:
            self._dummy_hash = password_hasher.hash("not a password of anyone")
        self._verify(self._dummy_hash, password[:MAX_PASSWORD_LENGTH])
        with self._lock:
            failures, locked_until = self._unknown.pop(name, (0, None))
            failures, locked_until = self._count_failure(failures, locked_until, now)
            if len(self._unknown) >= _MAX_TRACKED_UNKNOWN:
                self._unknown.pop(next(iter(self._unknown)))
            self._unknown[name] = (failures, locked_until)
        if locked_until is not None:
            raise LoginError(_locked_message(locked_until))
        raise LoginError(FAILED_LOGIN_MESSAGE)

    @staticmethod
    def _count_failure(
        failures: int, locked_until: datetime | None, now: datetime
    ) -> tuple[int, datetime | None]:
        """Failures and lock after one more failure; the count starts anew after a lock-out.

        A lock still in force stays as it is: a failure that was being checked while another
        request set the lock must not lift it."""
        if locked_until is not None and locked_until > now:
            return failures, locked_until
        if locked_until is not None:
            failures = 0
        failures += 1
        if failures >= MAX_FAILED_LOGINS:
            return 0, now + LOCKOUT
        return failures, None
