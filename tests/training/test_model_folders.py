"""Re-publishing a model replaces its folder as a whole: a step that fails, or a process that
stops, at any point leaves a reader the old set of files or the new set, never a mix."""

from __future__ import annotations

import errno
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fer.models.cards import InvalidModelError, read_card, resolve_model_dir
from fer.training.model_folders import new_model_dir, new_model_dirs, staged_model_dir

FILES = ("model.keras", "model_int8.tflite", "card.json", "evaluation.json", "MODEL_CARD.md")


def _card(version: str) -> str:
    return f'{{"name": "tiny", "classes": ["happy", "sad"], "version": "{version}"}}'


def _published(folder: Path, version: str) -> Path:
    folder.mkdir(parents=True)
    for name in FILES:
        (folder / name).write_text(_card(version) if name == "card.json" else version)
    return folder


def _contents(folder: Path) -> dict[str, str]:
    return {path.name: path.read_text() for path in folder.iterdir() if path.is_file()}


OLD = {name: _card("old") if name == "card.json" else "old" for name in FILES}
NEW = {name: _card("new") if name == "card.json" else "new" for name in FILES}


def _write_new_version(work: Path) -> None:
    for name in FILES:
        (work / name).write_text(NEW[name])


@pytest.mark.parametrize("failing_rename", [1, 2, 3, 4])
def test_a_rename_that_fails_leaves_the_model_entirely_old_or_entirely_new(
    tmp_path: Path, monkeypatch, failing_rename: int
):
    model_dir = _published(tmp_path / "models" / "tiny", "old")
    renames = []
    real_replace = os.replace

    def replace(source, destination):
        renames.append(destination)
        if len(renames) == failing_rename:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_replace(source, destination)

    try:
        with staged_model_dir(model_dir) as work:
            _write_new_version(work)
            monkeypatch.setattr(os, "replace", replace)
        expected = NEW
    except OSError:  # a step that reports failure has changed nothing
        expected = OLD
    monkeypatch.undo()
    assert _contents(model_dir) == expected
    # The next step settles whatever was left beside the model.
    with staged_model_dir(model_dir):
        pass
    assert _contents(model_dir) == expected
    assert [path.name for path in model_dir.parent.iterdir()] == ["tiny"]


# Each script below defines STOP_AT: the process stops (no cleanup runs) at the rename of that
# number, or at the rename onto that path.
STOP_AT_RENAME = """
import os, sys
from pathlib import Path
real_replace = os.replace
renames = 0
def stopping_replace(source, destination):
    global renames
    renames += 1
    if str(renames) == STOP_AT or str(destination) == STOP_AT:
        os._exit(17)
    return real_replace(source, destination)
"""

# Stops at rename argv[2] of a step on the model in argv[1]; 0 stops it while the new version is
# being written.
STOPPING_STEP = STOP_AT_RENAME + """
from fer.training.model_folders import staged_model_dir
STOP_AT = sys.argv[2]
os.replace = stopping_replace
with staged_model_dir(Path(sys.argv[1])) as work:
    for name in [name for name in os.listdir(work) if not name.startswith(".")]:
        text = (work / name).read_text()
        (work / name).write_text(text.replace("old", "new"))
    if STOP_AT == "0":
        os._exit(17)
"""


@pytest.mark.parametrize("stop_at", [0, 1, 2, 3])
def test_a_process_stopped_mid_step_leaves_readers_a_whole_model(tmp_path: Path, stop_at: int):
    model_dir = _published(tmp_path / "models" / "tiny", "old")
    stopped = subprocess.run(
        [sys.executable, "-c", STOPPING_STEP, str(model_dir), str(stop_at)],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        capture_output=True, text=True, timeout=60,
    )
    assert stopped.returncode == 17, stopped.stderr
    # A reader (the app, the next command) finds one version whole, whichever was on disk.
    assert read_card(model_dir)["version"] in ("old", "new")
    assert _contents(resolve_model_dir(model_dir)) in (OLD, NEW)
    # The next step on the model deletes what the stopped one left.
    with staged_model_dir(model_dir):
        pass
    assert [path.name for path in model_dir.parent.iterdir()] == ["tiny"]


