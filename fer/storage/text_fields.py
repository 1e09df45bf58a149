"""Checks for the free-text values the store keeps (names, notes, audit fields): text, trimmed,
bounded, so that a wrong value is refused with a message naming it before anything is written."""

from __future__ import annotations

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
