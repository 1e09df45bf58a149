"""fer.training.compare without training: summaries, the budget note, resuming and refusing stale
runs."""

from __future__ import annotations

import dataclasses
import json

import pytest

from fer.cli import main as fer_main
from fer.training import compare


def fake_report(architecture: str, strategy: str, accuracy: float, macro_f1: float) -> dict:
    return {
        "architecture": architecture,
        "imbalance": strategy,
        "epochs": 3,
        "selected_epoch": 2,
        "accuracy": accuracy,
        "macro_f1": macro_f1,
        "per_class_f1": {"angry": 0.5, "happy": 0.75},
        "wall_time_s": 90.0,
        "note": compare.budget_note(3, 40),
    }


def test_summary_orders_by_macro_f1_and_writes_files(tmp_path):
    reports = [fake_report("ziggy", "none", 0.6, 0.4), fake_report("fernet", "smote", 0.5, 0.45)]
    table = compare.write_summary(reports, tmp_path)
    assert table["architecture"].tolist() == ["fernet", "ziggy"]
    assert table.loc[0, "f1_happy"] == 0.75
    assert table.loc[0, "wall_time_min"] == 1.5
    markdown = (tmp_path / "summary.md").read_text()
    assert "| fernet | smote | 3 | 2 | 0.500 | 0.450 | 0.500 | 0.750 | 1.500 |" in markdown
    assert "shorter than the shipped models' budget (40 epochs" in markdown
    assert (tmp_path / "summary.csv").read_text().startswith("architecture,imbalance,epochs")


def test_budget_note_names_both_budgets():
    note = compare.budget_note(5, 40)
    assert "5 epoch(s) on all Training rows" in note and "40 epochs" in note
    assert "on the first 8,000 Training rows" in compare.budget_note(5, 40, train_limit=8000)


def test_summary_says_how_to_reproduce_and_with_which_settings(tmp_path):
    report = fake_report("ziggy", "none", 0.6, 0.4)
    report.update(
        train_limit=8000,
        seed=0,
        config=dataclasses.asdict(compare.comparison_config("ziggy", "none", 3, 8000)),
    )
    compare.write_summary([report], tmp_path)
    markdown = (tmp_path / "summary.md").read_text()
    assert "`fer compare --epochs 3 --train-limit 8000`" in markdown
    assert "adamw at learning rate 0.001, batch 64" in markdown


def test_stored_summary_is_the_one_its_reports_make(tmp_path):
    """The stored summary.md said to reproduce it with `python -m fer.training.compare`, which
    has no entry point: it exits 0 and does nothing."""
    stored = compare.DEFAULT_OUTPUT_DIR
    reports = [json.loads(path.read_text()) for path in sorted(stored.glob("*.json"))]
    compare.write_summary(reports, tmp_path)
    assert (tmp_path / "summary.md").read_text() == (stored / "summary.md").read_text()


def test_shipped_budget_counts_every_training_stage(tmp_path):
    card_dir = tmp_path / "fer2013"
    card_dir.mkdir()
    training = {"config": {"epochs": 45}, "stages": [{"epochs": 34}, {"epochs": 45}]}
    (card_dir / "card.json").write_text(json.dumps({"training": training}))
    assert compare.shipped_epoch_budget(tmp_path) == 79
    del training["stages"]
    (card_dir / "card.json").write_text(json.dumps({"training": training}))
    assert compare.shipped_epoch_budget(tmp_path) == 45


def test_finished_pair_is_not_retrained(tmp_path):
    config = compare.comparison_config("ziggy", "none", 2)
    assert config.patience == 2  # no early stop: an equal budget
    saved = {"config": json.loads(json.dumps(dataclasses.asdict(config))), "accuracy": 0.5}
    (tmp_path / "ziggy_none.json").write_text(json.dumps(saved))
    # fer2013=None: any attempt to train would fail, so returning proves the skip
    report = compare.run_one("ziggy", "none", 2, None, tmp_path / "runs", tmp_path)
    assert report == saved


