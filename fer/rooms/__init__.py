"""Remote session rooms: a clinician invites a client, who joins from their own device.

``credentials`` (join tokens and short codes), ``attempts`` (rate limit on code guesses),
``store`` (rooms as database rows, the client's consent), ``statement`` (what the client reads),
``latency`` (camera-to-label latency), ``live`` (the live state of one room), ``registry`` (the
rooms this process hosts, and their sweeper).
"""

from fer.rooms.store import (
    Invitation,
    Room,
    RoomClosedError,
    RoomNotFoundError,
    RoomStore,
)

__all__ = ["Invitation", "Room", "RoomClosedError", "RoomNotFoundError", "RoomStore"]
