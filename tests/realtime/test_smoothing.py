import numpy as np
import pytest

from fer.emotions import UNCERTAIN
from fer.realtime.smoothing import ProbabilitySmoother, SmoothingConfig

CLASSES = ["happy", "sad"]


def smoother(**overrides) -> ProbabilitySmoother:
    settings = {"uncertain_below": 0.0, "switch_margin": 0.0, "min_dwell_s": 0.0}
    settings.update(overrides)
    return ProbabilitySmoother(CLASSES, SmoothingConfig(**settings))


def test_ema_follows_time_based_half_life():
    ema = smoother(method="ema", half_life_s=1.0)
    np.testing.assert_allclose(ema.update([1.0, 0.0], 0.0).smoothed, [1.0, 0.0])
    # One half-life later the new value has weight 1/2 ...
    np.testing.assert_allclose(ema.update([0.0, 1.0], 1.0).smoothed, [0.5, 0.5])
    # ... and two half-lives later 3/4, whatever the number of frames in between.
    np.testing.assert_allclose(ema.update([0.0, 1.0], 3.0).smoothed, [0.125, 0.875])


def test_ema_same_span_same_result_at_any_frame_rate():
    slow, fast = smoother(method="ema"), smoother(method="ema")
    slow.update([1.0, 0.0], 0.0)
    fast.update([1.0, 0.0], 0.0)
    slow_out = slow.update([0.0, 1.0], 0.5).smoothed
    for t_s in np.linspace(0.05, 0.5, 10):
        fast_out = fast.update([0.0, 1.0], t_s).smoothed
    np.testing.assert_allclose(slow_out, fast_out, atol=1e-6)


def test_window_mean_drops_old_frames():
    window = smoother(method="window", window_s=1.0)
    window.update([1.0, 0.0], 0.0)
    np.testing.assert_allclose(window.update([0.0, 1.0], 0.5).smoothed, [0.5, 0.5])
    np.testing.assert_allclose(window.update([0.5, 0.5], 0.9).smoothed, [0.5, 0.5])
    # At t=1.2 the frame from t=0.0 has left the one-second window: mean of 0.5 and 0.9.
    np.testing.assert_allclose(window.update([0.0, 1.0], 1.2).smoothed, [1 / 6, 5 / 6])


def test_none_passes_raw_probabilities():
    raw = smoother(method="none")
    raw.update([0.9, 0.1], 0.0)
    np.testing.assert_allclose(raw.update([0.2, 0.8], 0.1).smoothed, [0.2, 0.8])


def test_hysteresis_prevents_flicker():
    jittery = [[0.53, 0.47], [0.47, 0.53]] * 10
    times = np.arange(len(jittery)) * 0.1
    plain = smoother(method="none")
    steady = smoother(method="none", switch_margin=0.1, min_dwell_s=0.5)
    plain_labels = [plain.update(p, t).label for p, t in zip(jittery, times, strict=True)]
    steady_labels = [steady.update(p, t).label for p, t in zip(jittery, times, strict=True)]
    assert len(set(plain_labels)) == 2  # without hysteresis the label flips every frame
    assert steady_labels == ["happy"] * len(jittery)


def test_clear_change_switches_after_min_dwell():
    steady = smoother(method="none", switch_margin=0.1, min_dwell_s=0.5)
    assert steady.update([0.9, 0.1], 0.0).label == "happy"
    assert steady.update([0.1, 0.9], 0.2).label == "happy"  # too soon
    result = steady.update([0.1, 0.9], 0.6)
    assert result.label == "sad"
    assert result.confidence == pytest.approx(0.9)


def test_uncertain_below_threshold_and_leaving_it_needs_margin():
    config = {"method": "none", "uncertain_below": 0.6, "switch_margin": 0.1}
    three = ProbabilitySmoother(["happy", "sad", "neutral"], SmoothingConfig(**config,
                                                                             min_dwell_s=0.0))
    result = three.update([0.5, 0.3, 0.2], 0.0)
    assert result.label == UNCERTAIN
    assert result.confidence == pytest.approx(0.5)
    assert three.update([0.65, 0.25, 0.1], 0.1).label == UNCERTAIN  # above 0.6, below 0.6+0.1
    assert three.update([0.75, 0.15, 0.1], 0.2).label == "happy"
    assert three.update([0.4, 0.35, 0.25], 0.3).label == UNCERTAIN


def test_gap_or_time_going_back_restarts_history():
    window = smoother(method="window", window_s=10.0, reset_after_s=2.0)
    window.update([1.0, 0.0], 0.0)
    np.testing.assert_allclose(window.update([0.0, 1.0], 5.0).smoothed, [0.0, 1.0])
    np.testing.assert_allclose(window.update([1.0, 0.0], 1.0).smoothed, [1.0, 0.0])


def test_rejects_bad_input_and_config():
    with pytest.raises(ValueError, match="method"):
        SmoothingConfig(method="median")
    with pytest.raises(ValueError, match="window_s"):
        SmoothingConfig(window_s=0)
    with pytest.raises(ValueError, match="probabilities"):
        smoother().update([0.2, 0.3, 0.5], 0.0)


@pytest.mark.parametrize("t_s", [float("nan"), float("inf"), float("-inf")])
def test_a_time_that_is_not_a_number_is_refused_and_forgets_nothing(t_s):
    # A NaN time compares false with everything: taken, it would keep every later frame in
    # the window for good and stop any gap from restarting the history.
    from fer.realtime.smoothing import VectorSmoother

    window = smoother(method="window", window_s=0.5)
    window.update([1.0, 0.0], 0.0)
    with pytest.raises(ValueError, match="t_s"):
        window.update([1.0, 0.0], t_s)
    with pytest.raises(ValueError, match="t_s"):
        VectorSmoother().update(np.zeros(3), t_s)
    for second in range(1, 4):
        window.update([0.0, 1.0], float(second))
    np.testing.assert_allclose(window.update([0.0, 1.0], 4.0).smoothed, [0.0, 1.0])


@pytest.mark.parametrize(
    "name", ["window_s", "half_life_s", "uncertain_below", "switch_margin", "min_dwell_s",
             "reset_after_s"],
)
def test_a_setting_that_is_not_a_number_is_named(name):
    with pytest.raises(ValueError, match=name):
        SmoothingConfig(**{name: float("nan")})
