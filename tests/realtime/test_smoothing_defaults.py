"""The smoothing defaults on real footage: steady where the face is steady, quick to follow it.

The fixture holds per-frame probabilities the pipeline recorded from the shared video (the whole
clip, also with the picture shrunk, and a 3-second pause-then-smile clip looped eight times),
written by ``python -m experiments.smoothing_on_footage --save-probabilities
tests/realtime/fixtures/smoothing_footage.npz``. The measures are the experiment's own.
"""

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from experiments.smoothing_on_footage import (
    DWELLS_S,
    MARGINS,
    WINDOWS_S,
    Footage,
    choose_setting,
    count_flicker,
    follow_delays,
    score,
)
from fer.emotions import UNCERTAIN
from fer.realtime.smoothing import SmoothingConfig

FIXTURE = Path(__file__).parent / "fixtures" / "smoothing_footage.npz"
# The limits the defaults were chosen under (docs/results.md, "Smoothing on real footage").
MAX_FLICKER_PER_MIN = 2.0
MAX_DELAY_MS = 300.0


@pytest.fixture(scope="module")
def footage():
    recorded = np.load(FIXTURE)
    classes = tuple(str(name) for name in recorded["classes"])

    def read(name: str) -> Footage:
        return Footage(
            name,
            recorded[f"{name}_t_s"].astype(np.float64),
            recorded[f"{name}_probs"].astype(np.float64),
            classes,
        )

    return (read("near"), read("far")), read("loop"), float(recorded["loop_s"]), float(
        recorded["pause_s"]
    )


def scores_of(footage, config):
    stable, loop, loop_s, pause_s = footage
    return score(stable, loop, config, loop_s, pause_s)


def test_defaults_are_steady_and_follow_the_looped_smile_quickly(footage):
    defaults = scores_of(footage, SmoothingConfig())
    assert defaults.stable_flicker_per_min <= MAX_FLICKER_PER_MIN
    assert defaults.loop_flicker_per_min <= MAX_FLICKER_PER_MIN
    # Back to a non-smiling label at each loop's pause is following the clip, not flicker.
    assert defaults.loop_followed_share == 1.0 and defaults.n_missed == 0
    assert defaults.onset_delay_ms <= MAX_DELAY_MS
    assert defaults.offset_delay_ms <= MAX_DELAY_MS


def test_window_trades_steadiness_for_delay(footage):
    config = SmoothingConfig(switch_margin=0.2, min_dwell_s=0.5)
    short, middle, long = (
        scores_of(footage, dataclasses.replace(config, window_s=window))
        for window in (0.3, 0.5, 1.0)
    )
    assert short.stable_flicker_per_min + short.loop_flicker_per_min > MAX_FLICKER_PER_MIN
    assert middle.stable_flicker_per_min + middle.loop_flicker_per_min <= MAX_FLICKER_PER_MIN
    assert long.mean_delay_ms > middle.mean_delay_ms + 150
    # A window close to the clip's smile never lets the label leave it.
    steady = scores_of(footage, dataclasses.replace(config, window_s=2.0))
    assert steady.loop_followed_share < 0.5


def test_the_rule_picks_the_defaults(footage):
    config = SmoothingConfig()
    grid = [
        scores_of(
            footage,
            dataclasses.replace(config, window_s=window, switch_margin=margin, min_dwell_s=dwell),
        )
        for window in WINDOWS_S
        for margin in MARGINS
        for dwell in DWELLS_S
    ]
    chosen = choose_setting(grid, config.min_dwell_s)
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
