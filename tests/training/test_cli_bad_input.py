"""`fer train`, `fer soup`, `fer compare` and `fer publish --logit-adjust` given bad input: a
clear `error:` (exit 2) before any work, and no stored model, run or summary changed."""

import json

import pytest

from fer.cli import main as fer_main
from fer.training.config import TrainConfig
from fer.training.loop import train
from fer.training.model_folders import check_model_destinations, new_model_dir
from tests.research_fixtures import folder_bytes
from tests.training.test_loop import _tiny_fer2013, _tiny_ferplus

TINY = ["--model", "ziggy", "--epochs", "1", "--batch-size", "16", "--no-tflite"]


@pytest.fixture
def tiny_data(tmp_path, monkeypatch):
    """``fer train`` reads these tiny datasets instead of FER2013 and FER+."""
    import fer.data.datasets
    import fer.training.publish
    from fer.training.calibration import MIN_CALIBRATION_FACES

    fer2013 = _tiny_fer2013(n_val=MIN_CALIBRATION_FACES)
    ferplus = _tiny_ferplus(fer2013)
    for module in (fer.data.datasets, fer.training.publish):
        monkeypatch.setattr(
            module, "load_dataset", lambda key, data_dir: ferplus if key == "ferplus" else fer2013
        )
    monkeypatch.setenv("FER_DATA_DIR", str(tmp_path))
    return fer2013, ferplus


@pytest.mark.parametrize(
    "option",
    [
        ["--learning-rate", "nan"], ["--learning-rate", "inf"], ["--weight-decay", "nan"],
        ["--mixup", "nan"], ["--patience", "0"], ["--train-limit", "-5"], ["--threads", "-1"],
        ["--seed", "-1"], ["--seed", str(2**32)], ["--epochs", "0"], ["--batch-size", "-3"],
    ],
)
def test_train_refuses_numbers_that_cannot_drive_a_run(option, tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        fer_main(["train", *TINY, *option, "--run-dir", str(tmp_path / "run")])
    assert stopped.value.code == 2
    assert option[0] in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "values, message",
    [
        ({"learning_rate": -1.0}, "learning_rate"),
        ({"weight_decay": float("nan")}, "weight_decay"),
        ({"patience": 0}, "patience"),
        ({"train_limit": -1}, "train_limit"),
        ({"seed": -1}, "seed"),
        ({"mixup_alpha": float("inf")}, "mixup_alpha"),
    ],
)
def test_config_refuses_values_the_command_line_would(values, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**values)


def test_train_without_data_names_the_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FER_DATA_DIR", str(tmp_path / "nowhere"))
    code = fer_main(["train", *TINY, "--run-dir", str(tmp_path / "run"),
                     "--output-dir", str(tmp_path / "out")])
    assert code == 2
    assert "nowhere" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "names, message",
    [("dup,dup", "repeated: dup"), ("nm,", "must not be empty"), ("../x,y", "cannot name"),
     (".hidden,y", "cannot name")],
)
def test_train_refuses_names_that_cannot_be_published(names, message, tiny_data, tmp_path,
                                                      capsys):
    code = fer_main(["train", *TINY, "--labels", "fer2013+ferplus", "--names", names,
                     "--run-dir", str(tmp_path / "run"), "--output-dir", str(tmp_path / "out")])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists() and not (tmp_path / "out").exists()


