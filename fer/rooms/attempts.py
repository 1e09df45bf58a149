"""Rate limiting of short-code guesses, per guesser and for the whole app instance.

A short code has about 39 bits; what keeps it from being guessed is that wrong guesses are
counted. Each guesser (the join page passes its browser session) may make ``per_guesser`` wrong
guesses in ``window_s``; all guessers together ``overall`` (a guesser who opens new browser
sessions still meets that limit). A guess refused by the limit is not checked at all. With
several app instances each counts its own guesses.

A guess is counted as wrong when it starts (:meth:`AttemptLimiter.begin`) and forgiven when it
turns out right, so that guesses made at the same moment cannot all pass the check before any
of them has been counted.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

PER_GUESSER = 5
OVERALL = 50
WINDOW_S = 15 * 60.0


class AttemptLimiter:
    """Thread-safe counts of recent wrong guesses."""

    def __init__(
        self, per_guesser: int = PER_GUESSER, overall: int = OVERALL,
        window_s: float = WINDOW_S, clock: Callable[[], float] = time.monotonic,
    ):
        if per_guesser < 1 or overall < per_guesser or window_s <= 0:
            raise ValueError("need 1 <= per_guesser <= overall and window_s > 0")
        self.per_guesser = per_guesser
        self.overall = overall
        self.window_s = window_s
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: deque[tuple[float, str]] = deque()

    def _forget_old(self, now: float) -> None:
        while self._failures and self._failures[0][0] <= now - self.window_s:
            self._failures.popleft()

    def wait_s(self, guesser: str) -> float:
        """Seconds until ``guesser`` may guess again; 0 when a guess is allowed now."""
        with self._lock:
            now = self._clock()
            self._forget_old(now)
            return self._wait_s_locked(now, guesser)

    def _wait_s_locked(self, now: float, guesser: str) -> float:
        own = [at for at, who in self._failures if who == guesser]
        waits = []
        if len(own) >= self.per_guesser:
            waits.append(own[-self.per_guesser] + self.window_s - now)
        if len(self._failures) >= self.overall:
            waits.append(self._failures[-self.overall][0] + self.window_s - now)
        return max([0.0, *waits])

    def begin(self, guesser: str) -> float:
        """Start a guess: 0 when it may be checked, counted as wrong until :meth:`forgive`;
        otherwise the seconds to wait, nothing counted."""
        with self._lock:
            now = self._clock()
            self._forget_old(now)
            wait_s = self._wait_s_locked(now, guesser)
            if wait_s == 0:
                self._failures.append((now, guesser))
            return wait_s

    def forgive(self, guesser: str) -> None:
        """The guess ``guesser`` began turned out right: it no longer counts."""
        with self._lock:
            for index in range(len(self._failures) - 1, -1, -1):
                if self._failures[index][1] == guesser:
                    del self._failures[index]
                    return

    def refusal_message(self, guesser: str, wait_s: float) -> str:
        """What a guesser refused for ``wait_s`` seconds is told: whether their own wrong codes
        or everyone's reached the limit (a right code is refused too while everyone's is
        reached, so the person must not be told the mistakes were theirs), and that a link,
        which is not limited, still works."""
        with self._lock:
            now = self._clock()
            self._forget_old(now)
            own = sum(1 for _, who in self._failures if who == guesser) >= self.per_guesser
        minutes = max(1, math.ceil(wait_s / 60))
        wait = f"Try again in {minutes} minute{'s' if minutes > 1 else ''}"
        if own:
            return (f"Too many wrong codes from this browser. {wait}, or open the link your "
                    "clinician sent you.")
        return (
            "Too many wrong codes have been tried on this server recently, so codes are paused "
            f"for everyone. {wait}, or open the link your clinician sent you: links still work."
        )

    def record_failure(self, guesser: str) -> None:
        with self._lock:
            now = self._clock()
            self._forget_old(now)
            self._failures.append((now, guesser))
