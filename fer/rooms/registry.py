"""The rooms this app instance hosts (:class:`RoomRegistry`), and its sweeper thread.

The sweeper ends rooms past their expiry whose pages were simply closed (saving a recording), and
a withdrawal recorded anywhere else (another page, another app instance, the API) reaches the
room through it too: :meth:`RoomRegistry.close_withdrawn` asks the database whether each
analysing room's consent is still in force and closes those whose consent is not, dropping what
their recording had not yet written.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from fer.rooms.live import LiveRoom, close_analysis

# How often the registry's sweeper looks for rooms past their expiry or whose consent was
# withdrawn elsewhere: the longest a withdrawn client's frames may still be analysed.
SWEEP_EVERY_S = 5.0
LOGGER = logging.getLogger(__name__)


class RoomRegistry:
    """The rooms this process hosts, by room id; thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._rooms: dict[int, LiveRoom] = {}

    def room(self, room_id: int) -> LiveRoom:
        """The live state of ``room_id``, created on first use."""
        with self._lock:
            if room_id not in self._rooms:
                self._rooms[room_id] = LiveRoom(room_id, self._clock)
            return self._rooms[room_id]

    def get(self, room_id: int) -> LiveRoom | None:
        """The live state of ``room_id`` if this process hosts it."""
        with self._lock:
            return self._rooms.get(room_id)

    def close(self, room_id: int) -> tuple[Any, Any]:
        """Forget a room after stopping its analysis; returns (recognizer, recorder) to close."""
        with self._lock:
            room = self._rooms.pop(room_id, None)
        return (None, None) if room is None else room.forbid_analysis()

    def close_expired(self, now: float | None = None) -> list[int]:
        """End and forget every room past its deadline (its recording saved and ended);
        returns their ids."""
        now = self._clock() if now is None else now
        with self._lock:
            expired = [room for room in self._rooms.values() if room.expired(now)]
            for room in expired:
                del self._rooms[room.room_id]
        for room in expired:
            room.end_if_expired(now)
        return [room.room_id for room in expired]

    def close_withdrawn(self, consent_in_force: Callable[[int], bool]) -> list[int]:
        """Close every analysing room for which ``consent_in_force(room_id)`` is False (its
        consent withdrawn, or the room ended, elsewhere): analysis stops and the recording's
        unwritten results are dropped, since the withdrawal ended its session and may have
        deleted it. Returns their ids. Asked outside the lock: it reads the database."""
        with self._lock:
            analysing = [room for room in self._rooms.values() if room.analysing]
        closing = [room for room in analysing if not consent_in_force(room.room_id)]
        with self._lock:
            for room in closing:
                if self._rooms.get(room.room_id) is room:
                    del self._rooms[room.room_id]
        for room in closing:
            close_analysis(*room.forbid_analysis(), discard_recording=True)
        return [room.room_id for room in closing]

    def start_sweeping(
        self, every_s: float = SWEEP_EVERY_S,
        consent_in_force: Callable[[int], bool] | None = None,
    ) -> threading.Thread:
        """A daemon thread that runs :meth:`close_expired` every ``every_s`` seconds, so that a
        room whose pages were closed without ending it still ends at its expiry, and, given
        ``consent_in_force``, :meth:`close_withdrawn`."""

        registry = weakref.ref(self)  # the thread ends with the registry

        def sweep() -> None:
            while True:
                time.sleep(every_s)
                alive = registry()
                if alive is None:
                    return
                try:
                    alive.close_expired()
                    if consent_in_force is not None:
                        alive.close_withdrawn(consent_in_force)
                except Exception:  # keep sweeping; the next pass retries
                    LOGGER.exception("closing expired or withdrawn rooms failed")
                del alive

        thread = threading.Thread(target=sweep, name="fer-room-sweeper", daemon=True)
        thread.start()
        return thread

    def __len__(self) -> int:
        with self._lock:
            return len(self._rooms)
