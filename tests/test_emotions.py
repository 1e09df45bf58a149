import re

import pytest

from fer.emotions import (
    EMOTIONS,
    FER2013,
    FERPLUS,
    UNCERTAIN,
    ClassSet,
    canonical_label,
    class_set,
    emotion_style,
)


def test_class_sets_have_the_published_orders():
    assert FER2013.names == ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    assert FERPLUS.names[:3] == ("neutral", "happy", "surprise")
    assert len(FERPLUS) == 8 and FERPLUS.names[-1] == "contempt"
    assert class_set("ferplus") is FERPLUS


def test_every_emotion_has_a_colour_and_a_material_icon():
    for emotion in EMOTIONS.values():
        assert emotion.colour.startswith("#") and len(emotion.colour) == 7
        assert re.fullmatch(r":material/[a-z_]+:", emotion.icon), emotion.icon
    assert emotion_style(UNCERTAIN).name == UNCERTAIN


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("Happiness", "happy"), ("anger", "angry"), ("fearful", "fear"), (" Surprised ", "surprise")],
)
def test_canonical_label_maps_dataset_spellings(raw, expected):
    assert canonical_label(raw) == expected


def test_unknown_names_are_rejected():
    with pytest.raises(ValueError, match="does not name an emotion"):
        canonical_label("bored")
    with pytest.raises(ValueError, match="Unknown class set"):
        class_set("affectnet")
    with pytest.raises(ValueError, match="unknown emotions"):
        ClassSet("bad", ("happy", "bored"))
    with pytest.raises(ValueError, match="not in class set"):
        FER2013.index("contempt")
