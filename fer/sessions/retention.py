"""What happens to recorded data over time, as statements inside one of the store's transactions:
consent withdrawal, name erasure, deletion, the retention purge, closing crashed sessions.

:class:`fer.sessions.store.SessionStore` validates the input, opens the transaction, calls these
and, after deletions, erases the freed space on disk; they are split out so that the store
module stays about one thing (reading and writing sessions).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, func, select, update

from fer.sessions.records import ConsentError
from fer.storage.tables import consents, frames, session_shares, sessions


def delete_sessions(connection: Connection, session_ids: Sequence[int]) -> int:
    """Delete sessions with their frames and shares; return how many."""
    if not session_ids:
        return 0
    ids = list(session_ids)
    connection.execute(delete(frames).where(frames.c.session_id.in_(ids)))
    connection.execute(delete(session_shares).where(session_shares.c.session_id.in_(ids)))
    connection.execute(delete(sessions).where(sessions.c.id.in_(ids)))
    return len(ids)


def withdraw(connection: Connection, consent_id: int, when: datetime, delete_data: bool) -> int:
    """Withdraw a consent at ``when`` (kept if already withdrawn), end its open sessions and,
    with ``delete_data``, delete them all; return how many were deleted."""
    consent = connection.execute(
        select(consents.c.given_at, consents.c.withdrawn_at)
        .where(consents.c.id == consent_id)
        .with_for_update()
    ).first()
    if consent is None:
        raise ConsentError(f"No consent record {consent_id}")
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
    if not delete_data:
        return 0
    session_ids = connection.execute(
        select(sessions.c.id).where(sessions.c.consent_id == consent_id)
    ).scalars().all()
    return delete_sessions(connection, session_ids)


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
    """Replace the consenting person's name in the consent and its sessions."""
    updated = connection.execute(
        update(consents).where(consents.c.id == consent_id).values(given_by=name, erased_at=now)
    ).rowcount
    if not updated:
        raise ConsentError(f"No consent record {consent_id}")
    connection.execute(
        update(sessions).where(sessions.c.consent_id == consent_id).values(consent_by=name)
    )


def purge_started_before(connection: Connection, cutoff: datetime) -> int:
    """Delete every session that started before ``cutoff``; return how many."""
    session_ids = connection.execute(
        select(sessions.c.id).where(sessions.c.started_at < cutoff)
    ).scalars().all()
    return delete_sessions(connection, session_ids)


def close_abandoned(connection: Connection, idle_for: timedelta, now: datetime) -> int:
    """End open sessions whose last frame (or start) is ``idle_for`` or more before ``now``,
    at that time; return how many."""
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
        ended = row.started_at + timedelta(seconds=float(row.last_t or 0.0))
        if now - ended < idle_for:
            continue
        connection.execute(update(sessions).where(sessions.c.id == row.id).values(ended_at=ended))
        closed += 1
    return closed