def test_train_refuses_an_output_folder_that_is_a_file(tiny_data, tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    code = fer_main(["train", *TINY, "--run-dir", str(tmp_path / "run"),
                     "--output-dir", str(tmp_path / "afile")])
    assert code == 2
    assert "is a file" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_an_existing_model_is_kept_unless_replace_is_asked_for(tiny_data, tmp_path, capsys):
    out = tmp_path / "out"
    first = ["train", *TINY, "--names", "tiny", "--output-dir", str(out)]
    assert fer_main([*first, "--run-dir", str(tmp_path / "a")]) == 0
    before = folder_bytes(out / "tiny")
    assert fer_main([*first, "--seed", "5", "--run-dir", str(tmp_path / "b")]) == 2
    assert "holds a model already" in capsys.readouterr().err
    assert folder_bytes(out / "tiny") == before
    assert not (tmp_path / "b").exists()  # refused before training
    assert fer_main([*first, "--seed", "5", "--run-dir", str(tmp_path / "b"), "--replace"]) == 0
    card = json.loads((out / "tiny" / "card.json").read_text())
    assert card["training"]["seed"] == 5
    assert [p.name for p in out.iterdir()] == ["tiny"]  # no staging folder left behind


def test_resume_refuses_a_run_dir_that_holds_no_run(tiny_data, tmp_path, capsys):
    # A mistyped --run-dir used to start a whole new run in it, silently.
    out = tmp_path / "out"
    resume = ["train", *TINY, "--names", "tiny", "--output-dir", str(out), "--resume"]
    assert fer_main([*resume, "--run-dir", str(tmp_path / "typo")]) == 2
    error = capsys.readouterr().err
    assert "no run to continue" in error and str(tmp_path / "typo") in error
    assert not (tmp_path / "typo").exists() and not out.exists()
    # A run that is there is continued (here: finished already, so only published again).
    assert fer_main(["train", *TINY, "--names", "tiny", "--output-dir", str(out),
                     "--run-dir", str(tmp_path / "run")]) == 0
    assert fer_main([*resume, "--replace", "--run-dir", str(tmp_path / "run")]) == 0


def test_a_failed_publication_leaves_no_folder_and_the_old_model_whole(tmp_path):
    target = tmp_path / "models" / "m"
    with pytest.raises(RuntimeError), new_model_dir(target) as work:
        (work / "model.keras").write_text("half")
        raise RuntimeError("export failed")
    assert not target.exists() and list((tmp_path / "models").iterdir()) == []
    with new_model_dir(target) as work:
        (work / "card.json").write_text("old")
    with pytest.raises(RuntimeError), new_model_dir(target, replace=True) as work:
        (work / "card.json").write_text("new")
        raise RuntimeError("evaluation failed")
    assert (target / "card.json").read_text() == "old"
    with pytest.raises(ValueError, match="holds a model already"):
        check_model_destinations(tmp_path / "models", ["m"])


def test_resume_refuses_a_run_of_another_configuration(tmp_path):
    fer2013 = _tiny_fer2013()
    config = TrainConfig(architecture="ziggy", epochs=1, batch_size=16)
    train(config, fer2013, None, tmp_path)
    before = folder_bytes(tmp_path)
    other = TrainConfig(architecture="ziggy", epochs=2, batch_size=16, learning_rate=0.01)
    with pytest.raises(ValueError, match="differs in: learning_rate\\)"):
        train(other, fer2013, None, tmp_path, resume=True)
    with pytest.raises(ValueError, match="differs in: architecture"):
        train(TrainConfig(architecture="mycnn", epochs=1, batch_size=16), fer2013, None,
              tmp_path, resume=True)
    assert folder_bytes(tmp_path) == before


@pytest.mark.parametrize("text, message", [("{", "cannot be read"), ("{}", "not a run's state"),
                                           ('{"epochs_done": "x"}', "not a run's state")])
def test_a_damaged_run_state_is_named(text, message, tmp_path):
    (tmp_path / "state.json").write_text(text)
    (tmp_path / "checkpoint.keras").write_bytes(b"x")
    config = TrainConfig(architecture="ziggy", epochs=1, batch_size=16)
    with pytest.raises(ValueError, match=message) as raised:
        train(config, _tiny_fer2013(), None, tmp_path, resume=True)
    assert "state.json" in str(raised.value)
    assert (tmp_path / "state.json").read_text() == text


def test_a_damaged_checkpoint_is_named(tmp_path):
    fer2013 = _tiny_fer2013()
    config = TrainConfig(architecture="ziggy", epochs=1, batch_size=16)
    train(config, fer2013, None, tmp_path / "done")
    checkpoint = tmp_path / "done" / "checkpoint.keras"
    checkpoint.write_bytes(checkpoint.read_bytes()[:1000])
    with pytest.raises(ValueError, match="checkpoint.keras cannot be loaded"):
        train(config, fer2013, None, tmp_path / "next", init_from=tmp_path / "done")
    longer = TrainConfig(architecture="ziggy", epochs=1, batch_size=16)
    with pytest.raises(ValueError, match="checkpoint.keras cannot be loaded"):
        train(longer, fer2013, None, tmp_path / "done", resume=True)


def test_a_teacher_of_another_head_leaves_no_run_behind(tmp_path, monkeypatch):
    import fer.models.cards

    monkeypatch.setattr(fer.models.cards, "resolve_model_dir", lambda name: tmp_path)
    monkeypatch.setattr(fer.models.cards, "read_card", lambda path: {"label_set": "ferplus"})
    config = TrainConfig(architecture="ziggy", epochs=1, batch_size=16, distill_from="teacher")
    with pytest.raises(ValueError, match="'ferplus' model"):
        train(config, _tiny_fer2013(), None, tmp_path / "run")
    assert not (tmp_path / "run" / "state.json").exists()


def test_compare_refuses_an_empty_list_and_keeps_the_summary(tmp_path, capsys, monkeypatch):
    summary = tmp_path / "out" / "summary.csv"
    summary.parent.mkdir()
    summary.write_text("kept")
    monkeypatch.setenv("FER_DATA_DIR", str(tmp_path))
    for option in (["--architectures", ","], ["--strategies", ""]):
        code = fer_main(["compare", "--epochs", "1", *option, "--output-dir",
                         str(summary.parent), "--run-dir", str(tmp_path / "runs")])
        assert code == 2
    assert "at least one" in capsys.readouterr().err
    assert summary.read_text() == "kept"


def test_compare_names_a_damaged_report(tmp_path, capsys, monkeypatch):
    from fer.training import compare

    (tmp_path / "out").mkdir()
    (tmp_path / "out" / f"{compare.run_name('ziggy', 'none')}.json").write_text("{")
    with pytest.raises(ValueError, match="cannot be read.*--restart"):
        compare.run_one("ziggy", "none", 1, _tiny_fer2013(), tmp_path / "runs", tmp_path / "out",
                        shipped_epochs=1)


def test_logit_adjust_never_overwrites_a_model(tmp_path, monkeypatch, capsys):
    from fer.config import MODELS_DIR

    monkeypatch.setenv("FER_DATA_DIR", str(tmp_path))
    existing = MODELS_DIR / "ferplus_balanced"
    before = folder_bytes(existing)
    assert fer_main(["publish", "ferplus", "--logit-adjust", "ferplus_balanced"]) == 2
    error = capsys.readouterr().err
    assert "holds a model already" in error
    assert "--replace" not in error  # `fer publish` has no such option
    assert fer_main(["publish", "ferplus", "--logit-adjust", "../elsewhere"]) == 2
    assert "cannot name a model" in capsys.readouterr().err
    assert folder_bytes(existing) == before


def test_soup_checks_its_shares_ingredients_and_destination(tmp_path, monkeypatch, capsys):
    import fer.training.soup
    from tests.training.test_soup import _publish_untrained, _two_models

    monkeypatch.setattr(fer.training.soup, "load_dataset", lambda key, data_dir: _tiny_fer2013())
    monkeypatch.setenv("FER_DATA_DIR", str(tmp_path))
    first, second = _two_models()
    one = _publish_untrained(first, tmp_path / "one", "fer2013", 1.0)
    two = _publish_untrained(second, tmp_path / "two", "fer2013", 1.0)
    output = tmp_path / "soup"
    (output / "fer2013").mkdir(parents=True)
    (output / "fer2013" / "card.json").write_text("{}")
    soup = ["soup", str(one), str(two), "--output-dir", str(output)]
    for shares, message in (("0.5,abc", "'abc' is not a number"), ("0.5,2", "lie in 0..1"),
                            ("nan", "lie in 0..1"), ("0.5", "holds a model already")):
        assert fer_main([*soup, "--shares", shares]) == 2
        assert message in capsys.readouterr().err
    assert (output / "fer2013" / "card.json").read_text() == "{}"
    card = json.loads((one / "card.json").read_text())
    del card["label_set"]
    (one / "card.json").write_text(json.dumps(card))
    assert fer_main([*soup, "--replace"]) == 2
    assert "names no known label set" in capsys.readouterr().err


def test_a_model_being_published_is_not_offered(tmp_path):
    from fer.evaluation.reports import list_models

    with new_model_dir(tmp_path / "m") as work:
        (work / "card.json").write_text("{}")
        assert list_models(tmp_path) == []
    assert list_models(tmp_path) == ["m"]


def test_a_resumed_run_refuses_a_teacher_that_changed_since_it_started(tmp_path, monkeypatch):
    """A resume recomputes the teacher's targets from the model that has its name now: if that
    model was re-published, retrained or replaced, the run would mix two teachers."""
    import fer.models.cards
    from fer.training.run_state import RunState
    from fer.training.targets import check_same_teacher, teacher_fingerprint

    teacher_dir = tmp_path / "teacher"
    teacher_dir.mkdir()
    (teacher_dir / "card.json").write_text('{"label_set": "fer2013"}')
    (teacher_dir / "model.keras").write_bytes(b"weights")
    monkeypatch.setattr(fer.models.cards, "resolve_model_dir", lambda name: teacher_dir)
    config = TrainConfig(architecture="ziggy", epochs=2, distill_from="teacher")
    state = RunState(tmp_path / "run")
    state.run_dir.mkdir()
    state.teacher = teacher_fingerprint(config)
    state.save(config)
    saved = RunState(tmp_path / "run")
    assert saved.load() and saved.teacher == state.teacher
    check_same_teacher(config, saved.teacher)  # unchanged: the run may go on
    check_same_teacher(config, "")  # a run saved before teachers were recorded
    (teacher_dir / "card.json").write_text('{"label_set": "fer2013", "calibration": {}}')
    with pytest.raises(ValueError, match="'teacher' has changed since this run started"):
        check_same_teacher(config, saved.teacher)
