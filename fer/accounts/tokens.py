"""Bearer tokens of the REST API: issued to an account (or to a service), stored only as hashes.

A token is ``secrets.token_urlsafe(32)`` (256 random bits), shown once when it is issued; the
database keeps its SHA-256 hex digest, so a copy of the database gives no working token. A token
is found by its digest (an index lookup, whose timing says nothing about the token), and the
stored digest is compared once more in constant time. A revoked or expired token, or one whose
account is disabled, no longer verifies. Tokens are revoked, never deleted: the audit log names
them by id. A token expires ``DEFAULT_TOKEN_LIFETIME`` after it is issued unless the issuer
chooses another lifetime (or none); tokens issued before schema revision r0008 have no expiry.

``user_id`` NULL marks a service token (a clinic's health-record system): it belongs to no
account, and what it may do is decided by the API (``fer.api``), not here.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from fer.accounts.audit import append_entry
from fer.accounts.users import User, UserNotFoundError, validate_user_name
from fer.config import DEFAULT_SESSION_DB
from fer.storage.database import inserted_id, open_engine, read_connection, write_transaction
from fer.storage.tables import api_tokens, users

TOKEN_BYTES = 32
MAX_TOKEN_NAME_LENGTH = 100
# A token longer than this is not one of ours; refusing it bounds the work of hashing it.
MAX_TOKEN_LENGTH = 512
# ``last_used_at`` is written at most this often per token, so reads do not turn into writes.
LAST_USED_RESOLUTION = timedelta(minutes=1)
# Long enough for an integration to run between a clinic's yearly reviews of its credentials,
# short enough that a token forgotten in a script or a backup stops working by itself.
DEFAULT_TOKEN_LIFETIME = timedelta(days=365)
MAX_TOKEN_LIFETIME = timedelta(days=3650)


class InvalidTokenError(ValueError):
    """The token is unknown, revoked, expired or belongs to a disabled account (not told
    apart)."""


@dataclass(frozen=True)
class ApiToken:
    """A token's record (never the token itself). ``user`` is None for a service token."""

    id: int
    name: str
    user: User | None
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    expires_at: datetime | None = None  # None: no expiry (issued before revision r0008, or chosen)


