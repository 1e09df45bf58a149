"""A training run's state on disk, and where its first weights come from (``--init-from``).

``RunState`` is what ``--resume`` needs. A warm restart starts from either

- a finished run directory: its last checkpoint, every head, or
- a published model directory (``models/<name>``, or a ``runs/candidate/<name>`` one): its
  backbone and its one head; the run's other heads start from scratch. Run directories are not
  kept after a model ships, so this is how a later session continues from a shipped model.

Either way the earlier stages' commands, epochs and wall time travel into the new run's state, so
the card states the whole training cost of the weights.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import shutil
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

from fer.files import write_text_atomically

if TYPE_CHECKING:
    from fer.training.config import TrainConfig


# A resumed run may be given more epochs or patience; any other setting would make its card
# describe training that did not happen.
RESUMABLE_CHANGES = frozenset({"epochs", "patience"})


class RunState:
    """What ``--resume`` needs: epochs done, best validation scores, history, wall time."""

    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        self.path = run_dir / "state.json"
        self.epochs_done = 0
        self.wall_time_s = 0.0
        self.best: dict[str, dict] = {}
        self.history: list[dict] = []
        self.config: dict = {}  # the saved run's TrainConfig, as stored (set by load)
        self.command = ""
        # The commands that continued this run (``--resume``) after ``command``, in order: the
        # first command alone would train only its own epoch budget.
        self.resumed_with: list[str] = []
        # Earlier runs this one continued from (``--init-from``), oldest first; each has its
        # command, epochs and wall time so the card can state the model's whole training cost.
        self.predecessors: list[dict] = []
        # The teacher's fingerprint when distilling (fer.training.targets.teacher_fingerprint).
        self.teacher = ""

    @property
    def total_wall_time_s(self) -> float:
        return self.wall_time_s + sum(stage["wall_time_s"] for stage in self.predecessors)

    def stages(self) -> list[dict]:
        """Every training stage of the model, oldest first, this run last."""
        own = {
            "run_dir": str(self.run_dir),
            "command": self.command,
            "epochs": self.epochs_done,
            "wall_time_s": round(self.wall_time_s, 1),
        }
        if self.resumed_with:
            own["resumed_with"] = list(self.resumed_with)
        return [*self.predecessors, own]

    def record_resume(self, command: str) -> None:
        """Note that ``command`` continues the run (nothing when it is the last one noted)."""
        if command and command != ([self.command, *self.resumed_with])[-1]:
            self.resumed_with.append(command)

    def load(self) -> bool:
        if not self.path.is_file():
            return False
        try:
            state = json.loads(self.path.read_text())
            self.epochs_done = int(state["epochs_done"])
            self.wall_time_s = float(state["wall_time_s"])
            self.best = dict(state["best"])
            self.history = list(state["history"])
            self.config = dict(state.get("config") or {})
            self.command = str(state.get("command", ""))
            self.resumed_with = [str(command) for command in state.get("resumed_with", [])]
            self.predecessors = list(state.get("predecessors", []))
            self.teacher = str(state.get("teacher", ""))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"{self.path} cannot be read ({error}); the run cannot be "
                             "continued: start a new --run-dir") from None
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ValueError(f"{self.path} is not a run's state (bad or missing {error}); the "
                             "run cannot be continued: start a new --run-dir") from None
        return True

    def check_config(self, config: TrainConfig) -> None:
        """``ValueError`` unless the loaded run was trained with ``config`` (a run continued
        with other settings would publish weights its card does not describe); only how long
        it runs (:data:`RESUMABLE_CHANGES`) may change, and not below the epochs done."""
        if config.epochs < self.epochs_done:
            # The card would state a budget smaller than the training its weights had.
            raise ValueError(
                f"{self.run_dir} holds a run that has trained {self.epochs_done} epochs "
                f"already; resume it with --epochs {self.epochs_done} or more"
            )
        if not self.config:
            return  # written before runs recorded their configuration
        ours = json.loads(json.dumps(dataclasses.asdict(config)))
        # A setting added after the run was saved was, for that run, at its default.
        defaults = json.loads(json.dumps(dataclasses.asdict(type(config)())))
        saved = {key: self.config.get(key, defaults.get(key))
                 for key in set(ours) | set(self.config)}
        changed = sorted(key for key in saved
                         if key not in RESUMABLE_CHANGES and ours.get(key) != saved[key])
        if changed:
            raise ValueError(
                f"{self.run_dir} holds a run with another configuration (differs in: "
                f"{', '.join(changed)}); resume it with its own settings or choose another "
                "--run-dir"
            )

    def save(self, config: TrainConfig) -> None:
        state = {
            "epochs_done": self.epochs_done,
            "wall_time_s": self.wall_time_s,
            "best": self.best,
            "history": self.history,
            "config": dataclasses.asdict(config),
            "command": self.command,
            "resumed_with": self.resumed_with,
            "predecessors": self.predecessors,
            "teacher": self.teacher,
        }
        partial = self.path.with_suffix(".partial")
        partial.write_text(json.dumps(state, indent=1))
        partial.replace(self.path)


def pending_epoch_dir(run_dir: Path, epoch: int) -> Path:
    """Where the end of ``epoch`` writes its files until ``state.json`` records the epoch."""
    return run_dir / f".epoch-{epoch}"


def settle_pending_epochs(run_dir: Path, epochs_done: int) -> None:
    """Move the files of the epoch ``state.json`` records (``epochs_done``) into place, and drop
    those of any epoch it does not: that epoch is trained again, from the checkpoint before it.

    ``state.json`` is the one file whose replacement commits an epoch; the checkpoint, improved
    heads and weight average written before it must not count when a crash comes between.
    """
    for pending in run_dir.glob(".epoch-*"):
        if pending == pending_epoch_dir(run_dir, epochs_done):
            for path in pending.iterdir():
                os.replace(path, run_dir / path.name)
        shutil.rmtree(pending, ignore_errors=True)


def predecessor_stages(source: Path, config: TrainConfig) -> list[dict]:
    """The training stages behind ``source`` (run or model dir), checked against ``config``."""
    source = Path(source)
    card_path = source / "card.json"
    if card_path.is_file():
        from fer.models.cards import read_card

        card = read_card(source)  # InvalidModelError (a ValueError) names a damaged card
        if card.get("architecture") != config.architecture:
            raise ValueError(
                f"--init-from {source} is a {card.get('architecture')} model; "
                f"this run is {config.architecture}"
            )
        if card.get("label_set") not in config.label_sets:
            raise ValueError(
                f"--init-from {source} has a {card.get('label_set')!r} head, which this run "
                f"(heads {list(config.label_sets)}) does not train"
            )
        return published_stages(source)
    previous = RunState(source)
    if not previous.load() or not (source / "checkpoint.keras").is_file():
        raise FileNotFoundError(
            f"{source} holds neither a finished run (state.json + checkpoint) nor a model "
            "(card.json + model.keras)"
        )
    theirs = (previous.config["architecture"], list(previous.config["label_sets"]))
    ours = (config.architecture, list(config.label_sets))
    if theirs != ours:
        raise ValueError(
            f"--init-from {source} trained {theirs[0]} with heads {theirs[1]}; "
            f"this run is {ours[0]} with heads {ours[1]}"
        )
    return previous.stages()


def published_stages(model_dir: Path) -> list[dict]:
    """The training stages recorded in a published model's card."""
    card_path = Path(model_dir) / "card.json"
    stages = json.loads(card_path.read_text()).get("training", {}).get("stages")
    if not stages:
        raise ValueError(f"{card_path} records no training stages")
    return stages


