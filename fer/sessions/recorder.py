"""Batched writing of live frame results into the session store.

The webrtc frame callback must never wait for SQLite: it validates and buffers rows here, and the
page thread writes them in batches at least once per second (see :class:`SessionRecorder`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from fer.sessions.records import FrameRecord, encode_frame

if TYPE_CHECKING:
    from fer.sessions.store import SessionStore


class SessionRecorder:
    """Buffers frame results in memory and writes them to the store in batches.

    ``add`` validates and buffers without touching SQLite, so a webrtc frame callback may call it;
    the page thread calls ``maybe_flush`` on every pass of its loop, which writes when
    ``flush_interval_s`` (at most 1 s) has passed since the last write or ``max_batch`` rows are
    waiting. ``close`` writes the rest and ends the session. All methods are thread-safe.

    When nobody flushes (the page went away) the buffer stops growing at ``max_pending`` rows and
    counts the rows it drops in ``n_dropped``. A frame's faces are kept or dropped together: a
    stored frame that lacks one of its faces would read as that face having left the view.
    """

    def __init__(
        self,
        store: SessionStore,
        session_id: int,
        flush_interval_s: float = 0.5,
        max_batch: int = 500,
        max_pending: int = 20_000,
        clock: Callable[[], float] = time.monotonic,
    ):
        if not 0 < flush_interval_s <= 1:
            raise ValueError(f"flush_interval_s must be in (0, 1], got {flush_interval_s}")
        if max_batch < 1 or max_pending < max_batch:
            raise ValueError("need 1 <= max_batch <= max_pending")
        info = store.get_session(session_id)
        if info.ended_at is not None:
            raise ValueError(f"Session {session_id} has ended; start a new one to record")
        self.store = store
        self.session_id = session_id
        self.classes = info.classes
        self.flush_interval_s = flush_interval_s
        self.max_batch = max_batch
        self.max_pending = max_pending
        self._clock = clock
        self._lock = threading.Lock()  # guards the buffer and counters
        self._flush_lock = threading.Lock()  # keeps batches in order
        self._close_lock = threading.Lock()
        self._pending: list[tuple] = []
        self._last_flush = clock()
        self.n_written = 0
        self.n_dropped = 0
        self.closed = False  # no more rows are taken
        self._ended = False  # the last rows are written and the session ended

    @property
    def n_pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def add(self, t_seconds: float, results: Iterable[Any]) -> int:
        """Buffer a frame's face results (pipeline ``FaceResult``s) at ``t_seconds``; return
        how many were buffered (none when the buffer has no room for all of them)."""
        return self.add_records(FrameRecord.from_result(t_seconds, result) for result in results)

    def add_records(self, records: Iterable[FrameRecord]) -> int:
        """Buffer one frame's records, all of them or (no room for all) none, counted in
        ``n_dropped``; return how many were buffered."""
        rows = [encode_frame(record, self.classes) for record in records]
        with self._lock:
            if self.closed:
                raise ValueError(f"The recorder for session {self.session_id} is closed")
            if len(self._pending) + len(rows) > self.max_pending:
                self.n_dropped += len(rows)
                return 0
            self._pending.extend(rows)
        return len(rows)

    def due(self) -> bool:
        with self._lock:
            waiting = len(self._pending)
            elapsed = self._clock() - self._last_flush
        return waiting >= self.max_batch or (waiting > 0 and elapsed >= self.flush_interval_s)

    def maybe_flush(self) -> int:
        """Write the buffer if it is due; return the number of rows written."""
        return self.flush() if self.due() else 0

    def flush(self) -> int:
        """Write everything buffered now in one transaction; on failure keep it for a retry."""
        with self._flush_lock:
            with self._lock:
                batch, self._pending = self._pending, []
            try:
                self.store.insert_encoded(self.session_id, batch)
            except BaseException:
                with self._lock:
                    self._pending[:0] = batch
                raise
            with self._lock:
                self.n_written += len(batch)
                self._last_flush = self._clock()
            return len(batch)

    def close(self) -> int:
        """Flush, end the session and refuse further rows; return the rows written overall.

        If the final write or the end fails, the error is raised and the rows stay buffered:
        calling ``close`` again retries both."""
        with self._close_lock:  # one closing at a time
            with self._lock:
                if self._ended:
                    return self.n_written
                self.closed = True  # first, so no row can slip in after the final flush
            self.flush()
            self.store.end_session(self.session_id)
            with self._lock:
                self._ended = True
            return self.n_written

    def discard(self) -> int:
        """Drop the buffered rows unwritten and refuse further rows, leaving the session as it
        is: for a withdrawal, which ends the session and deletes it (writing rows that are about
        to be deleted could only fail it). Returns the rows dropped; ``close`` then does
        nothing."""
        with self._close_lock:
            with self._lock:
                n_discarded = len(self._pending)
                self._pending = []
                self.closed = self._ended = True
            return n_discarded
