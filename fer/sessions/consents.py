"""Consent records: the first part of the session store (:class:`ConsentRegister`).

Nothing about a person is stored before that person's consent is on record; a withdrawal ends
the consent's sessions and, unless the clinic's policy keeps the recording, deletes them (see
:mod:`fer.sessions.retention`). :class:`fer.sessions.store.SessionStore` builds on this class;
split from it to keep each module short.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, select

from fer.accounts.audit import append_entry
from fer.accounts.users import User
from fer.sessions import retention
from fer.sessions.queries import require_consent_control
from fer.sessions.records import (
    Consent,
    ConsentError,
    as_utc,
    positive_id,
    utc_now,
)
from fer.sessions.schema import CLOCK_SKEW, CONSENT_STATEMENT, MAX_NAME_LENGTH, MAX_NOTES_LENGTH
from fer.storage.database import (
    inserted_id,
    read_connection,
    write_transaction,
)
from fer.storage.erasure import erase_free_space
from fer.storage.tables import consents
from fer.storage.text_fields import canonical_code, validate_text


class ConsentRegister:
    """Consent records in one database (``engine``); used through ``SessionStore``."""

    engine: Engine

    def _erase(self) -> None:
        erase_free_space(self.engine)

    def erase_deleted_data(self, wait_s: float) -> bool:
        """Make what earlier deletions freed unreadable in the database's files, trying for up
        to ``wait_s`` while another connection is in the way; True once done
        (:func:`fer.storage.erasure.erase_free_space`). For callers that deleted with
        ``erase=False`` and must know the outcome before they exit (the command line)."""
        return erase_free_space(self.engine, wait_s=wait_s)

    def record_consent(
        self,
        given_by: str,
        given_at: datetime | None = None,
        statement: str = CONSENT_STATEMENT,
        client_code: str | None = None,
        actor: str | None = None,
    ) -> Consent:
        """Store that ``given_by`` consented (now, or at ``given_at``) to ``statement``.

        ``client_code`` is an optional pseudonym the clinic uses for the person. With ``actor``,
        the ``record_consent`` audit entry is written in the same transaction (as for the
        withdrawal and the erasure below).
        """
        name = validate_text(given_by, "The name of the person consenting", MAX_NAME_LENGTH, True)
        text = validate_text(statement, "The consent statement", MAX_NOTES_LENGTH, True)
        code = None
        if client_code is not None:
            code = canonical_code(client_code, "The client code", MAX_NAME_LENGTH, False) or None
        when = utc_now() if given_at is None else as_utc(given_at, "given_at")
        if when > utc_now() + CLOCK_SKEW:
            raise ValueError(f"Consent cannot be given in the future ({when.isoformat()})")
        with write_transaction(self.engine) as connection:
            consent_id = inserted_id(
                connection.execute(
                    consents.insert().values(
                        given_by=name, given_at=when, statement=text, client_code=code
                    )
                )
            )
            if actor is not None:
                append_entry(connection, actor, "record_consent", f"consent {consent_id}")
        return Consent(consent_id, name, when, text, client_code=code)

    def get_consent(self, consent_id: int) -> Consent:
        with read_connection(self.engine) as connection:
            row = connection.execute(
                select(consents).where(consents.c.id == positive_id(consent_id, "consent_id"))
            ).first()
        if row is None:
            raise ConsentError(f"No consent record {consent_id}")
        return Consent(
            row.id,
            row.given_by,
            row.given_at,
            row.statement,
            row.withdrawn_at,
            row.client_code,
            row.erased_at,
        )

    def withdraw_consent(
        self,
        consent_id: int,
        at: datetime | None = None,
        delete_data: bool = True,
        viewer: User | None = None,
        actor: str | None = None,
    ) -> int:
        """Withdraw a consent (now, or at ``at``) and return how many sessions were deleted.

        Open sessions end at the withdrawal and take no further frames. With ``delete_data``
        (the default) every session recorded under the consent is deleted; without it they are
        kept, marked ``SessionInfo.consent_withdrawn_at`` (where a clinic's policy requires
        keeping records). The consent record itself stays, as evidence of what was agreed.
        Withdrawing again changes only what is deleted.

        Raises ``ValueError`` for a withdrawal dated before the consent was given, before one of
        its sessions started, or in the future; ``ConsentError`` for an unknown consent;
        ``AccessDeniedError`` when ``viewer`` (None: no account, the command line) may not
        (:func:`fer.sessions.queries.require_consent_control`).
        """
        consent_id = positive_id(consent_id, "consent_id")
        when = None if at is None else as_utc(at, "at")  # None: now, once the consent is locked
        if when is not None and when > utc_now() + CLOCK_SKEW:
            raise ValueError(f"Consent cannot be withdrawn in the future ({when.isoformat()})")
        with write_transaction(self.engine) as connection:
            require_consent_control(connection, consent_id, viewer, "withdraw it")
            deleted, _ = retention.withdraw(connection, consent_id, when, delete_data, actor)
        if deleted:
            self._erase()
        return deleted

    def erase_consent_name(
        self,
        consent_id: int,
        replacement: str | None = None,
        viewer: User | None = None,
        actor: str | None = None,
    ) -> None:
        """Replace the person's name in the consent and its sessions; the dates stay.

        The name becomes ``replacement`` (a pseudonym) or ``"erased (consent N)"``, also where
        it was typed into the sessions' notes and their markers' notes. ``AccessDeniedError``
        when ``viewer`` may not (:func:`fer.sessions.queries.require_consent_control`).
        """
        consent_id = positive_id(consent_id, "consent_id")
        if replacement is None:
            name = retention.erased_name(consent_id)
        else:
            name = validate_text(replacement, "The replacement name", MAX_NAME_LENGTH, True)
        with write_transaction(self.engine) as connection:
            require_consent_control(connection, consent_id, viewer, "erase its name")
            retention.erase_name(connection, consent_id, name, utc_now())
            if actor is not None:
                append_entry(connection, actor, "erase_consent_name", f"consent {consent_id}",
                             "erased" if replacement is None else "pseudonymised")
        self._erase()
