"""``MODEL_CARD.md``: a model card for people, made from ``card.json`` and ``evaluation.json``.

Every figure comes from those two files, so the card cannot drift from the record: intended and
out-of-scope use, input and output, data, training and lineage, metrics per split and per class,
calibration, latency, failure modes seen in the evaluation, limitations, how to reproduce, and
the model files' checksums. ``fer publish NAME --model-card`` rewrites it; publishing, ``fer
evaluate`` and every command that changes the card do so too. Pure text: no model is loaded.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from fer.evaluation.card_figures import (
    REPORTED_SPLIT,
    calibration_section,
    failure_modes_section,
    latency_section,
    metrics_section,
    percent,
)
from fer.evaluation.card_sections import (
    logit_adjustment_section,
    reliability_section,
    uncertainty_section,
)
from fer.evaluation.evaluation_file import (
    SPLIT_ORDER,
    find_report,
    read_evaluation,
    served_backend,
)
from fer.evaluation.robustness_table import comparison_section, robustness_section
from fer.files import write_text_atomically
from fer.models.cards import KERAS_FILE, SOUP_HEAD_BLENDED, TFLITE_FILE, read_card

MODEL_CARD_FILE = "MODEL_CARD.md"
MODEL_FILES = (KERAS_FILE, TFLITE_FILE)
PIPELINE_VIEWS = "mirror+zoom"
DATASET_CHECKSUMS = {"fer2013_md5": "MD5 of fer2013.csv"}


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def _flatten(config: dict, prefix: str = "") -> list[tuple[str, object]]:
    items = []
    for key, value in config.items():
        if isinstance(value, dict):
            items += _flatten(value, f"{prefix}{key}.")
        else:
            items.append((f"{prefix}{key}", value))
    return items


def _headline(card: dict) -> list[str]:
    classes = card.get("classes", [])
    backend = served_backend(card)
    served = (
        f"served as `model_int8.tflite` ({card.get('quantization', 'int8')}) with `model.keras` "
        "as its reference"
        if backend == "tflite"
        else "served as `model.keras`"
    )
    parameters = card.get("parameters")
    size = f", {parameters:,} parameters" if parameters else ""
    return [
        f"# Model card: {card['name']}",
        "",
        f"<!-- Generated from card.json and evaluation.json by `fer publish {card['name']} "
        "--model-card`; edit those, not this file. -->",
        "",
        f"`{card['name']}` estimates which of {len(classes)} facial-expression labels "
        f"annotators would give a face. Architecture `{card.get('architecture', '?')}`{size}; "
        f"{served}.",
    ]


def _use(card: dict) -> list[str]:
    lines = ["", "## Intended use", "", card.get("intended_use", "Not stated.")]
    out_of_scope = card.get("out_of_scope_use", [])
    if out_of_scope:
        lines += ["", "## Out-of-scope use", ""] + [f"- {item}" for item in out_of_scope]
    return lines


def _input_output(card: dict) -> list[str]:
    spec = card.get("input", {})
    lines = ["", "## Input and output", ""]
    if spec:
        lines.append(f"- Input: {spec.get('input', spec)}.")
        if "inside_model" in spec:
            lines.append(f"- Inside the model: {spec['inside_model']}.")
        if "face_crop" in spec:
            lines.append(f"- Face crop: {spec['face_crop']}.")
    classes = ", ".join(f"`{name}`" for name in card.get("classes", []))
    lines.append(
        f"- Output: one probability per class, in this order (the output-column contract): "
        f"{classes}."
    )
    return lines


def _data(card: dict, evaluation: dict) -> list[str]:
    training = card.get("training", {})
    lines = ["", "## Data", "", f"- Label set: `{card.get('label_set', '?')}`."]
    if "protocol" in training:
        lines.append(f"- Protocol: {training['protocol']}.")
    for name, checksum in training.get("datasets", {}).items():
        lines.append(f"- {DATASET_CHECKSUMS.get(name, name)}: `{checksum}`.")
    if "data_checksum" in training:
        lines.append(f"- Checksum of the data as loaded: `{training['data_checksum']}`.")
    reports = [
        find_report(evaluation, split, backend=served_backend(card)) for split in SPLIT_ORDER
    ]
    sizes = [f"{report['split']} {report['n_samples']:,}" for report in reports if report]
    if sizes:
        lines.append(f"- Faces per split: {' · '.join(sizes)}.")
    return lines


def _training(card: dict) -> list[str]:
    training = card.get("training", {})
    if not training:
        return []
    lines = ["", "## Training", ""]
    for key, label in (("command", "Command"), ("git_commit", "Git commit")):
        if key in training:
            lines.append(f"- {label}: `{training[key]}`.")
    if "seed" in training:
        lines.append(f"- Seed: {training['seed']}.")
    if "wall_time_s" in training:
        machine = f" on {training['machine']}" if "machine" in training else ""
        lines.append(
            f"- Wall time: {_duration(training['wall_time_s'])} in all (every stage and the "
            f"choice of weights){machine}."
        )
    if "selected_publictest_accuracy" in training:
        lines.append(
            "- Chosen on PublicTest accuracy "
            f"({percent(training['selected_publictest_accuracy'])}); PrivateTest was not looked "
            "at."
        )
    if "batch_norm_statistics" in training:
        lines.append(f"- Batch-norm statistics: {training['batch_norm_statistics']}.")
    config = training.get("config")
    if config:
        settings = ", ".join(f"`{key}={value}`" for key, value in _flatten(config))
        lines.append(f"- Configuration of the last training run: {settings}.")
    stages = training.get("stages", [])
    if stages:
        lines += ["", "Lineage, oldest stage first:", ""]
        lines += ["| stage | command | epochs | wall time |", "|---|---|---|---|"]
        for number, stage in enumerate(stages, 1):
            # A resumed run's commands, in the order they ran.
            commands = [stage.get("command", "?"), *stage.get("resumed_with", [])]
            lines.append(
                f"| {number} | {' then '.join(f'`{command}`' for command in commands)} "
                f"| {stage.get('epochs', '?')} | {_duration(stage.get('wall_time_s', 0))} |"
            )
    soup = training.get("soup")
    if soup:
        head = ("(backbone and head)" if soup["head_from"] == SOUP_HEAD_BLENDED
                else f"(backbone), head from `{soup['head_from']}`")
        lines += [
            "",
            f"The weights are a soup: {soup['share_of_first']} × `{soup['ingredients'][0]}` + "
            f"{1 - soup['share_of_first']} × `{soup['ingredients'][1]}` {head}, share chosen "
            f"on {soup['selected_on']}.",
        ]
    return lines


def _reproduce(card: dict) -> list[str]:
    name = card["name"]
    commands = {
        f"fer evaluate {name} --split {REPORTED_SPLIT} --tta {PIPELINE_VIEWS}": (
            "one report into evaluation.json"
        ),
        f"fer bench {name} --record": "latency into card.json",
        f"fer publish {name} --model-card": "this file, from card.json and evaluation.json",
    }
    width = max(map(len, commands))
    lines = ["", "## How to reproduce", "", "With the datasets in `$FER_DATA_DIR`:", "", "```"]
    lines += [f"{command:<{width}}  # {why}" for command, why in commands.items()]
    lines.append("```")
    training = card.get("training", {})
    if training.get("stages") or training.get("command"):
        lines += [
            "",
            "The weights come from the training commands above, run in order at git commit "
            f"`{training.get('git_commit', 'unknown')}` (module paths as they were then).",
        ]
    return lines


def _files(model_dir: Path) -> list[str]:
    present = [name for name in MODEL_FILES if (model_dir / name).is_file()]
    if not present:
        return []
    lines = ["", "## Files", "", "| file | bytes | SHA-256 |", "|---|---|---|"]
    for name in present:
        data = (model_dir / name).read_bytes()
        lines.append(f"| `{name}` | {len(data):,} | `{hashlib.sha256(data).hexdigest()}` |")
    return lines


def render_model_card(card: dict, evaluation: dict, model_dir: Path | None = None) -> str:
    """The Markdown of ``MODEL_CARD.md`` for a card and its evaluation (and its files' checksums
    when ``model_dir`` is given)."""
    lines = [
        *_headline(card),
        *_use(card),
        *_input_output(card),
        *_data(card, evaluation),
        *_training(card),
        *metrics_section(card, evaluation),
        *calibration_section(card, evaluation),
        *logit_adjustment_section(card),
        *uncertainty_section(card),
        *latency_section(card),
        *robustness_section(evaluation),
        *reliability_section(evaluation),
        *comparison_section(evaluation),
        *failure_modes_section(card, evaluation),
        *_reproduce(card),
        *(_files(Path(model_dir)) if model_dir is not None else []),
    ]
    return "\n".join(lines) + "\n"


def model_card_text(model_dir: Path, card: dict | None = None) -> str:
    """What ``MODEL_CARD.md`` of ``model_dir`` should hold now, or with ``card`` in place of its
    ``card.json`` (a card about to be written: built before it is, so that a damaged
    evaluation file stops the write instead of leaving a new card beside an old text)."""
    model_dir = Path(model_dir)
    if card is None:
        card = read_card(model_dir)
    return render_model_card(card, read_evaluation(model_dir), model_dir)


def write_model_card(model_dir: Path) -> Path:
    """Regenerate ``model_dir/MODEL_CARD.md``; returns its path."""
    path = Path(model_dir) / MODEL_CARD_FILE
    write_text_atomically(path, model_card_text(model_dir))
    return path
