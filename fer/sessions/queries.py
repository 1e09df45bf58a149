"""The store's read queries: which sessions a viewer may see, and rows into records and tables.

Split from :mod:`fer.sessions.store` so the access rule is written once and read in one place:

- no viewer (the command line, maintenance): every session;
- an admin: every session, those recorded before accounts existed included;
- a clinician: the sessions they recorded and those an admin shared with them;
- a reviewer (or any role without patient data): none, :class:`AccessDeniedError`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import ColumnElement, Connection, Select, and_, exists, func, or_, select

from fer.accounts.users import PATIENT_DATA_ROLES, User
from fer.data.lighting import is_overexposed
from fer.sessions.records import (
    AccessDeniedError,
    SessionInfo,
    SessionNotFoundError,
    positive_id,
)
from fer.sessions.schema import (
    ACTION_UNITS,
    ASYMMETRY_PREFIX,
    HEAD_POSE_AXES,
    TWO_SIDED_ACTION_UNITS,
)
from fer.storage.tables import consents, frames, session_shares, sessions, users


def visibility(viewer: User | None) -> ColumnElement[bool] | None:
    """The condition on ``sessions`` rows that ``viewer`` may see (None: no restriction).

    The account is read again with every query: a ``User`` held since a login (a page's
    download button, say) sees nothing once the account is disabled or its role changed."""
    if viewer is None:
        return None
    if not (viewer.is_admin or viewer.sees_patient_data):
        raise AccessDeniedError(f"The {viewer.role} role gives no access to recorded sessions")
    as_logged_in = exists().where(
        and_(users.c.id == viewer.id, users.c.role == viewer.role, users.c.disabled_at.is_(None))
    )
    if viewer.is_admin:
        return as_logged_in
    shared = exists().where(
        and_(session_shares.c.session_id == sessions.c.id, session_shares.c.user_id == viewer.id)
    )
    return and_(as_logged_in, or_(sessions.c.owner_id == viewer.id, shared))


def require_consent_control(
    connection: Connection, consent_id: int, viewer: User | None, action: str
) -> None:
    """Raise :class:`AccessDeniedError` unless ``viewer`` may withdraw consent ``consent_id`` or
    erase its name (``action``, for the message), which reaches every session under it.

    No viewer (the command line, a client withdrawing in a room) and an admin may; a clinician
    only when they recorded every session under the consent: a session another clinician shared
    with them does not make the other sessions of that consent theirs to delete or rename."""
    if viewer is None:
        return
    visibility(viewer)  # a role without patient data: AccessDeniedError
    as_logged_in = exists().where(
        and_(users.c.id == viewer.id, users.c.role == viewer.role, users.c.disabled_at.is_(None))
    )
    if not connection.execute(select(as_logged_in)).scalar():
        raise AccessDeniedError(f"This account (disabled, or its role changed) cannot {action}")
    if viewer.is_admin:
        return
    others = connection.execute(
        select(func.count()).select_from(sessions).where(
            sessions.c.consent_id == consent_id,
            or_(sessions.c.owner_id.is_(None), sessions.c.owner_id != viewer.id),
        )
    ).scalar()
    if others:
        raise AccessDeniedError(
            f"Consent {consent_id} also covers {others} session(s) recorded by someone else; "
            f"only an admin can {action}"
        )


def session_query(viewer: User | None) -> Select[Any]:
    """Sessions with their consent's state and frame count, restricted to what ``viewer`` sees."""
    n_frames = (
        select(func.count())
        .select_from(frames)
        .where(frames.c.session_id == sessions.c.id)
        .scalar_subquery()
    )
    query = select(
        sessions.c.id,
        sessions.c.consent_id,
        sessions.c.consent_by,
        sessions.c.consent_given_at,
        sessions.c.started_at,
        sessions.c.ended_at,
        sessions.c.model,
        sessions.c.classes,
        sessions.c.source,
        sessions.c.notes,
        n_frames.label("n_frames"),
        sessions.c.owner_id,
        consents.c.withdrawn_at,
        consents.c.client_code,
    ).select_from(sessions.join(consents, consents.c.id == sessions.c.consent_id))
    condition = visibility(viewer)
    return query if condition is None else query.where(condition)


def client_codes_query(viewer: User | None) -> Select[Any]:
    """The distinct client codes of the sessions ``viewer`` may see."""
    visible = session_query(viewer).where(consents.c.client_code.is_not(None)).subquery()
    return select(visible.c.client_code).distinct()


def visible_session(connection: Connection, session_id: int, viewer: User | None) -> SessionInfo:
    """The session if ``viewer`` may see it; ``SessionNotFoundError`` as for a missing one."""
    session_id = positive_id(session_id, "session_id")
    row = connection.execute(session_query(viewer).where(sessions.c.id == session_id)).first()
    if row is None:
        raise SessionNotFoundError(f"No session {session_id}")
    return session_from_row(row)


def locked_session(connection: Connection, session_id: int) -> Any:
    """The session's ``classes`` and ``ended_at`` and its consent's ``withdrawn_at``, the
    session's row locked for the rest of the write transaction (``SessionNotFoundError`` for
    an unknown session): a write that depends on them sees no other writer change them."""
    row = connection.execute(
        select(sessions.c.classes, sessions.c.ended_at, consents.c.withdrawn_at)
        .select_from(sessions.join(consents, consents.c.id == sessions.c.consent_id))
        .where(sessions.c.id == positive_id(session_id, "session_id"))
        .with_for_update(of=sessions)
    ).first()
    if row is None:
        raise SessionNotFoundError(f"No session {session_id}")
    return row