def test_a_model_left_half_swapped_is_put_back_when_loaded(tmp_path: Path, caplog):
    models = tmp_path / "models"
    _published(models / ".tiny.old", "old")  # a swap that stopped between its two renames
    with caplog.at_level(logging.WARNING, logger="fer.models.cards"):
        assert read_card(models / "tiny")["version"] == "old"
    assert "put its previous version back" in caplog.text
    assert sorted(path.name for path in models.iterdir()) == ["tiny"]
    assert _contents(models / "tiny") == OLD


def test_a_model_swapped_just_after_the_first_look_is_found(tmp_path: Path, monkeypatch):
    import fer.models.cards
    from fer.files import previous_version

    model_dir = _published(tmp_path / "models" / "tiny", "old")
    real_restore = fer.models.cards.restore_interrupted_replacement
    calls = []

    def a_swap_starts_after_the_checks(path: Path) -> bool:
        calls.append(path)
        restored = real_restore(path)
        if len(calls) == 2:  # the last check of the first look: the swap's first rename
            os.replace(model_dir, previous_version(model_dir))
        return restored

    monkeypatch.setattr(fer.models.cards, "restore_interrupted_replacement",
                        a_swap_starts_after_the_checks)
    assert resolve_model_dir(model_dir) == model_dir
    assert _contents(model_dir) == OLD


def test_a_half_swapped_model_that_cannot_be_put_back_is_refused_with_what_to_do(
    tmp_path: Path, monkeypatch
):
    models = tmp_path / "models"
    _published(models / ".tiny.old", "old")

    def refused(source, destination):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(os, "replace", refused)
    for load in (read_card, resolve_model_dir):
        with pytest.raises(InvalidModelError, match="stopped half-way") as refusal:
            load(models / "tiny")
        assert "rename that folder to tiny" in str(refusal.value)
        assert str(models / ".tiny.old") in str(refusal.value)


def test_a_new_version_still_being_written_is_not_taken_for_a_leftover(tmp_path: Path):
    model_dir = _published(tmp_path / "models" / "tiny", "old")
    stale = model_dir.parent / ".tiny.new-0123abcd"  # its writer is gone
    stale.mkdir()
    with staged_model_dir(model_dir) as first:
        assert not stale.exists()
        with staged_model_dir(model_dir) as second:  # another writer of the same model
            assert first.is_dir()
            (second / "card.json").write_text(_card("second"))
        (first / "card.json").write_text(_card("first"))
    assert read_card(model_dir)["version"] == "first"
    assert [path.name for path in model_dir.parent.iterdir()] == ["tiny"]


def test_a_failed_first_publication_leaves_nothing_and_a_replacement_the_old_model(
    tmp_path: Path,
):
    target = tmp_path / "models" / "m"
    with pytest.raises(RuntimeError), new_model_dir(target) as work:
        (work / "card.json").write_text(_card("new"))
        raise RuntimeError("export failed")
    assert list((tmp_path / "models").iterdir()) == []
    _published(target, "old")
    with pytest.raises(RuntimeError), new_model_dir(target, replace=True) as work:
        _write_new_version(work)
        raise RuntimeError("evaluation failed")
    assert _contents(target) == OLD
    with new_model_dir(target, replace=True) as work:
        _write_new_version(work)
    assert _contents(target) == NEW
    assert [path.name for path in target.parent.iterdir()] == ["m"]


def test_a_model_published_there_while_this_one_was_written_is_not_overwritten(
    tmp_path: Path, monkeypatch
):
    import fer.files.folders

    target = tmp_path / "models" / "m"
    real_settle = fer.files.folders._settle

    def another_command_publishes_first(path: Path) -> None:
        # After every check made before the folder lock: the last moment another publisher
        # could slip in.
        if path == target and not target.exists():
            _published(target, "old")
        real_settle(path)

    monkeypatch.setattr(fer.files.folders, "_settle", another_command_publishes_first)
    with pytest.raises(ValueError, match="holds a model already .published while"):
        with new_model_dir(target) as work:
            _write_new_version(work)
    assert _contents(target) == OLD
    assert [path.name for path in target.parent.iterdir()] == ["m"]


