"""Wrong short codes are counted per guesser and overall, within a window."""

import pytest

from fer.rooms.attempts import AttemptLimiter


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_a_guesser_is_stopped_after_its_wrong_guesses_until_the_window_passes():
    clock = Clock()
    limiter = AttemptLimiter(per_guesser=3, overall=10, window_s=60, clock=clock)
    for _ in range(3):
        assert limiter.wait_s("a") == 0
        limiter.record_failure("a")
        clock.now += 1
    assert limiter.wait_s("a") == pytest.approx(57)
    assert limiter.wait_s("b") == 0  # another guesser is not held back by a's guesses
    clock.now += 57
    assert limiter.wait_s("a") == 0


def test_all_guessers_together_meet_the_overall_limit():
    clock = Clock()
    limiter = AttemptLimiter(per_guesser=2, overall=4, window_s=60, clock=clock)
    for guesser in ("a", "b", "c", "d"):
        limiter.record_failure(guesser)
    assert limiter.wait_s("fresh") == pytest.approx(60)


def test_nonsense_limits_are_refused():
    with pytest.raises(ValueError):
        AttemptLimiter(per_guesser=0)
    with pytest.raises(ValueError):
        AttemptLimiter(per_guesser=5, overall=2)