def merge_stages(stages: list[dict], more: list[dict]) -> list[dict]:
    """``stages`` plus those of ``more`` it lacks (same run dir and command), order kept."""
    seen = {(stage["run_dir"], stage["command"]) for stage in stages}
    return [*stages, *(s for s in more if (s["run_dir"], s["command"]) not in seen)]


def load_initial_weights(training_model, source: Path) -> list[str]:
    """Load ``source``'s weights into ``training_model``; returns the names of layers loaded.

    A run dir's checkpoint has the same graph, so it loads whole. A model dir's inference model
    shares layer names with the training model's backbone and one head; those load by name and
    every other layer keeps its fresh initialisation.
    """
    import keras

    from fer.models.zoo import layers_by_name

    source = Path(source)
    if not (source / "card.json").is_file():
        try:
            training_model.load_weights(source / "checkpoint.keras")
        except (OSError, ValueError, zipfile.BadZipFile) as error:
            raise ValueError(f"{source / 'checkpoint.keras'} cannot be loaded (damaged or "
                             f"not this run's model): {error}") from None
        return [layer.name for layer in training_model.layers if layer.weights]
    try:
        published = keras.models.load_model(source / "model.keras", compile=False)
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise ValueError(
            f"{source / 'model.keras'} cannot be loaded (damaged?): {error}"
        ) from None
    by_name = layers_by_name(published)
    loaded = []
    for name, layer in layers_by_name(training_model).items():
        if name in by_name:
            layer.set_weights(by_name[name].get_weights())
            loaded.append(name)
    missing = sorted(set(by_name) - set(loaded))
    if missing:
        raise ValueError(f"{source} has layers the training model lacks: {missing}")
    return loaded


def write_history_csv(path: Path, history: list[dict]) -> None:
    """Write the whole ``history`` as ``path``, replacing it at once.

    Rewritten from the state every epoch rather than appended to: a column that appears part
    way through a run (``averaged_epochs``) gets its header, and a crash between the state and
    this file leaves no epoch missing from it once the run is resumed.
    """
    columns = list(dict.fromkeys(column for row in history for column in row))
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    write_text_atomically(path, text.getvalue())