@pytest.mark.parametrize("failing_rename", [1, 2, 3, 4, 5])
def test_models_published_together_all_take_their_place_or_none(
    tmp_path: Path, monkeypatch, failing_rename: int
):
    targets = [_published(tmp_path / "models" / name, "old") for name in ("one", "two")]
    renames = []
    real_replace = os.replace

    def replace(source, destination):
        renames.append(destination)
        if len(renames) == failing_rename:
            raise OSError(errno.EIO, "Input/output error")
        return real_replace(source, destination)

    with pytest.raises(OSError, match="Input/output error"):
        with new_model_dirs(targets, replace=True) as works:
            for work in works:
                _write_new_version(work)
            monkeypatch.setattr(os, "replace", replace)
    monkeypatch.undo()
    assert [_contents(target) for target in targets] == [OLD, OLD]
    assert sorted(path.name for path in (tmp_path / "models").iterdir()) == ["one", "two"]


def test_a_model_reached_through_a_link_is_replaced_where_the_link_points(tmp_path: Path):
    models = tmp_path / "models"
    real = _published(models / "tiny_v3", "old")
    alias = models / "tiny"
    alias.symlink_to("tiny_v3")
    for version in ("first", "second"):  # the second step once failed on the first's leftover
        with staged_model_dir(alias) as work:
            (work / "card.json").write_text(_card(version))
        assert alias.is_symlink() and read_card(real)["version"] == version
    assert sorted(path.name for path in models.iterdir()) == ["tiny", "tiny_v3"]


def test_a_link_left_as_a_previous_version_does_not_block_later_steps(tmp_path: Path):
    models = tmp_path / "models"
    model_dir = _published(models / "tiny", "old")
    _published(models / "elsewhere", "other")
    (models / ".tiny.old").symlink_to("elsewhere")  # left by a step on a linked model
    with staged_model_dir(model_dir) as work:
        (work / "card.json").write_text(_card("new"))
    assert read_card(model_dir)["version"] == "new"
    assert _contents(models / "elsewhere")["model.keras"] == "other"
    assert sorted(path.name for path in models.iterdir()) == ["elsewhere", "tiny"]


def test_a_model_loaded_while_a_new_version_is_swapped_in_is_one_version(
    tmp_path: Path, monkeypatch
):
    import fer.models.inference

    model_dir = _published(tmp_path / "models" / "tiny", "old")
    swapped = []

    class FileRunner:
        """Reads the model file; a re-publication lands between the card and the file."""

        output_size = 2

        def __init__(self, path: Path, num_threads: int):
            if not swapped:
                swapped.append(True)
                with staged_model_dir(model_dir) as work:
                    _write_new_version(work)
            self.version = Path(path).read_text()

    monkeypatch.setattr(fer.models.inference, "TFLiteRunner", FileRunner)
    model = fer.models.inference.EmotionModel(model_dir)
    assert model.card["version"] == model._run.version


# Publishes the models named in argv[2:] together (new versions written in full) and stops when
# the swaps rename a folder onto argv[1], or at rename number argv[1].
STOPPING_PUBLICATION = STOP_AT_RENAME + f"""
from fer.training.model_folders import new_model_dirs
FILES, NEW = {FILES!r}, {NEW!r}
STOP_AT = sys.argv[1]
with new_model_dirs([Path(arg) for arg in sys.argv[2:]], replace=True) as works:
    for work in works:
        for name in FILES:
            (work / name).write_text(NEW[name])
    os.replace = stopping_replace
"""


def _stop_publishing(targets: list[Path], stop_at: str | Path) -> None:
    stopped = subprocess.run(
        [sys.executable, "-c", STOPPING_PUBLICATION, str(stop_at), *map(str, targets)],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        capture_output=True, text=True, timeout=60,
    )
    assert stopped.returncode == 17, stopped.stderr


@pytest.mark.parametrize("stop_at", range(1, 8))
def test_models_published_together_stay_together_when_the_process_stops(
    tmp_path: Path, stop_at: int
):
    models = tmp_path / "models"
    targets = [_published(models / name, "old") for name in ("one", "two")]
    _stop_publishing(targets, stop_at)
    # The model the stopped process had not reached yet is read first.
    versions = [read_card(target)["version"] for target in reversed(targets)]
    assert versions in (["old", "old"], ["new", "new"])
    assert [_contents(target) for target in targets] in ([OLD, OLD], [NEW, NEW])
    for target in targets:  # the next step on each deletes what was left beside it
        with staged_model_dir(target):
            pass
    assert sorted(path.name for path in models.iterdir()) == ["one", "two"]


