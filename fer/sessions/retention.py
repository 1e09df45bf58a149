"""What happens to recorded data over time, as statements inside one of the store's transactions:
consent withdrawal (which also closes the consent's remote room), name erasure, deletion, the
retention purge, closing crashed sessions.

:class:`fer.sessions.store.SessionStore` validates the input, opens the transaction, calls these
and, after deletions, erases the freed space on disk; they are split out so that the store
module stays about one thing (reading and writing sessions).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Row, delete, func, literal, select, update

from fer.accounts.audit import append_entry
from fer.sessions.records import MAX_FRAME_T_SECONDS, ConsentError
from fer.sessions.schema import MAX_MARKER_NOTE_LENGTH, MAX_NOTES_LENGTH
from fer.storage.tables import (
    OPEN_ROOM_STATES,
    ROOM_WITHDRAWN,
    consents,
    frames,
    markers,
    rooms,
    session_shares,
    sessions,
)

# What replaces an erased name in a note when the replacement would not fit.
NAME_MARK = "[name]"


def delete_sessions(connection: Connection, session_ids: Sequence[int]) -> int:
    """Delete sessions with their frames and shares; return how many."""
    if not session_ids:
        return 0
    ids = list(session_ids)
    connection.execute(delete(frames).where(frames.c.session_id.in_(ids)))
    connection.execute(delete(session_shares).where(session_shares.c.session_id.in_(ids)))
    connection.execute(delete(sessions).where(sessions.c.id.in_(ids)))
    return len(ids)


def _locked_consent(connection: Connection, consent_id: int, *columns) -> Row:
    """``columns`` of consent ``consent_id``, locked for this transaction's update."""
    consent = connection.execute(
        select(*columns).where(consents.c.id == consent_id).with_for_update()
    ).first()
    if consent is None:
        raise ConsentError(f"No consent record {consent_id}")
    return consent


def withdraw(
    connection: Connection,
    consent_id: int,
    when: datetime | None,
    delete_data: bool,
    actor: str | None = None,
) -> tuple[int, datetime]:
    """Withdraw a consent at ``when`` (kept if already withdrawn), end its open sessions,
    close the remote room it was given in if still open (its analysis must stop, whoever records
    the withdrawal) and, with ``delete_data``, delete the sessions; return how many were
    deleted, and when. With ``actor``, the ``withdraw_consent`` audit entry is written in the
    same transaction, saying what happened to the sessions.
    """
    deleted, when = _withdraw(connection, consent_id, when, delete_data)
    if actor is not None:
        detail = (f"deleted {deleted} session(s)" if delete_data
                  else "sessions kept (clinic policy)")
        append_entry(connection, actor, "withdraw_consent", f"consent {consent_id}", detail)
    return deleted, when


def _withdraw(
    connection: Connection, consent_id: int, when: datetime | None, delete_data: bool
) -> tuple[int, datetime]:
    """:func:`withdraw` without the audit entry.

    ``when=None`` means now, read once the consent is locked: a session that started under
    the consent a moment before (its transaction held the consent) then cannot lie after the
    withdrawal, which would refuse it."""
    consent = _locked_consent(connection, consent_id, consents.c.given_at, consents.c.withdrawn_at)
    if when is None:
        when = datetime.now(UTC)
    if consent.withdrawn_at is None:
        _check_withdrawal_time(connection, consent_id, consent.given_at, when)
        connection.execute(
            update(consents).where(consents.c.id == consent_id).values(withdrawn_at=when)
        )
        connection.execute(
            update(sessions)
            .where(sessions.c.consent_id == consent_id, sessions.c.ended_at.is_(None))
            .values(ended_at=when)
        )
    # Also when withdrawing again: a room an older version left open closes then.
    connection.execute(
        update(rooms)
        .where(rooms.c.consent_id == consent_id, rooms.c.state.in_(OPEN_ROOM_STATES))
        .values(
            state=ROOM_WITHDRAWN,
            # The time bound as the column's type: as a plain datetime it is stored naive.
            ended_at=func.coalesce(
                rooms.c.ended_at, literal(consent.withdrawn_at or when, rooms.c.ended_at.type)
            ),
        )
    )
    if not delete_data:
        return 0, when
    session_ids = connection.execute(
        select(sessions.c.id).where(sessions.c.consent_id == consent_id)
    ).scalars().all()
    return delete_sessions(connection, session_ids), when


def _check_withdrawal_time(
    connection: Connection, consent_id: int, given_at: datetime, when: datetime
) -> None:
    """A withdrawal cannot predate the consent, nor a session recorded under it."""
    if when < given_at:
        raise ValueError(
            f"A withdrawal ({when.isoformat()}) cannot be dated before the consent was "
            f"given ({given_at.isoformat()})"
        )
    last_start = connection.execute(
        select(sessions.c.started_at)
        .where(sessions.c.consent_id == consent_id)
        .order_by(sessions.c.started_at.desc())
        .limit(1)
    ).scalar()
    if last_start is not None and when < last_start:
        raise ValueError(
            f"A withdrawal ({when.isoformat()}) cannot be dated before a session under "
            f"this consent started ({last_start.isoformat()})"
        )


