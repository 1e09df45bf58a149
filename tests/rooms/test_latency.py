"""Camera-to-label latency: capture times anchored on the least-delayed frame, percentiles over
the last seconds."""

import numpy as np
import pytest

from fer.rooms.latency import CaptureClock, FrameTiming, LatencyWindow, percentile


def test_capture_times_are_exact_up_to_the_smallest_delay():
    rng = np.random.default_rng(0)
    clock = CaptureClock()
    sender_offset = 12345.0  # the presentation clock starts anywhere
    base_delay = 0.03
    estimates = []
    for index in range(200):
        captured = 100.0 + index / 15
        delay = base_delay + rng.exponential(0.02)
        estimates.append(
            (captured, clock.capture_time(captured + sender_offset, captured + delay))
        )
    smallest_extra = None
    for captured, estimate in estimates[-50:]:
        error = estimate - captured  # late by the smallest delay seen, no more
        smallest_extra = error if smallest_extra is None else smallest_extra
        assert error == pytest.approx(smallest_extra, abs=1e-9)
        assert base_delay <= error < base_delay + 0.01


def test_a_presentation_time_running_backwards_starts_a_new_stream():
    clock = CaptureClock()
    assert clock.capture_time(50.0, 10.0) == pytest.approx(10.0)
    assert clock.capture_time(51.0, 11.0) == pytest.approx(11.0)
    # A new stream whose timestamps start lower, arriving later: anchored afresh.
    assert clock.capture_time(5.0, 20.0) == pytest.approx(20.0)
    assert clock.capture_time(6.0, 21.5) == pytest.approx(21.0)


def test_percentiles_match_numpy():
    values = [5.0, 1.0, 9.0, 3.0, 7.0, 2.0]
    for q in (0, 50, 95, 100):
        assert percentile(values, q) == pytest.approx(np.percentile(values, q))
    with pytest.raises(ValueError):
        percentile([], 50)


def test_the_window_sums_the_parts_and_forgets_old_samples():
    window = LatencyWindow(span_s=10)
    assert window.summary(0.0) is None
    for index in range(10):
        start = float(index)
        timing = FrameTiming(captured_s=start, arrived_s=start + 0.05, analysed_s=start + 0.08)
        total = window.add(timing, rendered_s=start + 0.1 + index * 0.01)
        assert total == pytest.approx(100 + index * 10)
    summary = window.summary(9.5)
    assert summary.n_samples == 10
    assert summary.p50_ms == pytest.approx(145)
    assert summary.p95_ms == pytest.approx(np.percentile([100 + 10 * i for i in range(10)], 95))
    assert summary.parts_p50_ms["to the server"] == pytest.approx(50)
    assert summary.parts_p50_ms["analysis"] == pytest.approx(30)
    later = window.summary(15.0)  # only samples rendered in the last 10 s remain
    assert later.n_samples == 5