@pytest.mark.parametrize("replacing_models", [True, False])
@pytest.mark.parametrize("settled_by", ["loading", "publishing"])
def test_a_publication_stopped_between_two_swaps_is_finished_and_said_so(
    tmp_path: Path, caplog, replacing_models: bool, settled_by: str
):
    from fer.files import WRITER_LOCK, previous_version

    models = tmp_path / "models"
    targets = [models / "one", models / "two"]
    if replacing_models:
        for target in targets:
            _published(target, "old")
        # "one" is swapped in; the first rename of "two"'s swap never happens.
        _stop_publishing(targets, previous_version(targets[1]))
    else:
        models.mkdir()
        _stop_publishing(targets, targets[1])
    assert (models / "one").is_dir()
    with caplog.at_level(logging.WARNING, logger="fer.files"):
        if settled_by == "loading":
            assert read_card(targets[1])["version"] == "new"
        else:  # a step on the other model, which copies it
            with staged_model_dir(targets[1]) as work:
                assert _contents(work) == {**NEW, WRITER_LOCK: ""}
    assert [_contents(target) for target in targets] == [NEW, NEW]
    assert f"{targets[0]}, {targets[1]}" in caplog.text
    assert "finished" in caplog.text
    assert sorted(path.name for path in models.iterdir()) == ["one", "two"]


def test_a_publication_stopped_between_two_swaps_is_undone_when_a_new_version_is_gone(
    tmp_path: Path, caplog
):
    from fer.files import previous_version

    models = tmp_path / "models"
    targets = [_published(models / name, "old") for name in ("one", "two")]
    _stop_publishing(targets, previous_version(targets[1]))
    for leftover in models.glob(".two.new-*"):
        shutil.rmtree(leftover)  # the new version of "two" cannot be put in place any more
    with caplog.at_level(logging.WARNING, logger="fer.files"):
        assert read_card(targets[1])["version"] == "old"
    assert [_contents(target) for target in targets] == [OLD, OLD]
    assert f"{targets[0]}, {targets[1]}" in caplog.text
    assert "undone" in caplog.text
    assert sorted(path.name for path in models.iterdir()) == ["one", "two"]


def _published_with_a_journal_left(models: Path) -> list[Path]:
    """Models "one" and "two" published together, new over old, and their journal written
    again as if removing it after the last swap had failed."""
    import json

    from fer.files import TOGETHER_JOURNAL

    targets = [_published(models / name, "old") for name in ("one", "two")]
    with new_model_dirs(targets, replace=True) as works:
        for work in works:
            _write_new_version(work)
    entries = [
        {"path": target.name, "new": f".{target.name}.new-0123abcd", "replaces": True,
         "identity": [target.stat().st_dev, target.stat().st_ino]}
        for target in targets
    ]
    (models / TOGETHER_JOURNAL).write_text(json.dumps({"folders": entries}))
    return targets


def test_undoing_a_publication_never_takes_away_a_model_with_nothing_to_put_back(
    tmp_path: Path, caplog
):
    """A journal left after the last swap (its removal failed), then one model deleted by
    hand: the other's version from before was already deleted, so undoing it would leave none."""

    from fer.files import TOGETHER_JOURNAL, previous_version

    models = tmp_path / "models"
    targets = _published_with_a_journal_left(models)
    assert not previous_version(targets[0]).exists()
    shutil.rmtree(targets[1])
    with caplog.at_level(logging.WARNING, logger="fer.files"):
        assert read_card(targets[0])["version"] == "new"
    assert _contents(targets[0]) == NEW
    assert "keeps its new version" in caplog.text
    assert not (models / TOGETHER_JOURNAL).exists()


