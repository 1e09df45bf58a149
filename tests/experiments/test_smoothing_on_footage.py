"""`python -m experiments.smoothing_on_footage` replays what the pipeline showed.

Its replay used the smoother's single "uncertain" threshold; the shipped default model's card
gives the pipeline per-class thresholds, so the script, run as docs/signals.md and
docs/results.md name it, stopped with "replaying the probabilities does not reproduce the
pipeline's labels".
"""

import itertools

import numpy as np
import pytest

from experiments.smoothing_on_footage import (
    VIDEO_NAME,
    Footage,
    camera_frames,
    record_probabilities,
    smoothed_labels,
)
from fer.emotions import UNCERTAIN
from fer.realtime.smoothing import SmoothingConfig


def test_the_replay_uses_the_footages_per_class_thresholds():
    t_s = np.arange(10) / 15.0
    probs = np.tile([0.6, 0.4], (10, 1))
    config = SmoothingConfig(method="none", switch_margin=0.0, min_dwell_s=0.0)
    plain = Footage("still", t_s, probs, ("happy", "sad"))
    assert set(smoothed_labels(plain, config)) == {"happy"}
    strict = Footage("still", t_s, probs, ("happy", "sad"), {"happy": 0.7})
    assert set(smoothed_labels(strict, config)) == {UNCERTAIN}


@pytest.mark.data
def test_the_replay_reproduces_the_default_models_pipeline(data_dir):
    frames = itertools.islice(camera_frames(data_dir / VIDEO_NAME), 45)
    footage, shown = record_probabilities(frames, "near", SmoothingConfig())
    assert footage.class_thresholds  # the default model's card has them
    assert len(shown) > 30
    assert smoothed_labels(footage, SmoothingConfig()) == shown