def may_hold_patient_data(connection: Connection, user_id: int) -> str:
    """The account's name; ``ValueError`` for an account that may not own or be shared a
    session."""
    account = connection.execute(
        select(users.c.name, users.c.role, users.c.disabled_at).where(users.c.id == user_id)
    ).first()
    if account is None:
        raise ValueError(f"No user {user_id} to own the session")
    if account.disabled_at is not None or account.role not in PATIENT_DATA_ROLES:
        raise ValueError(f"User {user_id} may not hold patient data (disabled or reviewer)")
    return str(account.name)


def session_from_row(row: Any) -> SessionInfo:
    return SessionInfo(
        id=row.id,
        consent_id=row.consent_id,
        consent_by=row.consent_by,
        consent_given_at=row.consent_given_at,
        started_at=row.started_at,
        ended_at=row.ended_at,
        model=row.model,
        classes=tuple(json.loads(row.classes)),
        source=row.source,
        notes=row.notes,
        n_frames=int(row.n_frames),
        owner_id=row.owner_id,
        consent_withdrawn_at=row.withdrawn_at,
        client_code=row.client_code,
    )


def frames_query(session_id: int) -> Select[Any]:
    return (
        select(
            frames.c.t_seconds,
            frames.c.track_id,
            frames.c.x,
            frames.c.y,
            frames.c.w,
            frames.c.h,
            frames.c.label,
            frames.c.confidence,
            frames.c.probs,
            frames.c.smoothed,
            frames.c.landmarks,
            frames.c.blendshapes,
            frames.c.valence,
            frames.c.arousal,
            frames.c.action_units,
            frames.c.au_asymmetry,
            frames.c.head_pose,
            frames.c.clipped_share,
        )
        .where(frames.c.session_id == session_id)
        .order_by(frames.c.t_seconds, frames.c.track_id, frames.c.id)
    )


def frames_table(
    rows: Sequence[Any], classes: Sequence[str], include_extras: bool
) -> pd.DataFrame:
    """Rows of :func:`frames_query` as the table ``SessionStore.load_frames`` returns."""
    rows = list(rows)
    columns = ["t_seconds", "track_id", "x", "y", "w", "h", "label", "confidence"]
    table = pd.DataFrame([tuple(row[:8]) for row in rows], columns=columns)
    table = table.astype({"t_seconds": float, "track_id": int, "confidence": float})
    for column in ("x", "y", "w", "h"):
        table[column] = table[column].astype(float)
    for offset, prefix in ((8, "prob"), (9, "smoothed")):
        values = np.frombuffer(b"".join(bytes(row[offset]) for row in rows), "<f4")
        # Six decimals: what float32 holds, without float32-to-decimal noise in exports.
        values = np.round(values.reshape(len(rows), len(classes)).astype(np.float64), 6)
        for index, name in enumerate(classes):
            table[f"{prefix}_{name}"] = values[:, index]
    if include_extras:
        table["landmarks"] = [
            None if row[10] is None else np.frombuffer(bytes(row[10]), "<f4").reshape(-1, 2)
            for row in rows
        ]
        table["blendshapes"] = [None if row[11] is None else json.loads(row[11]) for row in rows]
    return pd.concat([table, signals_table(rows)], axis=1)


def _spread(objects: list[dict[str, float] | None], names: Sequence[str]) -> pd.DataFrame:
    """JSON objects as one float column per name (``names`` first, then any other key met);
    NaN where a row has no object or lacks the key."""
    extra = sorted({key for item in objects if item for key in item} - set(names), key=_au_order)
    columns = [*names, *extra]
    values = [
        [np.nan if not item else item.get(name, np.nan) for name in columns] for item in objects
    ]
    return pd.DataFrame(
        np.asarray(values, dtype=float).reshape(len(objects), len(columns)), columns=columns
    )


def _au_order(name: str) -> tuple[int, str]:
    digits = name[2:]
    return (int(digits), name) if digits.isdigit() else (10**6, name)


def signals_table(rows: Sequence[Any]) -> pd.DataFrame:
    """The per-face signals of :func:`frames_query` rows: ``valence, arousal``, one column per
    action unit (``AU1`` ...), ``yaw, pitch, roll``, ``asym_<AU>`` per two-sided unit, then
    :func:`lighting_table`'s ``clipped_share, overexposed``."""

    def objects(offset: int) -> list[dict[str, float] | None]:
        return [None if row[offset] is None else json.loads(row[offset]) for row in rows]

    circumplex = pd.DataFrame(
        np.asarray(
            [[np.nan if v is None else v for v in row[12:14]] for row in rows], dtype=float
        ).reshape(len(rows), 2),
        columns=["valence", "arousal"],
    )
    units = _spread(objects(14), ACTION_UNITS)
    pose = _spread(objects(16), HEAD_POSE_AXES)
    asymmetry = _spread(objects(15), TWO_SIDED_ACTION_UNITS).add_prefix(ASYMMETRY_PREFIX)
    return pd.concat([circumplex, units, pose, asymmetry, lighting_table(rows)], axis=1)


def lighting_table(rows: Sequence[Any]) -> pd.DataFrame:
    """``clipped_share`` of :func:`frames_query` rows (NaN where not measured) and
    ``overexposed``, whether that reaches today's threshold (:mod:`fer.data.lighting`; NA where
    not measured: frames recorded before revision r0005)."""
    shares = [row[17] for row in rows]
    return pd.DataFrame({
        "clipped_share": pd.array(
            [np.nan if share is None else float(share) for share in shares], dtype=float
        ),
        "overexposed": pd.array(
            [None if share is None else is_overexposed(share) for share in shares],
            dtype="boolean",
        ),
    })
