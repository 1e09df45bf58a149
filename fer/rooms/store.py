"""Session rooms in the database: inviting a client, resolving a join link or short code, the
client's own consent, withdrawal and the end of a room.

Rows, not process memory, so that any app instance sharing the database can resolve a link; what
happens live in a room (results, latency, connection) lives in the instance that hosts it
(:mod:`fer.rooms.live`).

A room is open while its state is ``waiting`` or ``consented`` and its expiry lies ahead; a link
or code of any other room raises :class:`RoomClosedError` with a reason the join page can show
(unless the client may still withdraw the consent they gave there, when the page asks for that
room), and one that matches no room raises :class:`RoomNotFoundError`. Only the room's owner
sees it on the clinician's side (:meth:`RoomStore.owned_room`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy
from sqlalchemy import func, select, update

from fer.accounts.audit import append_entry
from fer.accounts.users import User
from fer.config import DEFAULT_SESSION_DB
from fer.rooms import credentials
from fer.sessions import retention
from fer.sessions.records import Consent, as_utc, positive_id, utc_now
from fer.sessions.schema import MAX_NAME_LENGTH, MAX_NOTES_LENGTH
from fer.storage.database import (
    inserted_id,
    open_engine,
    read_connection,
    write_transaction,
)
from fer.storage.erasure import erase_free_space
from fer.storage.tables import (
    OPEN_ROOM_STATES,
    ROOM_CONSENTED,
    ROOM_ENDED,
    ROOM_WAITING,
    ROOM_WITHDRAWN,
    consents,
    rooms,
    sessions,
)
from fer.storage.text_fields import canonical_code, validate_text

WAITING, CONSENTED, WITHDRAWN, ENDED = ROOM_WAITING, ROOM_CONSENTED, ROOM_WITHDRAWN, ROOM_ENDED
OPEN_STATES = OPEN_ROOM_STATES
# Not a state: how a withdrawn room is described when the clinic's policy kept its sessions.
WITHDRAWN_KEPT = "withdrawn, sessions kept"
DEFAULT_LIFETIME = timedelta(hours=2)
MIN_LIFETIME = timedelta(minutes=5)
MAX_LIFETIME = timedelta(hours=24)
MAX_CLIENT_CODE_LENGTH = MAX_NAME_LENGTH
# Unique-index clashes of fresh random values are retried this often before giving up.
CREATE_ATTEMPTS = 5


class RoomNotFoundError(ValueError):
    """No room has this link or code (or none the viewer may open; the two are not told apart)."""


class RoomClosedError(ValueError):
    """The room exists but can no longer be joined: ``reason`` is expired, ended, withdrawn or
    :data:`WITHDRAWN_KEPT`."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(f"The room is {reason}")


@dataclass(frozen=True)
class Room:
    id: int
    room_key: str
    owner_id: int
    client_code: str
    created_at: datetime
    expires_at: datetime
    state: str
    consent_id: int | None = None
    ended_at: datetime | None = None

    def status(self, now: datetime | None = None) -> str:
        """``waiting``, ``consented``, ``expired``, ``withdrawn`` or ``ended``."""
        now = utc_now() if now is None else now
        if self.state in OPEN_STATES and now >= self.expires_at:
            return "expired"
        return self.state

    def is_open(self, now: datetime | None = None) -> bool:
        return self.status(now) in OPEN_STATES


@dataclass(frozen=True)
class Invitation:
    """A new room with its credentials, which exist only here: the database keeps digests."""

    room: Room
    token: credentials.JoinToken
    short_code: str


def _room(row: Any) -> Room:
    return Room(
        row.id, row.room_key, row.owner_id, row.client_code, row.created_at, row.expires_at,
        row.state, row.consent_id, row.ended_at,
    )