def token_digest(token: str) -> str:
    """The SHA-256 hex digest under which a token is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _validate_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValueError("A token needs a name (what it is for, e.g. 'health record export')")
    text = name.strip()
    if len(text) > MAX_TOKEN_NAME_LENGTH:
        raise ValueError(f"A token's name is at most {MAX_TOKEN_NAME_LENGTH} characters")
    if any(not character.isprintable() for character in text):
        raise ValueError("A token's name must not contain control characters")
    return text


def _token_query() -> Any:
    return select(
        api_tokens,
        users.c.name.label("user_name"),
        users.c.role,
        users.c.disabled_at,
    ).select_from(api_tokens.outerjoin(users, users.c.id == api_tokens.c.user_id))


def _token_from_row(row: Any) -> ApiToken:
    user = None
    if row.user_id is not None:
        user = User(row.user_id, row.user_name, row.role, row.disabled_at)
    return ApiToken(
        row.id, row.name or "", user, row.created_at, row.last_used_at, row.revoked_at,
        row.expires_at,
    )


def _validate_lifetime(lifetime: Any) -> timedelta | None:
    if lifetime is None:
        return None
    if not isinstance(lifetime, timedelta) or not (
        timedelta(0) < lifetime <= MAX_TOKEN_LIFETIME
    ):
        raise ValueError(
            f"A token's lifetime is more than 0 and at most {MAX_TOKEN_LIFETIME.days} days, "
            f"got {lifetime!r}"
        )
    return lifetime


class TokenStore:
    """API tokens in the session database (``location``: file path or PostgreSQL URL)."""

    def __init__(self, location: str | Path = DEFAULT_SESSION_DB):
        self.engine = open_engine(location)

    def __repr__(self) -> str:
        return f"TokenStore({self.engine.url.render_as_string(hide_password=True)!r})"

    def issue(
        self, user_name: str | None, name: str, actor: str | None = None,
        lifetime: timedelta | None = DEFAULT_TOKEN_LIFETIME,
    ) -> tuple[ApiToken, str]:
        """A new token for the account ``user_name`` (None: a service token), valid for
        ``lifetime`` (None: until revoked), and its record; with ``actor``, the
        ``issue_api_token`` audit entry in the same transaction.

        The token is returned only here; store it where the caller keeps secrets. Raises
        ``UserNotFoundError`` for an unknown name and ``ValueError`` for a disabled account or
        a lifetime outside (0, ``MAX_TOKEN_LIFETIME``].
        """
        name = _validate_name(name)
        lifetime = _validate_lifetime(lifetime)
        token = secrets.token_urlsafe(TOKEN_BYTES)
        now = datetime.now(UTC)
        expires_at = None if lifetime is None else now + lifetime
        with write_transaction(self.engine) as connection:
            user = None
            if user_name is not None:
                row = connection.execute(
                    select(users).where(users.c.name == validate_user_name(user_name))
                ).first()
                if row is None:
                    raise UserNotFoundError(f"No user named {user_name!r}")
                if row.disabled_at is not None:
                    raise ValueError(f"The account {row.name!r} is disabled; it gets no token")
                user = User(row.id, row.name, row.role, row.disabled_at)
            token_id = inserted_id(
                connection.execute(
                    api_tokens.insert().values(
                        user_id=None if user is None else user.id,
                        name=name,
                        token_hash=token_digest(token),
                        created_at=now,
                        expires_at=expires_at,
                    )
                )
            )
            if actor is not None:
                target = "service" if user is None else f"user {user.id}"
                expiry = "no expiry" if expires_at is None else f"expires {expires_at:%Y-%m-%d}"
                append_entry(
                    connection, actor, "issue_api_token", target, f"api token {token_id}; {expiry}"
                )
        return ApiToken(token_id, name, user, now, expires_at=expires_at), token

    def verify(self, token: str, now: datetime | None = None) -> ApiToken:
        """The record of a valid token; ``InvalidTokenError`` otherwise."""
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
            raise InvalidTokenError("invalid token")
        digest = token_digest(token)
        with read_connection(self.engine) as connection:
            row = connection.execute(
                _token_query().where(api_tokens.c.token_hash == digest)
            ).first()
        if row is None or not hmac.compare_digest(row.token_hash, digest):
            raise InvalidTokenError("invalid token")
        if row.revoked_at is not None or row.disabled_at is not None:
            raise InvalidTokenError("invalid token")
        record = _token_from_row(row)
        now = now or datetime.now(UTC)
        if record.expires_at is not None and now >= record.expires_at:
            raise InvalidTokenError("invalid token")
        if record.last_used_at is None or now - record.last_used_at >= LAST_USED_RESOLUTION:
            with write_transaction(self.engine) as connection:
                connection.execute(
                    api_tokens.update()
                    .where(api_tokens.c.id == record.id)
                    .values(last_used_at=now)
                )
            record = replace(record, last_used_at=now)
        return record

    def revoke(
        self, token_id: int, user_name: str | None = None, actor: str | None = None
    ) -> ApiToken:
        """Revoke a token (revoking twice changes nothing) and return its record; with
        ``actor``, the ``revoke_api_token`` audit entry in the same transaction.

        With ``user_name`` the token must be that account's (``ValueError`` otherwise), so a
        typo cannot revoke another account's token.
        """
        if isinstance(token_id, bool) or not isinstance(token_id, int) or token_id < 1:
            raise ValueError(f"A token id is a positive whole number, got {token_id!r}")
        if token_id >= 2**63:
            raise ValueError(f"No API token {token_id}: larger than any stored id")
        with write_transaction(self.engine) as connection:
            row = connection.execute(
                _token_query().where(api_tokens.c.id == token_id)
            ).first()
            if row is None or (user_name is not None and row.user_name != user_name):
                owner = f" of {user_name!r}" if user_name is not None else ""
                raise ValueError(f"No API token {token_id}{owner}")
            if row.revoked_at is None:
                connection.execute(
                    api_tokens.update()
                    .where(api_tokens.c.id == token_id)
                    .values(revoked_at=datetime.now(UTC))
                )
            if actor is not None:
                target = "service" if row.user_id is None else f"user {row.user_id}"
                append_entry(
                    connection, actor, "revoke_api_token", target, f"api token {token_id}"
                )
            row = connection.execute(_token_query().where(api_tokens.c.id == token_id)).first()
        return _token_from_row(row)

    def list_tokens(self, user_name: str | None = None) -> list[ApiToken]:
        """Every token's record (revoked ones included), or those of one account, by id."""
        query = _token_query().order_by(api_tokens.c.id)
        if user_name is not None:
            query = query.where(users.c.name == validate_user_name(user_name))
        with read_connection(self.engine) as connection:
            return [_token_from_row(row) for row in connection.execute(query).all()]


__all__ = [
    "DEFAULT_TOKEN_LIFETIME", "ApiToken", "InvalidTokenError", "TokenStore", "token_digest",
]