def test_a_journal_that_outlived_the_last_swap_does_not_block_a_reader(
    tmp_path: Path, monkeypatch, caplog
):
    """Every new version is in place and only the journal is left: a reader who may not remove
    it still loads the models (it used to be refused until someone who may write came)."""

    from fer.files import TOGETHER_JOURNAL

    models = tmp_path / "models"
    targets = _published_with_a_journal_left(models)

    def refused(parent):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr("fer.files.journal.remove_journal", refused)
    with caplog.at_level(logging.WARNING, logger="fer.files"):
        assert [read_card(target)["version"] for target in targets] == ["new", "new"]
    assert "could not be removed" in caplog.text
    monkeypatch.undo()
    assert read_card(targets[0])["version"] == "new"
    assert not (models / TOGETHER_JOURNAL).exists()


# Loads the model argv[2] and stops at rename number argv[1], while it settles what a stopped
# publication left.
STOPPING_LOAD = STOP_AT_RENAME + """
from fer.models.cards import read_card
STOP_AT = sys.argv[1]
os.replace = stopping_replace
read_card(sys.argv[2])
os._exit(0)
"""


@pytest.mark.parametrize("new_version_gone", [False, True])
@pytest.mark.parametrize("stop_at", [1, 2, 3])
def test_settling_a_stopped_publication_can_itself_stop_and_be_settled_later(
    tmp_path: Path, new_version_gone: bool, stop_at: int
):
    from fer.files import previous_version

    models = tmp_path / "models"
    targets = [_published(models / name, "old") for name in ("one", "two")]
    _stop_publishing(targets, previous_version(targets[1]))
    if new_version_gone:
        for leftover in models.glob(".two.new-*"):
            shutil.rmtree(leftover)
    stopped = subprocess.run(
        [sys.executable, "-c", STOPPING_LOAD, str(stop_at), str(targets[1])],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        capture_output=True, text=True, timeout=60,
    )
    assert stopped.returncode in (0, 17), stopped.stderr
    expected = OLD if new_version_gone else NEW
    assert read_card(targets[0])["version"] == read_card(targets[1])["version"]
    assert [_contents(target) for target in targets] == [expected, expected]
    for target in targets:
        with staged_model_dir(target):
            pass
    assert sorted(path.name for path in models.iterdir()) == ["one", "two"]


def test_a_stopped_publication_that_cannot_be_settled_refuses_only_its_own_models(
    tmp_path: Path, monkeypatch
):
    from fer.files import previous_version

    models = tmp_path / "models"
    targets = [_published(models / name, "old") for name in ("one", "two")]
    _published(models / "other", "other")
    _stop_publishing(targets, previous_version(targets[1]))

    def refused(source, destination):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(os, "replace", refused)  # a reader who may not write to models/
    assert read_card(models / "other")["version"] == "other"
    for load in (read_card, resolve_model_dir):
        with pytest.raises(InvalidModelError, match="stopped between two swaps") as refusal:
            load(targets[1])
        assert f"{targets[0]}, {targets[1]}" in str(refusal.value)
    monkeypatch.undo()
    assert [read_card(target)["version"] for target in targets] == ["new", "new"]


def test_folders_replaced_together_must_share_their_parent(tmp_path: Path):
    targets = [tmp_path / "models" / "one", tmp_path / "elsewhere" / "two"]
    with pytest.raises(ValueError, match="share"), new_model_dirs(targets):
        pass
    assert not (tmp_path / "models").exists() or not any((tmp_path / "models").iterdir())


@pytest.mark.parametrize("outside_name", ["../outside", "/ABSOLUTE"])
def test_a_journal_naming_a_folder_outside_its_own_moves_nothing_there(
    tmp_path: Path, outside_name: str
):
    """The journal is read by every loader: a name in it that leaves the models folder (a
    crafted or damaged file) must not make a loader rename or delete a folder elsewhere."""
    import json

    from fer.files import TOGETHER_JOURNAL

    models = tmp_path / "models"
    _published(models / "one", "old")
    outside = _published(tmp_path / "outside", "outside")
    intruder = _published(tmp_path / "intruder", "intruder")
    if outside_name.startswith("/"):
        outside_name = str(outside)
    entries = [{"path": outside_name, "new": str(intruder),
                "identity": [intruder.stat().st_dev, intruder.stat().st_ino]}]
    (models / TOGETHER_JOURNAL).write_text(json.dumps({"folders": entries}))

    assert read_card(models / "one")["version"] == "old"
    assert _contents(outside)["card.json"] == _card("outside")
    assert _contents(intruder)["card.json"] == _card("intruder")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["intruder", "models", "outside"]
