"""Checks for the free-text values the store keeps (names, notes, audit fields): text, trimmed,
bounded, so that a wrong value is refused with a message naming it before anything is written."""

from __future__ import annotations

import unicodedata
from typing import Any


def validate_text(value: Any, what: str, max_length: int, required: bool) -> str:
    """``value`` stripped; ``ValueError`` naming ``what`` unless it is a string of at most
    ``max_length`` characters without NUL (and not empty when ``required``)."""
    if not isinstance(value, str):
        raise ValueError(f"{what} must be text, got {type(value).__name__}")
    if "\x00" in value:
        # PostgreSQL cannot store it in text, and no name or note needs it.
        raise ValueError(f"{what} must not contain a NUL character")
    text = value.strip()
    if required and not text:
        raise ValueError(f"{what} must not be empty")
    if len(text) > max_length:
        raise ValueError(f"{what} is longer than {max_length} characters")
    return text


def without_invisible(text: str) -> str:
    """``text`` without invisible format characters (a zero-width space that a messaging app
    put into a pasted link or code, a direction override, a byte-order mark)."""
    return "".join(character for character in text if unicodedata.category(character) != "Cf")


def canonical_code(value: Any, what: str, max_length: int, required: bool) -> str:
    """A code people type to name the same thing twice (a client's pseudonym), in one form:
    :func:`validate_text`, then Unicode NFKC (full-width letters, non-breaking and other spaces
    as their plain forms; composed accents), format characters dropped (zero-width spaces,
    direction overrides, a byte-order mark) and runs of whitespace as one space. Two typings
    that look the same are then one code, so one client's history is not split in two."""
    text = validate_text(value, what, max_length, required)
    text = " ".join(without_invisible(unicodedata.normalize("NFKC", text)).split())
    if required and not text:
        raise ValueError(f"{what} must not be empty")
    if len(text) > max_length:  # NFKC may lengthen it
        raise ValueError(f"{what} is longer than {max_length} characters")
    return text
