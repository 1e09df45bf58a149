"""Deleting sessions: the third part of the session store (:class:`SessionDeleter`).

One session at a clinician's or an admin's request, or every session older than the clinic's
retention period; the consent records stay as evidence. Builds on
:class:`fer.sessions.reading.SessionReader` (a deletion checks who may see the session);
:class:`fer.sessions.store.SessionStore` adds the other writes. What is deleted together is
decided in :mod:`fer.sessions.retention`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fer.accounts.audit import append_entry
from fer.accounts.users import User
from fer.sessions import retention
from fer.sessions.queries import locked_session, visible_session
from fer.sessions.reading import SessionReader
from fer.sessions.records import AccessDeniedError, as_utc, utc_now
from fer.storage.database import write_transaction


class SessionDeleter(SessionReader):
    """Deleting sessions of the database at ``self.engine``; used through ``SessionStore``."""

    def delete_session(
        self,
        session_id: int,
        viewer: User | None = None,
        actor: str | None = None,
        erase: bool = True,
        detail: str = "",
    ) -> None:
        """Delete a session, its frames and its shares; the consent record stays as evidence.

        A clinician may delete the sessions they recorded (not those only shared with them).
        With ``actor``, the ``delete_session`` audit entry (with ``detail``, e.g. which API
        token was used) is written in the same transaction.
        ``erase=False`` leaves erasing the freed space to the caller
        (:meth:`erase_deleted_data`), which then learns whether it finished.
        """
        with write_transaction(self.engine) as connection:
            # Locked first: a second deletion of the same session at the same moment waits
            # here, then finds it gone, instead of deleting nothing and auditing a deletion.
            locked_session(connection, session_id)
            info = visible_session(connection, session_id, viewer)
            if viewer is not None and not viewer.is_admin and info.owner_id != viewer.id:
                raise AccessDeniedError(
                    f"Only the clinician who recorded session {session_id} or an admin can "
                    "delete it"
                )
            retention.delete_sessions(connection, [info.id])
            if actor is not None:
                append_entry(connection, actor, "delete_session", f"session {info.id}", detail)
        if erase:
            self._erase()

    def purge_older_than(
        self,
        days: int,
        now: datetime | None = None,
        actor: str | None = None,
        erase: bool = True,
    ) -> int:
        """Delete every session that started more than ``days`` days before ``now``, and erase
        the name on each consent given before then that has no session left (the consent
        stays, with its dates and client code, as evidence of consent); return how many
        sessions were deleted.

        With ``actor``, the ``purge_sessions`` audit entry is written in the same transaction
        (also when nothing was old enough: the run itself is on record). ``erase`` as for
        :meth:`delete_session`.
        """
        if isinstance(days, bool) or not isinstance(days, int) or days < 1:
            raise ValueError(f"days must be a positive whole number, got {days!r}")
        now = utc_now() if now is None else as_utc(now, "now")
        if days > (now - datetime.min.replace(tzinfo=UTC)).days:
            raise ValueError(f"A retention period of {days} days reaches before the year 1")
        cutoff = now - timedelta(days=days)
        with write_transaction(self.engine) as connection:
            deleted, n_erased = retention.purge_started_before(connection, cutoff, now)
            if actor is not None:
                append_entry(
                    connection, actor, "purge_sessions",
                    detail=f"{deleted} sessions older than {days} days; "
                    f"names erased from {n_erased} consents without sessions",
                )
        if (deleted or n_erased) and erase:
            self._erase()
        return deleted
