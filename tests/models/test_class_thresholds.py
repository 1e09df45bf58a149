"""Reading a model card's per-class "uncertain" thresholds for a view set."""

from __future__ import annotations

import pytest

from fer.models.inference import class_thresholds, class_thresholds_from_card

CARD = {
    "name": "tiny",
    "classes": ["happy", "sad"],
    "uncertainty": {
        "thresholds": {"mirror+zoom": {"happy": 0.3, "sad": 0.6}, "none": {"sad": 0.7}},
    },
}


def test_the_view_set_served_picks_its_thresholds():
    assert class_thresholds_from_card(CARD) == {"happy": 0.3, "sad": 0.6}
    assert class_thresholds_from_card(CARD, "none") == {"sad": 0.7}
    assert class_thresholds_from_card(CARD, False) == {"sad": 0.7}
    assert class_thresholds_from_card(CARD, "mirror") == {}  # not fitted: single threshold


def test_a_model_without_a_card_or_thresholds_has_none():
    assert class_thresholds(object()) == {}
    assert class_thresholds(type("Model", (), {"card": {"classes": ["a", "b"]}})()) == {}
    assert class_thresholds(type("Model", (), {"card": CARD})(), "none") == {"sad": 0.7}


@pytest.mark.parametrize(
    "recorded", [{"anger": 0.5}, {"sad": 1.2}, {"sad": "high"}],
)
def test_a_damaged_card_is_named(recorded):
    card = {**CARD, "uncertainty": {"thresholds": {"mirror+zoom": recorded}}}
    with pytest.raises(ValueError, match="tiny"):
        class_thresholds_from_card(card)