@pytest.mark.parametrize("name", ["ziggy_none", "fernet_smote"])
def test_a_stored_pair_from_before_later_settings_is_not_retrained(name, tmp_path):
    # The stored reports predate settings TrainConfig gained since (mixup, framing, the
    # augmentation's degradation, ...); the documented command retrained and replaced them all.
    stored = compare.DEFAULT_OUTPUT_DIR / f"{name}.json"
    report = json.loads(stored.read_text())
    (tmp_path / stored.name).write_bytes(stored.read_bytes())
    again = compare.run_one(report["architecture"], report["imbalance"], report["epochs"], None,
                            tmp_path / "runs", tmp_path, train_limit=report["train_limit"],
                            seed=report["seed"], shipped_epochs=79)
    assert again["accuracy"] == report["accuracy"]


def test_a_stored_pair_of_another_budget_is_refused_not_replaced(tmp_path, monkeypatch, capsys):
    import fer.data.datasets
    from tests.training.test_loop import _tiny_fer2013

    monkeypatch.setattr(fer.data.datasets, "load_dataset", lambda key, data_dir: _tiny_fer2013())
    monkeypatch.setenv("FER_DATA_DIR", str(tmp_path))
    config = compare.comparison_config("ziggy", "none", 5, train_limit=8000)
    saved = {"config": json.loads(json.dumps(dataclasses.asdict(config))), "accuracy": 0.5}
    (tmp_path / "ziggy_none.json").write_text(json.dumps(saved))
    before = (tmp_path / "ziggy_none.json").read_bytes()
    with pytest.raises(FileExistsError, match=r"epochs, patience, train_limit.*--restart"):
        compare.run_one("ziggy", "none", 1, None, tmp_path / "runs", tmp_path, train_limit=300)
    # Refused before any pair trains, also a pair listed ahead of it that has no result yet.
    code = fer_main(["compare", "--epochs", "1", "--train-limit", "300", "--architectures",
                     "fernet,ziggy", "--strategies", "none", "--run-dir", str(tmp_path / "runs"),
                     "--output-dir", str(tmp_path)])
    assert code == 2
    assert "ziggy_none.json holds this pair's result with other settings" in (
        capsys.readouterr().err)
    assert (tmp_path / "ziggy_none.json").read_bytes() == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["ziggy_none.json"]


def test_a_run_of_some_pairs_keeps_the_others_in_the_summary(tmp_path):
    # A run of one architecture rewrote summary.md with that architecture's rows only.
    for architecture, accuracy in (("ziggy", 0.45), ("mycnn", 0.48)):
        config = compare.comparison_config(architecture, "none", 3, train_limit=8000)
        report = fake_report(architecture, "none", accuracy, accuracy - 0.1)
        report["config"] = json.loads(json.dumps(dataclasses.asdict(config)))
        (tmp_path / f"{architecture}_none.json").write_text(json.dumps(report))
    # fer2013=None: the ziggy pair is finished, so nothing trains.
    table = compare.run_comparison(3, None, tmp_path / "runs", tmp_path, ("ziggy",), ("none",),
                                   train_limit=8000, log=lambda line: None)
    assert sorted(table["architecture"]) == ["mycnn", "ziggy"]
    assert "| mycnn | none |" in (tmp_path / "summary.md").read_text()


def test_run_dir_of_another_configuration_is_refused(tmp_path):
    run_dir = tmp_path / "ziggy_none"
    run_dir.mkdir()
    old = compare.comparison_config("ziggy", "none", 5)
    (run_dir / "state.json").write_text(json.dumps({"config": dataclasses.asdict(old)}))
    new = compare.comparison_config("ziggy", "none", 2)
    with pytest.raises(FileExistsError, match="--restart"):
        compare._prepare_run_dir(run_dir, new, restart=False)
    compare._prepare_run_dir(run_dir, old, restart=False)  # same configuration: resume
    compare._prepare_run_dir(run_dir, new, restart=True)
    assert not run_dir.exists()


def test_cli_rejects_unknown_names(capsys):
    assert fer_main(["compare", "--epochs", "1", "--architectures", "resnet"]) == 2
    assert fer_main(["compare", "--epochs", "1", "--strategies", "magic"]) == 2
    with pytest.raises(SystemExit):
        fer_main(["compare", "--epochs", "0"])
    assert "error" in capsys.readouterr().err
