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


def test_guesses_made_at_the_same_moment_cannot_all_pass_the_check():
    """Each guess counts from its start; checked one by one, 200 parallel guesses once all
    passed a limit of 50 (the check, the lookup and the count were three steps)."""
    import threading
    import time

    limiter = AttemptLimiter(per_guesser=5, overall=50, window_s=60)
    checked, barrier = [], threading.Barrier(200)

    def guess(index: int) -> None:
        barrier.wait()
        if limiter.begin(f"session {index}") == 0:
            time.sleep(0.01)  # the database lookup
            checked.append(index)  # a wrong code: it stays counted

    threads = [threading.Thread(target=guess, args=(index,)) for index in range(200)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(checked) == 50


def test_a_right_guess_is_forgiven():
    clock = Clock()
    limiter = AttemptLimiter(per_guesser=2, overall=10, window_s=60, clock=clock)
    for _ in range(5):
        assert limiter.begin("a") == 0
        limiter.forgive("a")  # right each time
    assert limiter.begin("a") == 0 and limiter.begin("a") == 0  # two wrong ones
    assert limiter.begin("a") > 0


def test_the_refusal_says_whose_codes_reached_the_limit_and_rounds_the_wait_up():
    clock = Clock()
    limiter = AttemptLimiter(per_guesser=2, overall=3, window_s=900, clock=clock)
    limiter.record_failure("a")
    limiter.record_failure("a")
    own = limiter.refusal_message("a", limiter.wait_s("a"))
    assert own == (
        "Too many wrong codes from this browser. Try again in 15 minutes, or open the link "
        "your clinician sent you."
    )
    limiter.record_failure("b")
    clock.now += 900 - 25  # 25 s left: one minute, not "0 minutes"
    everyone = limiter.refusal_message("c", limiter.wait_s("c"))
    assert everyone.startswith("Too many wrong codes have been tried on this server recently")
    assert "Try again in 1 minute, " in everyone and "links still work" in everyone
    assert "from this browser" not in everyone  # c made no mistake