class RoomStore:
    """Rooms in one database (a SQLite file or a ``postgresql://`` URL), thread-safe."""

    def __init__(self, location: str | Path = DEFAULT_SESSION_DB):
        self.engine = open_engine(location)

    # the clinician's side ---------------------------------------------------------------------

    def create_room(
        self, owner: User, client_code: str, lifetime: timedelta = DEFAULT_LIFETIME,
        now: datetime | None = None, instance: str = "", actor: str | None = None,
    ) -> Invitation:
        """Invite the client known by the pseudonym ``client_code``; the room expires after
        ``lifetime``, and its key names ``instance``, the app instance hosting it (none when
        empty). With ``actor``, the ``create_room`` audit entry is written with the room.
        Raises ``PermissionError`` for an account that may not see patient data and
        ``ValueError`` for a malformed code, lifetime or instance name."""
        if not owner.sees_patient_data:
            raise PermissionError(f"A {owner.role} cannot hold a session room")
        code = canonical_code(client_code, "The client code", MAX_CLIENT_CODE_LENGTH, True)
        if not MIN_LIFETIME <= lifetime <= MAX_LIFETIME:
            raise ValueError(
                f"A room lasts between {MIN_LIFETIME} and {MAX_LIFETIME}, got {lifetime}"
            )
        if instance:
            credentials.check_instance_name(instance)
        created = utc_now() if now is None else as_utc(now, "now")
        for _ in range(CREATE_ATTEMPTS):
            token = credentials.new_join_token(instance)
            short_code = credentials.new_short_code()
            values = dict(
                room_key=token.room_key, token_hash=credentials.digest(token.secret),
                code_hash=credentials.digest(short_code), owner_id=owner.id,
                client_code=code, created_at=created, expires_at=created + lifetime,
                state=WAITING,
            )
            try:
                with write_transaction(self.engine) as connection:
                    room_id = inserted_id(connection.execute(rooms.insert().values(**values)))
                    if actor is not None:
                        append_entry(connection, actor, "create_room", f"room {room_id}")
            except sqlalchemy.exc.IntegrityError:
                continue  # a random key or code already taken: draw again
            room = Room(
                room_id, token.room_key, owner.id, code, created, created + lifetime, WAITING
            )
            return Invitation(room, token, short_code)
        raise RuntimeError("Could not draw an unused room key and code")

    def owned_room(self, room_key: str, viewer: User) -> Room:
        """The room named ``room_key`` if ``viewer`` owns it; ``RoomNotFoundError`` otherwise."""
        if not credentials.is_token_text(str(room_key)):  # a typed URL, never one of our keys
            raise RoomNotFoundError("No such room")
        room = self._find(rooms.c.room_key == str(room_key))
        if room is None or room.owner_id != viewer.id:
            raise RoomNotFoundError("No such room")
        return room

    def list_rooms(self, owner: User) -> list[Room]:
        """``owner``'s rooms, newest first."""
        with read_connection(self.engine) as connection:
            rows = connection.execute(
                select(rooms).where(rooms.c.owner_id == owner.id)
                .order_by(rooms.c.created_at.desc(), rooms.c.id.desc())
            ).all()
        return [_room(row) for row in rows]

    # the client's side ------------------------------------------------------------------------

    def room_by_token(
        self, text: str, now: datetime | None = None, include_closed_with_consent: bool = False
    ) -> Room:
        """The open room whose join link carries ``text``; with ``include_closed_with_consent``
        also a closed one whose client's consent is still in force (:meth:`consent_in_force`),
        for the client to withdraw it there."""
        token = credentials.parse_join_token(text)
        room = None
        if token is not None:
            with read_connection(self.engine) as connection:
                row = connection.execute(
                    select(rooms).where(rooms.c.room_key == token.room_key)
                ).first()
            if row is not None and credentials.same_digest(row.token_hash, token.secret):
                room = _room(row)
        return self._open_or_raise(room, now, include_closed_with_consent)

    def room_by_code(
        self, text: str, now: datetime | None = None, include_closed_with_consent: bool = False
    ) -> Room:
        """The open room whose short code is ``text`` (spaces, dashes and case ignored);
        ``include_closed_with_consent`` as for :meth:`room_by_token`."""
        code = credentials.normalise_code(text)
        room = None if code is None else self._find(
            rooms.c.code_hash == credentials.digest(code)
        )
        return self._open_or_raise(room, now, include_closed_with_consent)

    def get_room(self, room_id: int) -> Room:
        """A room by id, whatever its state (the page that already holds it re-reads it)."""
        room = self._find(rooms.c.id == positive_id(room_id, "room_id"))
        if room is None:
            raise RoomNotFoundError("No such room")
        return room

    def consent_in_force(self, room: Room) -> bool:
        """Whether the client gave their consent in ``room`` and has not withdrawn it: they may
        withdraw it on the join page at any time (the statement they agreed to says so), also
        after the room closed."""
        if room.consent_id is None:
            return False
        with read_connection(self.engine) as connection:
            withdrawn_at = connection.execute(
                select(consents.c.withdrawn_at).where(consents.c.id == room.consent_id)
            ).first()
        return withdrawn_at is not None and withdrawn_at[0] is None

    def sessions_recorded(self, room: Room) -> int:
        """How many sessions recorded under the room's consent still exist: none after a
        withdrawal that deleted them, some when the clinic's policy kept them."""
        if room.consent_id is None:
            return 0
        with read_connection(self.engine) as connection:
            return int(connection.execute(
                select(func.count()).select_from(sessions)
                .where(sessions.c.consent_id == room.consent_id)
            ).scalar_one())

    def record_client_consent(
        self,
        room_id: int,
        given_by: str,
        statement: str,
        now: datetime | None = None,
        actor: str | None = None,
    ) -> tuple[Room, Consent]:
        """Store the client's own consent (under the room's client code) and mark the room
        consented, together. ``RoomClosedError`` when the room is no longer waiting for it.
        With ``actor``, the ``record_consent`` audit entry is written in the same transaction
        (as for the withdrawal and the room's end below)."""
        name = validate_text(given_by, "Your name", MAX_NAME_LENGTH, True)
        text = validate_text(statement, "The consent statement", MAX_NOTES_LENGTH, True)
        when = utc_now() if now is None else as_utc(now, "now")
        with write_transaction(self.engine) as connection:
            room = self._locked(connection, room_id)
            if room.status(when) != WAITING:
                raise RoomClosedError(
                    "already consented" if room.state == CONSENTED else room.status(when)
                )
            consent_id = inserted_id(
                connection.execute(
                    consents.insert().values(
                        given_by=name, given_at=when, statement=text,
                        client_code=room.client_code,
                    )
                )
            )
            connection.execute(
                update(rooms).where(rooms.c.id == room.id)
                .values(state=CONSENTED, consent_id=consent_id)
            )
            if actor is not None:
                append_entry(connection, actor, "record_consent", f"consent {consent_id}")
        consent = Consent(consent_id, name, when, text, client_code=room.client_code)
        return self.get_room(room.id), consent

    def withdraw_client_consent(
        self,
        room_id: int,
        delete_data: bool = True,
        now: datetime | None = None,
        actor: str | None = None,
    ) -> int:
        """The client withdraws: the consent is withdrawn (its sessions end and, with
        ``delete_data``, are deleted) and the room closes (:func:`retention.withdraw` closes
        every room of the consent, as for a withdrawal recorded in the session store); returns
        the sessions deleted. An ended room stays ended, its consent withdrawn and its
        sessions deleted all the same; an expired one is marked withdrawn."""
        when = None if now is None else as_utc(now, "now")  # None: now, once locked
        with write_transaction(self.engine) as connection:
            # Not locked: the withdrawal locks the consent, then updates the room, in the order
            # the session store's withdrawal takes; locking the room first could deadlock.
            room = self._read(connection, room_id)
            if room.consent_id is None:
                raise RoomClosedError("without consent")
            deleted, when = retention.withdraw(
                connection, room.consent_id, when, delete_data, actor
            )
        if deleted:
            erase_free_space(self.engine)
        return deleted

    def end_room(
        self, room_id: int, now: datetime | None = None, actor: str | None = None
    ) -> Room:
        """Close the room (either side may); its link and code stop working. Idempotent."""
        when = utc_now() if now is None else as_utc(now, "now")
        with write_transaction(self.engine) as connection:
            room = self._locked(connection, room_id)
            if room.state in OPEN_STATES:
                connection.execute(
                    update(rooms).where(rooms.c.id == room.id)
                    .values(state=ENDED, ended_at=when)
                )
            if actor is not None:
                append_entry(connection, actor, "end_room", f"room {room.id}")
        return self.get_room(room_id)

    # helpers ----------------------------------------------------------------------------------

    def _find(self, condition: Any) -> Room | None:
        with read_connection(self.engine) as connection:
            row = connection.execute(select(rooms).where(condition)).first()
        return None if row is None else _room(row)

    @staticmethod
    def _read(connection: sqlalchemy.Connection, room_id: int, for_update: bool = False) -> Room:
        query = select(rooms).where(rooms.c.id == positive_id(room_id, "room_id"))
        row = connection.execute(query.with_for_update() if for_update else query).first()
        if row is None:
            raise RoomNotFoundError("No such room")
        return _room(row)

    @staticmethod
    def _locked(connection: sqlalchemy.Connection, room_id: int) -> Room:
        return RoomStore._read(connection, room_id, for_update=True)

    def _open_or_raise(
        self, room: Room | None, now: datetime | None, include_closed_with_consent: bool
    ) -> Room:
        if room is None:
            raise RoomNotFoundError("No room has this link or code")
        status = room.status(now)
        if status not in OPEN_STATES and not (
            include_closed_with_consent and self.consent_in_force(room)
        ):
            if status == WITHDRAWN and self.sessions_recorded(room):
                raise RoomClosedError(WITHDRAWN_KEPT)
            raise RoomClosedError(status)
        return room
