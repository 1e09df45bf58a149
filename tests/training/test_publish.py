"""`fer train` publishes the heads of a run together: when one cannot be published, none is."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from fer.cli import main as fer_main
from tests.research_fixtures import folder_bytes
from tests.training.test_cli_bad_input import TINY, tiny_data  # noqa: F401 (a fixture)

TWO_HEADS = [*TINY, "--labels", "fer2013+ferplus", "--names", "one,two"]


@pytest.fixture
def ferplus_head_fails(monkeypatch):
    """Evaluating the FER+ head's model (the second published) runs out of disk space."""
    import fer.training.publish

    evaluate_forms = fer.training.publish.evaluate_forms

    def failing(model_dir, card, dataset, **options):
        if card["label_set"] == "ferplus":
            raise OSError(errno.ENOSPC, "No space left on device")
        return evaluate_forms(model_dir, card, dataset, **options)

    monkeypatch.setattr(fer.training.publish, "evaluate_forms", failing)


def _old_model(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "card.json").write_text('{"name": "old", "classes": ["happy", "sad"]}')
    (folder / "model.keras").write_text("old weights")
    return folder


@pytest.mark.parametrize("replace", [False, True])
def test_when_the_second_head_cannot_be_published_neither_is(
    tiny_data, ferplus_head_fails, tmp_path: Path, capsys, replace: bool  # noqa: F811
):
    out = tmp_path / "out"
    if replace:
        before = {name: folder_bytes(_old_model(out / name)) for name in ("one", "two")}
    options = ["--replace"] if replace else []
    run_dir = tmp_path / "run"
    code = fer_main(["train", *TWO_HEADS, *options, "--run-dir", str(run_dir),
                     "--output-dir", str(out)])
    error = capsys.readouterr().err
    assert code == 1
    assert "publishing the ferplus head as two failed" in error
    assert "No space left on device" in error
    assert "none of the run's models was published: one, two" in error
    assert f"the trained run is kept in {run_dir}" in error and "--resume" in error
    if replace:  # both models as they were, the fer2013 head's included
        assert sorted(path.name for path in out.iterdir()) == ["one", "two"]
        assert {name: folder_bytes(out / name) for name in ("one", "two")} == before
    else:
        assert not out.exists() or list(out.iterdir()) == []
