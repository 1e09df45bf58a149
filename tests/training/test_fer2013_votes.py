"""FER+ votes blended into the FER2013 head's targets (``--fer2013-votes``)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from fer.cli import main
from fer.emotions import FER2013, FERPLUS
from fer.training.config import TrainConfig
from fer.training.run_state import RunState
from fer.training.targets import build_training_data, votes_on_fer2013_classes
from tests.training.test_loop import _tiny_fer2013, _tiny_ferplus


def test_votes_move_to_the_same_emotion_and_contempt_is_dropped():
    votes = np.zeros((3, len(FERPLUS)), np.float32)
    votes[0, FERPLUS.index("sad")] = 0.6
    votes[0, FERPLUS.index("neutral")] = 0.2
    votes[0, FERPLUS.index("contempt")] = 0.2
    votes[1, FERPLUS.index("contempt")] = 1.0  # nothing left once contempt goes
    votes[2, FERPLUS.index("angry")] = 1.0
    moved = votes_on_fer2013_classes(votes)
    assert moved.shape == (3, len(FER2013))
    np.testing.assert_allclose(moved[0, FER2013.index("sad")], 0.75, atol=1e-6)
    np.testing.assert_allclose(moved[0, FER2013.index("neutral")], 0.25, atol=1e-6)
    np.testing.assert_array_equal(moved[1], 0.0)
    assert moved[2, FER2013.index("angry")] == 1.0
    with pytest.raises(ValueError, match=r"shape \(n, 8\)"):
        votes_on_fer2013_classes(votes[:, :7])


def test_fer2013_targets_blend_votes_only_where_the_row_has_votes():
    fer2013 = _tiny_fer2013()
    ferplus = _tiny_ferplus(fer2013)
    plain = build_training_data(
        TrainConfig(label_sets=("fer2013", "ferplus")), fer2013, ferplus
    ).targets["fer2013"]
    config = TrainConfig(label_sets=("fer2013", "ferplus"), fer2013_vote_weight=0.4)
    data = build_training_data(config, fer2013, ferplus)
    blended = data.targets["fer2013"]
    np.testing.assert_allclose(blended.sum(axis=1), 1.0, rtol=1e-6)
    # Rows FER+ dropped (every other one here) keep FER2013's own target.
    np.testing.assert_array_equal(blended[1::2], plain[1::2])
    # A row with votes: 0.6 of its smoothed label plus 0.4 of its votes moved onto FER2013.
    soft = np.zeros((len(fer2013), len(FERPLUS)), np.float32)
    soft[ferplus.row_ids] = ferplus.soft_labels
    expected = 0.6 * plain[0] + 0.4 * votes_on_fer2013_classes(soft[:1])[0]
    np.testing.assert_allclose(blended[0], expected, atol=1e-6)
    assert not np.allclose(blended[0::2], plain[0::2])
    # The FER+ head's targets do not change.
    np.testing.assert_array_equal(
        data.targets["ferplus"],
        build_training_data(TrainConfig(label_sets=("fer2013", "ferplus")), fer2013, ferplus)
        .targets["ferplus"],
    )


def test_fer2013_votes_need_a_fer2013_head_and_the_ferplus_votes():
    with pytest.raises(ValueError, match=r"fer2013_vote_weight must lie in \[0, 1\]"):
        TrainConfig(fer2013_vote_weight=1.5)
    with pytest.raises(ValueError, match=r"fer2013_vote_weight must lie"):
        TrainConfig(fer2013_vote_weight=float("nan"))
    with pytest.raises(ValueError, match="needs a FER2013 head"):
        TrainConfig(label_sets=("ferplus",), fer2013_vote_weight=0.3)
    fer2013 = _tiny_fer2013()
    with pytest.raises(ValueError, match="needs the FER\\+ dataset's votes"):
        build_training_data(TrainConfig(fer2013_vote_weight=0.3), fer2013, None)
    # A FER2013-only head with votes: the votes shape its targets.
    only = build_training_data(
        TrainConfig(fer2013_vote_weight=0.3), fer2013, _tiny_ferplus(fer2013)
    )
    assert set(only.targets) == {"fer2013"}
    assert only.targets["fer2013"][0].max() < 0.9 + 0.1 / 7


def test_cli_refuses_a_vote_weight_outside_zero_to_one(capsys):
    assert main(["train", "--fer2013-votes", "2", "--epochs", "1"]) == 2
    assert "fer2013_vote_weight must lie in [0, 1]" in capsys.readouterr().err


def test_a_run_saved_before_the_setting_existed_resumes_at_its_default(tmp_path):
    config = TrainConfig(label_sets=("fer2013", "ferplus"))
    saved = dataclasses.asdict(config)
    del saved["fer2013_vote_weight"]
    state = RunState(tmp_path)
    state.config = json.loads(json.dumps(saved))
    state.check_config(config)  # the default, as the old run had
    with pytest.raises(ValueError, match="differs in: fer2013_vote_weight"):
        state.check_config(dataclasses.replace(config, fer2013_vote_weight=0.3))
