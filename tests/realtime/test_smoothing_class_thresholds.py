"""The smoother's per-class "uncertain" thresholds: used when the model carries them, the single
threshold otherwise."""

from __future__ import annotations

import numpy as np
import pytest

from fer.emotions import UNCERTAIN
from fer.realtime.smoothing import ProbabilitySmoother, SmoothingConfig

CLASSES = ["happy", "sad", "contempt"]
THRESHOLDS = {"happy": 0.3, "contempt": 0.8}  # sad has none: the single threshold applies


def smoother(thresholds=THRESHOLDS, **overrides) -> ProbabilitySmoother:
    settings = {"method": "none", "uncertain_below": 0.5, "switch_margin": 0.0,
                "min_dwell_s": 0.0}
    settings.update(overrides)
    return ProbabilitySmoother(CLASSES, SmoothingConfig(**settings), thresholds)


def test_each_class_is_held_to_its_own_threshold():
    assert smoother().update([0.40, 0.35, 0.25], 0.0).label == "happy"  # 0.40 >= 0.3
    assert smoother().update([0.10, 0.20, 0.70], 0.0).label == UNCERTAIN  # 0.70 < 0.8
    assert smoother().update([0.05, 0.10, 0.85], 0.0).label == "contempt"
    # sad falls back to uncertain_below
    assert smoother().update([0.20, 0.45, 0.35], 0.0).label == UNCERTAIN
    assert smoother().update([0.20, 0.55, 0.25], 0.0).label == "sad"


def test_without_thresholds_the_single_one_applies():
    plain = smoother(thresholds=None)
    assert plain.update([0.40, 0.35, 0.25], 0.0).label == UNCERTAIN  # 0.40 < 0.5
    assert smoother(thresholds=None).update([0.10, 0.20, 0.70], 0.0).label == "contempt"


def test_the_config_can_turn_them_off_and_zero_disables_uncertainty():
    ignored = smoother(class_thresholds=False)
    assert ignored.update([0.10, 0.20, 0.70], 0.0).label == "contempt"
    assert ignored.update([0.40, 0.35, 0.25], 0.1).label == UNCERTAIN
    disabled = smoother(uncertain_below=0.0)
    assert disabled.update([0.10, 0.20, 0.70], 0.0).label == "contempt"


def test_leaving_uncertain_needs_the_class_threshold_plus_the_margin():
    hysteresis = smoother(switch_margin=0.1)
    assert hysteresis.update([0.10, 0.20, 0.70], 0.0).label == UNCERTAIN
    # 0.85 clears contempt's 0.8 but not 0.8 + 0.1 on the way out of "uncertain"
    assert hysteresis.update([0.05, 0.10, 0.85], 0.1).label == UNCERTAIN
    assert hysteresis.update([0.02, 0.03, 0.95], 0.2).label == "contempt"


def test_the_margin_never_holds_a_label_below_its_own_threshold():
    held = smoother(switch_margin=0.3)
    assert held.update([0.05, 0.10, 0.85], 0.0).label == "contempt"
    # happy leads, but not by the margin: contempt would be held at 0.45, far below its 0.8
    assert held.update([0.55, 0.00, 0.45], 0.1).label == UNCERTAIN
    # while a label still above its threshold is held against a close challenger
    steady = smoother(switch_margin=0.3)
    assert steady.update([0.60, 0.30, 0.10], 0.0).label == "happy"
    assert steady.update([0.35, 0.55, 0.10], 0.1).label == "happy"  # 0.35 >= 0.3
    assert steady.update([0.25, 0.65, 0.10], 0.2).label == "sad"  # the margin is beaten


def test_thresholds_for_unknown_classes_or_out_of_range_are_refused():
    with pytest.raises(ValueError, match="anger"):
        smoother(thresholds={"anger": 0.5})
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        smoother(thresholds={"sad": 1.5})


class CardModel:
    """A loaded model whose card carries thresholds for the pipeline's views only."""

    classes = CLASSES
    card = {
        "name": "carded", "classes": CLASSES,
        "uncertainty": {"thresholds": {"mirror+zoom": {"contempt": 0.9}}},
    }

    def predict(self, faces, batch_size=256, tta=False):
        return np.full((len(faces), 3), 1 / 3, np.float32)


@pytest.mark.parametrize(("tta", "expected"), [("mirror+zoom", 0.9), ("none", 0.4)])
def test_the_recognizer_gives_each_face_the_model_s_thresholds(tta, expected):
    from fer.realtime.pipeline import EmotionRecognizer

    recognizer = EmotionRecognizer(
        model=CardModel(), landmarker_path="/nonexistent/landmarker.task", tta=tta,
        smoothing=SmoothingConfig(uncertain_below=0.4),
    ).load()
    state = recognizer._tracker.make_state()  # what a new track gets
    assert state.probabilities.thresholds == [0.4, 0.4, expected]


def test_a_high_threshold_plus_the_margin_does_not_trap_the_label():
    strict = smoother(thresholds={"sad": 0.88}, switch_margin=0.2)
    assert strict.update([0.05, 0.85, 0.10], 0.0).label == UNCERTAIN
    # 0.88 + 0.2 is out of reach; halfway from 0.88 to 1 (0.94) lets sad through.
    assert strict.update([0.03, 0.93, 0.04], 0.1).label == UNCERTAIN
    assert strict.update([0.02, 0.95, 0.03], 0.2).label == "sad"


def test_a_threshold_of_one_never_shows_the_class_even_at_certainty():
    # A card gives 1.0 to a class whose readings never reached the precision target.
    never = smoother(thresholds={"sad": 1.0}, switch_margin=0.2, min_dwell_s=0.0)
    assert never.update([0.0, 1.0, 0.0], 0.0).label == UNCERTAIN
    assert never.update([0.0, 1.0000001, 0.0], 0.1).label == UNCERTAIN
    shown = smoother(thresholds={"sad": 1.0}, min_dwell_s=0.0)
    assert shown.update([0.9, 0.1, 0.0], 0.0).label == "happy"
    assert shown.update([0.0, 1.0, 0.0], 1.0).label == UNCERTAIN
