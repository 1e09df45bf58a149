"""The credentials of a session room: the join link's token and the short code.

A join token is ``ROOM_KEY.SECRET``. ``ROOM_KEY`` is the room's public name (it also appears in
the clinician's URL, and a reverse proxy can route both sides of a room to one app instance by
it); ``SECRET`` is ``secrets.token_urlsafe(32)`` (256 random bits), shown once, and the database
keeps only its SHA-256 digest. The short code is for reading out on the phone: eight characters
from an alphabet without look-alikes (no 0/O, 1/I/L), about 39 bits, stored as a digest too and
guarded against guessing by :class:`fer.rooms.attempts.AttemptLimiter` and the room's expiry.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
from dataclasses import dataclass

from fer.storage.text_fields import without_invisible

SECRET_BYTES = 32
ROOM_KEY_BYTES = 9
ROOM_KEY_LENGTH = 12  # characters of secrets.token_urlsafe(ROOM_KEY_BYTES)
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
# Anything longer is not one of ours; refusing it bounds the work of hashing what was typed.
MAX_TOKEN_LENGTH = 200
TOKEN_SEPARATOR = "."
TOKEN_CHARACTERS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
)
INSTANCE_SEPARATOR = "-"
MAX_INSTANCE_LENGTH = 16
INSTANCE_NAME = re.compile(f"[a-z0-9]{{1,{MAX_INSTANCE_LENGTH}}}")


@dataclass(frozen=True)
class JoinToken:
    """A parsed join token."""

    room_key: str
    secret: str

    def __str__(self) -> str:
        return f"{self.room_key}{TOKEN_SEPARATOR}{self.secret}"


def digest(text: str) -> str:
    """SHA-256 hex digest: what the database keeps of a secret or a code."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def same_digest(stored: str, text: str) -> bool:
    """Whether ``text`` hashes to ``stored``, compared in constant time."""
    return hmac.compare_digest(stored, digest(text))


def new_join_token(instance: str = "") -> JoinToken:
    """A fresh token; with several app instances its room key starts with ``instance-``, the
    name of the instance hosting the room, which the reverse proxy routes the link by.

    The random part of a key holds no ``-``: a key without an instance must never read as one
    with (``ab3-…`` would send its client to an instance "ab3" that does not exist)."""
    prefix = f"{check_instance_name(instance)}{INSTANCE_SEPARATOR}" if instance else ""
    random_part = secrets.token_urlsafe(ROOM_KEY_BYTES).replace(INSTANCE_SEPARATOR, "_")
    return JoinToken(prefix + random_part, secrets.token_urlsafe(SECRET_BYTES))


def check_instance_name(name: str) -> str:
    """``name`` if it can prefix room keys (lower-case letters and digits, as the proxy's
    pattern expects); ``ValueError`` otherwise."""
    if not INSTANCE_NAME.fullmatch(name):
        raise ValueError(
            f"An instance name is 1 to {MAX_INSTANCE_LENGTH} lower-case letters or digits, "
            f"got {name!r}"
        )
    return name


def instance_of(room_key: str) -> str:
    """The instance named at the start of ``room_key``; "" for a key without that prefix.

    The random part after the prefix has a fixed length, which also keeps keys made before
    their random part lost its dashes (a key of the random part's length alone) unnamed."""
    name, separator, rest = room_key.partition(INSTANCE_SEPARATOR)
    named = separator and len(rest) == ROOM_KEY_LENGTH and INSTANCE_NAME.fullmatch(name)
    return name if named else ""


def is_token_text(text: str) -> bool:
    """Whether ``text`` uses only the characters of a room key or secret (URL-safe base64)."""
    return bool(text) and len(text) <= MAX_TOKEN_LENGTH and set(text) <= TOKEN_CHARACTERS


def parse_join_token(text: str) -> JoinToken | None:
    """The token in a join link's ``room`` parameter, or None when it cannot be one of ours.

    A link pasted from a message often ends with the sentence's full stop, or carries an
    invisible character; neither is ever part of a token, so both are dropped.
    """
    text = without_invisible(text or "").strip().rstrip(TOKEN_SEPARATOR)
    if len(text) > MAX_TOKEN_LENGTH or text.count(TOKEN_SEPARATOR) != 1:
        return None
    room_key, secret = text.split(TOKEN_SEPARATOR)
    if not is_token_text(room_key) or not is_token_text(secret):
        return None
    return JoinToken(room_key, secret)


def new_short_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(text: str) -> str | None:
    """A typed short code in its stored form (upper case, without spaces or dashes of any kind,
    full-width letters as their plain form), or None when it cannot be a code (wrong length or
    a character outside the alphabet)."""
    plain = without_invisible(unicodedata.normalize("NFKC", text or ""))
    code = "".join(
        character for character in plain
        if not character.isspace() and unicodedata.category(character) != "Pd"
    ).upper()
    if len(code) != CODE_LENGTH or not set(code) <= set(CODE_ALPHABET):
        return None
    return code


def format_code(code: str) -> str:
    """``ABCD-EFGH``: easier to read out in two halves."""
    half = len(code) // 2
    return f"{code[:half]}-{code[half:]}"