def erase_name(connection: Connection, consent_id: int, name: str, now: datetime) -> None:
    """Replace the consenting person's name in the consent and its sessions.

    The first erasure also replaces the name where a clinician may have typed it: the notes of
    the consent's sessions and of their marked moments (:func:`redact_name`).
    """
    consent = _locked_consent(connection, consent_id, consents.c.given_by, consents.c.erased_at)
    connection.execute(
        update(consents).where(consents.c.id == consent_id).values(given_by=name, erased_at=now)
    )
    connection.execute(
        update(sessions).where(sessions.c.consent_id == consent_id).values(consent_by=name)
    )
    # After an erasure the notes hold the placeholder, not the name: nothing left to find.
    if consent.erased_at is None:
        _redact_notes(connection, consent_id, consent.given_by, name)


def redact_name(text: str, name: str, replacement: str) -> str:
    """``text`` with ``name`` and each of its words replaced by ``replacement``.

    Whole words only, in any letter case, the full name before its parts: a note that says
    "Dana" of "Dana Client" loses the first name too, and "Danamir" is left alone. A word ends
    at anything but a letter or digit, underscores included, so the name in a file name the
    app wrote into a note ("Uploaded file: Dana_Client_2024.mp4") goes too. Parts of one
    letter are kept (an initial would match every lone "a").
    """
    parts = sorted({name.strip(), *name.split()}, key=len, reverse=True)
    words = [re.escape(part) for part in parts if len(part) > 1]
    if not words:
        return text
    letter_or_digit = r"[^\W_]"
    pattern = re.compile(
        rf"(?<!{letter_or_digit})(?:" + "|".join(words) + rf")(?!{letter_or_digit})",
        re.IGNORECASE,
    )
    return pattern.sub(lambda _: replacement, text)


def _redacted_note(text: str, name: str, replacement: str, limit: int) -> str:
    """:func:`redact_name`, kept within the note's length ``limit``: a long replacement gives
    way to a short mark, and as a last resort the end of the note is cut."""
    redacted = redact_name(text, name, replacement)
    if len(redacted) > limit:
        redacted = redact_name(text, name, NAME_MARK)[:limit]
    return redacted


def _redact_notes(connection: Connection, consent_id: int, name: str, replacement: str) -> None:
    consents_sessions = select(sessions.c.id).where(sessions.c.consent_id == consent_id)
    # Each table with free text about a session: its note column, how it names the session and
    # the note's length limit.
    for column, session_of_row, limit in (
        (sessions.c.notes, sessions.c.id, MAX_NOTES_LENGTH),
        (markers.c.note, markers.c.session_id, MAX_MARKER_NOTE_LENGTH),
    ):
        table = column.table
        rows = connection.execute(
            select(table.c.id, column).where(session_of_row.in_(consents_sessions))
        ).all()
        for row_id, text in rows:
            redacted = _redacted_note(text or "", name, replacement, limit)
            if redacted != (text or ""):
                connection.execute(
                    update(table).where(table.c.id == row_id).values({column.name: redacted})
                )


def purge_started_before(
    connection: Connection, cutoff: datetime, now: datetime
) -> tuple[int, int]:
    """Delete every session that started before ``cutoff``, then erase the name on each
    consent given before ``cutoff`` that has no session left (:func:`erase_name`); return how
    many sessions were deleted and how many names erased.

    The consent row stays, with its dates, statement and client code, as evidence of what was
    agreed; the person's name would otherwise outlive the retention period the join page
    promises."""
    session_ids = connection.execute(
        select(sessions.c.id).where(sessions.c.started_at < cutoff)
    ).scalars().all()
    n_deleted = delete_sessions(connection, session_ids)
    has_sessions = select(sessions.c.id).where(sessions.c.consent_id == consents.c.id).exists()
    consent_ids = connection.execute(
        select(consents.c.id).where(
            consents.c.given_at < cutoff, consents.c.erased_at.is_(None), ~has_sessions
        )
    ).scalars().all()
    for consent_id in consent_ids:
        erase_name(connection, consent_id, erased_name(consent_id), now)
    return n_deleted, len(consent_ids)


def erased_name(consent_id: int) -> str:
    """What an erased name becomes when no pseudonym is given."""
    return f"erased (consent {consent_id})"


def close_abandoned(
    connection: Connection, idle_for: timedelta, now: datetime, actor: str | None = None
) -> int:
    """End open sessions whose last frame (or start) is ``idle_for`` or more before ``now``,
    at that time; return how many. With ``actor``, the ``close_abandoned_sessions`` audit entry
    is written in the same transaction when any was closed."""
    last_frame = (
        select(func.max(frames.c.t_seconds))
        .where(frames.c.session_id == sessions.c.id)
        .scalar_subquery()
    )
    rows = connection.execute(
        select(sessions.c.id, sessions.c.started_at, last_frame.label("last_t"))
        .where(sessions.c.ended_at.is_(None))
        .with_for_update(of=sessions)
    ).all()
    closed = 0
    for row in rows:
        # Bounded as frames are now checked to be, and never later than now: a frame time
        # stored before that check must not stop every other abandoned session from closing.
        last_t = min(float(row.last_t or 0.0), MAX_FRAME_T_SECONDS)
        ended = min(row.started_at + timedelta(seconds=last_t), now)
        if now - ended < idle_for:
            continue
        connection.execute(update(sessions).where(sessions.c.id == row.id).values(ended_at=ended))
        closed += 1
    if closed and actor is not None:
        append_entry(connection, actor, "close_abandoned_sessions",
                     detail=f"{closed} session(s) closed")
    return closed
