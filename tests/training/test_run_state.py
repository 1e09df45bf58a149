"""A run directory's files across epochs, crashes and ``--resume``."""

import json

import numpy as np
import pandas as pd
import pytest

from fer.training.config import TrainConfig
from fer.training.loop import train
from fer.training.run_state import RunState
from tests.research_fixtures import folder_bytes
from tests.training.test_loop import _tiny_fer2013


def _config(epochs: int, **changes) -> TrainConfig:
    return TrainConfig(architecture="ziggy", epochs=epochs, batch_size=16, **changes)


def test_history_csv_has_a_header_for_a_column_that_appears_mid_run(tmp_path):
    state = train(_config(2, average_from=2), _tiny_fer2013(), None, tmp_path)
    history = pd.read_csv(tmp_path / "history.csv")
    assert list(history["epoch"]) == [1, 2]
    assert history["averaged_epochs"].isna().tolist() == [True, False]
    assert len(history) == len(state.history)


def test_history_csv_lacks_no_epoch_after_a_crash_before_it_was_written(tmp_path, monkeypatch):
    fer2013 = _tiny_fer2013()
    train(_config(1), fer2013, None, tmp_path)
    save = RunState.save

    def save_then_crash(self, config):
        save(self, config)
        raise KeyboardInterrupt("killed after the state, before the history")

    monkeypatch.setattr(RunState, "save", save_then_crash)
    with pytest.raises(KeyboardInterrupt):
        train(_config(2), fer2013, None, tmp_path, resume=True)
    monkeypatch.setattr(RunState, "save", save)
    train(_config(3), fer2013, None, tmp_path, resume=True)
    saved = json.loads((tmp_path / "state.json").read_text())["history"]
    assert [row["epoch"] for row in saved] == [1, 2, 3]
    assert list(pd.read_csv(tmp_path / "history.csv")["epoch"]) == [1, 2, 3]


def test_resuming_a_run_that_stopped_early_trains_no_further_epoch(tmp_path):
    fer2013 = _tiny_fer2013()
    stopped = train(_config(20, patience=1), fer2013, None, tmp_path)
    assert stopped.epochs_done < 20  # a stall on 32 PublicTest faces comes within a few epochs
    before = folder_bytes(tmp_path)
    resumed = train(_config(20, patience=1), fer2013, None, tmp_path, resume=True)
    assert resumed.epochs_done == stopped.epochs_done
    assert folder_bytes(tmp_path) == before
    # More patience is a reason to go on.
    more = train(_config(stopped.epochs_done + 1, patience=5), fer2013, None, tmp_path,
                 resume=True)
    assert more.epochs_done == stopped.epochs_done + 1


def _optimizer_steps(run_dir) -> int:
    import keras

    from fer.training.network import soft_cross_entropy

    model = keras.models.load_model(
        run_dir / "checkpoint.keras", custom_objects={"soft_cross_entropy": soft_cross_entropy}
    )
    return int(model.optimizer.iterations.numpy())


@pytest.mark.parametrize("state_written", [False, True])
def test_a_crash_while_an_epoch_is_saved_leaves_checkpoint_and_state_agreeing(
    state_written, tmp_path, monkeypatch
):
    fer2013 = _tiny_fer2013()  # 64 Training faces: 4 steps of 16 per epoch
    train(_config(1, average_from=1), fer2013, None, tmp_path)
    committed = ("checkpoint.keras", "best_fer2013.keras", "average.npz", "state.json")
    before = {name: (tmp_path / name).read_bytes() for name in committed}
    save = RunState.save

    def crash(self, config):
        if state_written:
            save(self, config)
        raise KeyboardInterrupt("killed while the epoch was being saved")

    monkeypatch.setattr(RunState, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        train(_config(2, average_from=1), fer2013, None, tmp_path, resume=True)
    monkeypatch.setattr(RunState, "save", save)
    if not state_written:  # epoch 2 does not count: none of its files may
        assert {name: (tmp_path / name).read_bytes() for name in committed} == before
    state = train(_config(2, average_from=1), fer2013, None, tmp_path, resume=True)
    assert state.epochs_done == 2
    assert _optimizer_steps(tmp_path) == 2 * 4
    assert [row["epoch"] for row in state.history] == [1, 2]
    assert [row["averaged_epochs"] for row in state.history] == [1, 2]
    assert not list(tmp_path.glob(".epoch-*"))


def test_resume_refuses_fewer_epochs_than_the_run_has_done(tmp_path):
    fer2013 = _tiny_fer2013()
    train(_config(2), fer2013, None, tmp_path)
    before = folder_bytes(tmp_path)
    # Its card would state a budget of one epoch for weights trained for two.
    with pytest.raises(ValueError, match="2 epochs already"):
        train(_config(1), fer2013, None, tmp_path, resume=True)
    assert folder_bytes(tmp_path) == before
    assert train(_config(2), fer2013, None, tmp_path, resume=True).epochs_done == 2


def test_the_commands_that_resumed_a_run_are_in_its_lineage(tmp_path):
    from fer.evaluation.evaluation_file import empty_evaluation
    from fer.evaluation.model_card import render_model_card

    fer2013 = _tiny_fer2013()
    first, then = "fer train --epochs 1", "fer train --epochs 2 --resume"
    train(_config(1), fer2013, None, tmp_path, command=first)
    train(_config(2), fer2013, None, tmp_path, resume=True, command=then)
    state = RunState(tmp_path)
    assert state.load()
    # The first command alone trains one epoch; the stage says two were trained.
    assert state.stages()[-1] == {
        "run_dir": str(tmp_path), "command": first, "resumed_with": [then], "epochs": 2,
        "wall_time_s": round(state.wall_time_s, 1),
    }
    card = {"name": "tiny", "training": {"stages": state.stages()}}
    text = render_model_card(card, empty_evaluation("tiny"), tmp_path)
    assert f"| 1 | `{first}` then `{then}` | 2 |" in text


def test_the_average_offered_for_publishing_is_the_one_its_label_names(tmp_path, monkeypatch):
    import fer.training.selection
    from fer.training.averaging import WeightAverage
    from fer.training.selection import choose_published_head

    fer2013 = _tiny_fer2013()
    train(_config(3, average_from=2), fer2013, None, tmp_path)
    written = RunState.save

    def crash_after_the_last_epoch(self, config):
        written(self, config)
        if self.epochs_done == 4:
            raise KeyboardInterrupt("killed before training ended")

    monkeypatch.setattr(RunState, "save", crash_after_the_last_epoch)
    with pytest.raises(KeyboardInterrupt):
        train(_config(4, average_from=2), fer2013, None, tmp_path, resume=True)
    monkeypatch.setattr(RunState, "save", written)
    state = train(_config(4, average_from=2), fer2013, None, tmp_path, resume=True)
    scores = iter([0.5, 0.75])  # the selected epoch's, then the average's: the average wins
    monkeypatch.setattr(fer.training.selection, "publictest_accuracy", lambda *_: next(scores))
    model, selection = choose_published_head(tmp_path, "fer2013", fer2013, state)
    assert selection["chosen"] == "average of epochs 2-4"
    average = WeightAverage(tmp_path / "average.npz")
    assert average.load() and (average.first_epoch, average.last_epoch) == (2, 4)
    np.testing.assert_allclose(
        model.get_layer("fer2013").get_weights()[0], average.mean["fer2013"][0], rtol=1e-6
    )
