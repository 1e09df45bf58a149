"""The smoothing defaults on real footage: steady where the face is steady, with every model.

The fixture holds per-frame probabilities the pipeline recorded from the shared video with each
shipped model (the whole clip, with the picture shrunk, shrunk as a noisy webcam sends it through
H.264, and a 3-second pause-then-smile clip looped eight times), written by
``python -m experiments.smoothing_on_footage --save-probabilities FIXTURE``. The measures, and
the worst case over the models, are the experiment's own.
"""

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from experiments.smoothing_on_footage import (
    DWELLS_S,
    MARGINS,
    WEBCAM_SEEDS,
    WINDOWS_S,
    choose_setting,
    choose_steadiest,
    count_flicker,
    follow_delays,
    load_recordings,
    score_models,
)
from fer.emotions import UNCERTAIN
from fer.realtime.smoothing import SmoothingConfig

FIXTURE = Path(__file__).parent / "fixtures" / "smoothing_footage.npz"
# The limits the defaults were chosen under (docs/results.md, "Smoothing on real footage").
MAX_FLICKER_PER_MIN = 2.0
# A label must follow a change within a second, whichever model reads the face.
MAX_DELAY_MS = 1000.0


@pytest.fixture(scope="module")
def recordings():
    return load_recordings(FIXTURE)


def with_defaults(**changes) -> SmoothingConfig:
    return dataclasses.replace(SmoothingConfig(), **changes)


def test_the_fixture_holds_every_shipped_model_with_its_thresholds(recordings):
    models_dir = Path(__file__).parents[2] / "models"
    shipped = sorted(card.parent.name for card in models_dir.glob("*/card.json"))
    assert sorted(recordings) == shipped
    for recording in recordings.values():
        assert [footage.name for footage in recording.stable] == [
            "near", "far", *(f"webcam{seed}" for seed in WEBCAM_SEEDS)
        ]
        assert recording.stable[0].class_thresholds


def test_defaults_follow_the_looped_smile_within_a_second(recordings):
    defaults = score_models(recordings, SmoothingConfig())
    assert defaults.loop_flicker_per_min <= MAX_FLICKER_PER_MIN
    # Back to a non-smiling label at each loop's pause is following the clip, not flicker.
    assert defaults.loop_followed_share == 1.0 and defaults.n_missed == 0
    assert defaults.onset_delay_ms <= MAX_DELAY_MS
    assert defaults.offset_delay_ms <= MAX_DELAY_MS


def test_no_setting_that_follows_the_smile_keeps_every_model_steady_on_a_noisy_webcam(recordings):
    """The finding behind the fallback: the models' reading of the crying face dips for about a
    second on the webcam picture, which no window short enough to follow the smile hides."""
    grid = [
        score_models(recordings, with_defaults(window_s=window, switch_margin=margin,
                                               min_dwell_s=dwell))
        for window in WINDOWS_S for margin in MARGINS for dwell in DWELLS_S
    ]
    with pytest.raises(ValueError, match="no setting meets"):
        choose_setting(grid, SmoothingConfig().min_dwell_s)


def test_window_trades_steadiness_for_delay(recordings):
    short, middle, default = (
        score_models(recordings, with_defaults(window_s=window)) for window in (0.3, 0.5, 1.0)
    )
    assert short.stable_flicker_per_min > middle.stable_flicker_per_min
    assert middle.stable_flicker_per_min > default.stable_flicker_per_min
    assert short.mean_delay_ms < default.mean_delay_ms
    # A window close to the clip's smile never lets the label leave it.
    steady = score_models(recordings, with_defaults(window_s=2.0))
    assert steady.loop_followed_share < 0.5


def test_the_rule_picks_the_defaults(recordings):
    config = SmoothingConfig()
    grid = [
        score_models(
            recordings,
            dataclasses.replace(config, window_s=window, switch_margin=margin, min_dwell_s=dwell),
        )
        for window in WINDOWS_S
        for margin in MARGINS
        for dwell in DWELLS_S
    ]
    try:
        chosen = choose_setting(grid, config.min_dwell_s)
    except ValueError:
        chosen = choose_steadiest(grid, config.min_dwell_s)
    assert (chosen.window_s, chosen.switch_margin, chosen.min_dwell_s) == (
        config.window_s,
        config.switch_margin,
        config.min_dwell_s,
    )


def test_flicker_counts_only_changes_that_do_not_follow_the_part():
    raw = ["happy"] * 6
    part = np.arange(6)
    # Catching up with the part's class, and admitting doubt from another label, follow it.
    assert count_flicker(["sad", UNCERTAIN, "happy", "happy", "happy", "happy"], raw, part) == 0
    # Leaving the part's class and coming back is flicker both ways after the first arrival.
    assert count_flicker(["happy", UNCERTAIN, "happy", "sad", "happy", "happy"], raw, part) == 4


def test_delays_run_from_the_raw_change_to_the_shown_label():
    t_s = np.arange(12) / 15
    raw = ["surprise"] * 6 + ["happy"] * 6
    shown = ["surprise"] * 8 + ["happy"] * 4
    onsets, offsets, n_missed = follow_delays(raw, shown, t_s, "happy")
    assert onsets == pytest.approx([2 / 15]) and offsets == [] and n_missed == 0
    _, _, n_missed = follow_delays(raw, ["surprise"] * 12, t_s, "happy")
    assert n_missed == 1


def test_the_worst_case_delay_is_unknown_when_any_model_never_followed():
    from experiments.smoothing_on_footage import Scores, worst_case

    def scores(onset_ms: float) -> Scores:
        return Scores(1.0, 0.2, 1.0, 0.0, 0.0, 1.0, onset_ms, 100.0, 0, 0.1)

    for order in ([float("nan"), 300.0], [300.0, float("nan")]):
        assert np.isnan(worst_case([scores(onset) for onset in order]).onset_delay_ms)
    assert worst_case([scores(200.0), scores(300.0)]).onset_delay_ms == 300.0
