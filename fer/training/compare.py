"""Strategy comparison: architectures × class-imbalance strategies under one equal epoch budget.

``fer compare --epochs N [--train-limit N]`` trains every pair with
:func:`fer.training.loop.train` into ``runs/compare/<arch>_<strategy>`` (model selection on
PublicTest only), scores the selected epoch once on FER2013 PrivateTest, and writes one JSON
report per pair to ``experiments/strategy_comparison/`` plus ``summary.csv`` and
``summary.md``. A finished pair is skipped when run again with the same configuration, so an
interrupted comparison continues where it stopped; a stored result of another configuration is
refused, not replaced, unless ``restart``.

The budget is deliberately equal and shorter than the shipped models' budget: the numbers rank
strategies against each other; they are not the shipped models' accuracy.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from fer.config import MODELS_DIR, PROJECT_ROOT, STRATEGY_COMPARISON_DIR
from fer.data.datasets import FaceDataset
from fer.evaluation.metrics import classification_report

ARCHITECTURES = ("ziggy", "mycnn", "fernet")
STRATEGIES = ("none", "class_weights", "smote")
LABEL_SET = "fer2013"
SELECTION_SPLIT = "PublicTest"
TEST_SPLIT = "PrivateTest"
DEFAULT_RUNS_DIR = PROJECT_ROOT / "runs" / "compare"
DEFAULT_OUTPUT_DIR = STRATEGY_COMPARISON_DIR


def run_name(architecture: str, strategy: str) -> str:
    return f"{architecture}_{strategy}"


def _json_ready(value):
    return json.loads(json.dumps(value))


def comparison_config(
    architecture: str, strategy: str, epochs: int, train_limit: int = 0, seed: int = 0
):
    """The :class:`~fer.training.loop.TrainConfig` of one pair: defaults except the compared knobs.

    ``patience`` equals the budget so no run stops early: every pair gets the same epochs.
    """
    from fer.training.config import TrainConfig

    return TrainConfig(
        architecture=architecture,
        label_sets=(LABEL_SET,),
        imbalance=strategy,
        epochs=epochs,
        patience=epochs,
        seed=seed,
        train_limit=train_limit,
    )


def shipped_epoch_budget(models_dir: Path = MODELS_DIR) -> int:
    """Epoch budget of the shipped FER2013 model (its card), else the training default."""
    card_path = Path(models_dir) / LABEL_SET / "card.json"
    if card_path.is_file():
        try:
            training = json.loads(card_path.read_text())["training"]
            if training.get("stages"):  # warm restarts: the weights saw every stage's epochs
                return sum(int(stage["epochs"]) for stage in training["stages"])
            return int(training["config"]["epochs"])
        except (KeyError, TypeError, ValueError):
            pass
    from fer.training.config import TrainConfig

    return TrainConfig().epochs


def budget_note(epochs: int, shipped_epochs: int, train_limit: int = 0) -> str:
    rows = (
        f" on the first {train_limit:,} Training rows" if train_limit else " on all Training rows"
    )
    return (
        f"Equal budget of {epochs} epoch(s){rows} for every architecture and strategy, shorter "
        f"than the shipped models' budget ({shipped_epochs} epochs on all rows, selected on "
        "PublicTest). These numbers rank strategies against each other; they are not the shipped "
        "models' accuracy."
    )


def reproduce_command(epochs: int, train_limit: int = 0, seed: int = 0) -> str:
    command = f"fer compare --epochs {epochs}"
    if train_limit:
        command += f" --train-limit {train_limit}"
    if seed:
        command += f" --seed {seed}"
    return command


def _prepare_run_dir(run_dir: Path, config, restart: bool) -> None:
    """Resume only a run of the same configuration; ``restart`` deletes the old run first."""
    state_path = run_dir / "state.json"
    if restart and run_dir.exists():
        shutil.rmtree(run_dir)
        return
    if state_path.is_file():
        saved = json.loads(state_path.read_text()).get("config")
        if saved != _json_ready(dataclasses.asdict(config)):
            raise FileExistsError(
                f"{run_dir} holds a run with another configuration; pass --restart to replace it "
                "or choose another --run-dir"
            )


def _with_defaults(saved: dict, defaults: dict) -> dict:
    """``saved`` with every setting added since it was written at its default, nested ones
    (the augmentation's) included: for that run, a setting that did not exist was at it."""
    filled = dict(saved)
    for key, default in defaults.items():
        if key not in filled:
            filled[key] = default
        elif isinstance(default, dict) and isinstance(filled[key], dict):
            filled[key] = _with_defaults(filled[key], default)
    return filled


def stored_report(report_path: Path, config_json: dict, restart: bool) -> dict | None:
    """The pair's stored report when it was made with ``config_json`` (the pair is then skipped);
    None when there is none, or ``restart`` asks to train the pair again. A report of another
    configuration (another budget, seed or row limit) raises ``FileExistsError``: training
    would replace a result someone may have recorded."""
    from fer.training.config import TrainConfig

    if restart or not report_path.is_file():
        return None
    try:
        previous = json.loads(report_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(
            f"{report_path} cannot be read ({error}); pass --restart to train this pair again"
        ) from None
    if not isinstance(previous, dict):
        raise ValueError(f"{report_path} is not a pair's report; pass --restart to train "
                         "this pair again")
    saved = previous.get("config")
    saved = _with_defaults(saved if isinstance(saved, dict) else {},
                           _json_ready(dataclasses.asdict(TrainConfig())))
    if saved != config_json:
        changed = sorted(key for key in config_json if saved.get(key) != config_json[key])
        raise FileExistsError(
            f"{report_path} holds this pair's result with other settings "
            f"({', '.join(changed) or 'config'}); choose another --output-dir, or pass "
            "--restart to replace it"
        )
    return previous


def _predict_keras(path: Path, images: np.ndarray) -> np.ndarray:
    import keras

    import fer.data.preprocess  # noqa: F401  registers the custom layers for deserialisation

    model = keras.models.load_model(path, compile=False)
    batch = images[..., None].astype(np.float32)
    return np.asarray(model.predict(batch, batch_size=256, verbose=0), dtype=np.float32)


def run_one(
    architecture: str,
    strategy: str,
    epochs: int,
    fer2013: FaceDataset,
    runs_dir: Path,
    output_dir: Path,
    train_limit: int = 0,
    seed: int = 0,
    restart: bool = False,
    shipped_epochs: int | None = None,
) -> dict:
    """Train, select on PublicTest, score on PrivateTest and save one pair's report."""
    from fer.training.loop import train

    config = comparison_config(architecture, strategy, epochs, train_limit, seed)
    name = run_name(architecture, strategy)
    report_path = Path(output_dir) / f"{name}.json"
    config_json = _json_ready(dataclasses.asdict(config))
    previous = stored_report(report_path, config_json, restart)
    if previous is not None:
        if "note" in previous:
            # The shipped models' budget may have grown since this pair ran.
            shipped = shipped_epochs if shipped_epochs is not None else shipped_epoch_budget()
            note = budget_note(epochs, shipped, train_limit)
            if previous["note"] != note:
                previous["note"] = note
                report_path.write_text(json.dumps(previous, indent=1))
        return previous
    run_dir = Path(runs_dir) / name
    _prepare_run_dir(run_dir, config, restart)
    started = time.perf_counter()
    state = train(config, fer2013, None, run_dir, resume=True)
    best = state.best[LABEL_SET]
    test = fer2013.split(TEST_SPLIT)
    probabilities = _predict_keras(run_dir / f"best_{LABEL_SET}.keras", test.images)
    report = classification_report(probabilities, test.labels, fer2013.class_names)
    shipped = shipped_epochs if shipped_epochs is not None else shipped_epoch_budget()
    report.update(
        {
            "model": f"compare/{name}",
            "architecture": architecture,
            "imbalance": strategy,
            "dataset": fer2013.source,
            "data_checksum": fer2013.checksum,
            "split": TEST_SPLIT,
            "tta": False,
            "backend": "keras",
            "selection": f"epoch with the best {SELECTION_SPLIT} accuracy",
            "selected_epoch": int(best["epoch"]),
            "selection_accuracy": float(best["val_accuracy"]),
            "epochs": epochs,
            "epochs_run": int(state.epochs_done),
            "per_class_f1": {
                class_name: scores["f1"] for class_name, scores in report["per_class"].items()
            },
            "train_wall_time_s": round(state.wall_time_s, 1),
            "wall_time_s": round(time.perf_counter() - started, 1),
            "train_limit": train_limit,
            "seed": seed,
            "config": config_json,
            "run_dir": str(run_dir),
            "note": budget_note(epochs, shipped, train_limit),
        }
    )
    Path(output_dir).mkdir(parents=True, exist_ok=True)
    partial = report_path.with_suffix(".partial")
    partial.write_text(json.dumps(report, indent=1))
    partial.replace(report_path)
    return report


def summary_table(reports: Sequence[dict]) -> pd.DataFrame:
    """One row per pair: architecture, imbalance, epochs, accuracy, macro-F1, per-class F1,
    wall time; best macro-F1 first."""
    rows = []
    for report in reports:
        row = {
            "architecture": report["architecture"],
            "imbalance": report["imbalance"],
            "epochs": report["epochs"],
            "selected_epoch": report["selected_epoch"],
            "accuracy": report["accuracy"],
            "macro_f1": report["macro_f1"],
        }
        row.update({f"f1_{name}": value for name, value in report["per_class_f1"].items()})
        row["wall_time_min"] = round(report["wall_time_s"] / 60, 1)
        rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    return table.sort_values(["macro_f1", "accuracy"], ascending=False, ignore_index=True)


def markdown_table(table: pd.DataFrame, digits: int = 3) -> str:
    """A GitHub-flavoured markdown table (floats rounded to ``digits``)."""

    def cell(value) -> str:
        if isinstance(value, float | np.floating):
            return f"{value:.{digits}f}"
        return str(value)

    header = "| " + " | ".join(map(str, table.columns)) + " |"
    rule = "|" + "|".join("---" for _ in table.columns) + "|"
    body = [
        "| " + " | ".join(cell(value) for value in row) + " |" for row in table.itertuples(False)
    ]
    return "\n".join([header, rule, *body])


def write_summary(reports: Sequence[dict], output_dir: Path) -> pd.DataFrame:
    """``summary.csv`` and ``summary.md`` (with the budget note) in ``output_dir``."""
    table = summary_table(reports)
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    table.to_csv(output_dir / "summary.csv", index=False)
    notes = sorted({report["note"] for report in reports})
    text = "# Strategy comparison on FER2013 PrivateTest\n\n" + markdown_table(table) + "\n\n"
    text += "\n".join(f"> {note}" for note in notes) + "\n"
    commands = sorted(
        {
            reproduce_command(
                report["epochs"], report.get("train_limit", 0), report.get("seed", 0)
            )
            for report in reports
        }
    )
    text += "\nReproduce: " + "; ".join(f"`{command}`" for command in commands) + "\n"
    settings = sorted(
        {
            (
                f"{config['optimizer']} at learning rate {config['learning_rate']:g}, batch "
                f"{config['batch_size']}, cosine schedule, label smoothing "
                f"{config['label_smoothing']:g}, augmentation as in training; model selection on "
                "PublicTest, PrivateTest scored once"
            )
            for config in (report.get("config") for report in reports)
            if config
        }
    )
    if settings:
        text += "\nEvery pair: " + "; ".join(settings) + ".\n"
    (output_dir / "summary.md").write_text(text)
    return table


def run_comparison(
    epochs: int,
    fer2013: FaceDataset,
    runs_dir: Path = DEFAULT_RUNS_DIR,
    output_dir: Path = DEFAULT_OUTPUT_DIR,
    architectures: Sequence[str] = ARCHITECTURES,
    strategies: Sequence[str] = STRATEGIES,
    train_limit: int = 0,
    seed: int = 0,
    restart: bool = False,
    log: Callable[[str], None] = print,
) -> pd.DataFrame:
    """Every architecture × strategy pair, then the summary; returns the summary table."""
    if epochs < 1:
        raise ValueError(f"epochs must be positive, got {epochs}")
    if not architectures or not strategies:
        # A summary of no pairs would replace the stored one with an empty table.
        raise ValueError("the comparison needs at least one architecture and one strategy")
    for folder in (Path(runs_dir), Path(output_dir)):
        if folder.exists() and not folder.is_dir():
            raise ValueError(f"{folder} is a file, not a folder for the comparison")
    from fer.models.zoo import zoo_entry

    for architecture in architectures:
        zoo_entry(architecture)
    shipped = shipped_epoch_budget()
    pairs = [(a, s) for a in architectures for s in strategies]
    for architecture, strategy in pairs:  # before any training: refuse all or none
        config = comparison_config(architecture, strategy, epochs, train_limit, seed)
        stored_report(
            Path(output_dir) / f"{run_name(architecture, strategy)}.json",
            _json_ready(dataclasses.asdict(config)), restart,
        )
    from tqdm.auto import tqdm

    reports = []
    for architecture, strategy in tqdm(pairs, desc="comparison", unit="pair"):
        name = run_name(architecture, strategy)
        log(f"== {name}: {epochs} epoch(s)")
        report = run_one(
            architecture,
            strategy,
            epochs,
            fer2013,
            runs_dir,
            output_dir,
            train_limit=train_limit,
            seed=seed,
            restart=restart,
            shipped_epochs=shipped,
        )
        log(
            f"   {name}: PrivateTest accuracy {report['accuracy']:.4f} "
            f"macro-F1 {report['macro_f1']:.4f} ({report['wall_time_s'] / 60:.1f} min)"
        )
        reports.append(report)
    # The summary is the folder's: pairs run earlier (other architectures or strategies) stay in
    # it rather than being dropped by a run of a few pairs.
    ran = {run_name(report["architecture"], report["imbalance"]) for report in reports}
    for path in sorted(Path(output_dir).glob("*.json")):
        if path.stem in ran:
            continue
        try:
            earlier = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue  # not a report this command wrote; --restart of its pair replaces it
        if isinstance(earlier, dict) and "architecture" in earlier:
            reports.append(earlier)
    return write_summary(reports, output_dir)
