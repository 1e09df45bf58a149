"""MODEL_CARD.md's sections on what was fitted after training (logit adjustment, per-class
"uncertain" thresholds) and on which classes are unreliable; text only, from card.json and
evaluation.json."""

from __future__ import annotations

from fer.models.reliability import RELIABLE_RECALL, unreliable_classes

PIPELINE_VIEWS = "mirror+zoom"  # fer.models.inference.PIPELINE_TTA, without importing it


def logit_adjustment_section(card: dict) -> list[str]:
    """How the logit biases were chosen, and the PublicTest curve they were chosen on."""
    adjustment = card.get("logit_adjustment")
    if not adjustment:
        return []
    biases = ", ".join(
        f"{name} {bias:+.2f}" for name, bias in zip(card["classes"], adjustment["biases"],
                                                   strict=True)
    )
    lines = [
        "",
        "## Logit adjustment",
        "",
        f"A copy of `{card.get('derived_from', '?')}` with per-class biases added to its logits "
        f"to counter the pull of frequent classes: {adjustment['method']}. tau = "
        f"{adjustment['tau']:g} was chosen on {adjustment['fitted_on']}. Biases: {biases}.",
        "",
        "| tau | " + " | ".join(
            f"{_views_name(views)} accuracy | macro-recall" for views in _curve_views(adjustment)
        ) + " |",
        "|---|" + "---|---|" * len(_curve_views(adjustment)),
    ]
    for point in adjustment["curve"]:
        cells = [
            f"{point[views]['accuracy']:.2%} | {point[views]['macro_recall']:.3f}"
            for views in _curve_views(adjustment)
        ]
        marker = " (chosen)" if point["tau"] == adjustment["tau"] else ""
        lines.append(f"| {point['tau']:g}{marker} | " + " | ".join(cells) + " |")
    lines += ["", f"Made by `{adjustment['command']}`."]
    return lines


def _views_name(views: str) -> str:
    return "one pass" if views == "none" else views


def _curve_views(adjustment: dict) -> list[str]:
    first = adjustment["curve"][0]
    return [key for key, value in first.items() if isinstance(value, dict)]


def uncertainty_section(card: dict) -> list[str]:
    """The per-class thresholds under which the Live label reads "uncertain"."""
    uncertainty = card.get("uncertainty")
    if not uncertainty:
        return []
    details = uncertainty["details"].get(PIPELINE_VIEWS) or next(
        iter(uncertainty["details"].values())
    )
    lines = [
        "",
        "## When the label reads \"uncertain\"",
        "",
        f"Rule: {uncertainty['rule']}. Fitted on {uncertainty['fitted_on']}; the frame "
        f"pipeline's {PIPELINE_VIEWS} views shown here (every view set is in card.json).",
        "",
        "| class | threshold | read as the class | kept above it | their precision |",
        "|---|---|---|---|---|",
    ]
    for name, record in details.items():
        threshold = "single threshold" if record["threshold"] is None else (
            f"{record['threshold']:.2f}"
        )
        precision = record.get("precision_kept")
        lines.append(
            f"| {name} | {threshold} | {record['n_predicted']} | {record.get('n_kept', '-')} | "
            f"{'-' if precision is None else f'{precision:.2f}'} |"
        )
    lines += ["", f"Made by `{uncertainty['command']}`."]
    return lines


def reliability_section(evaluation: dict) -> list[str]:
    """The classes :func:`fer.models.reliability.unreliable_classes` flags, with reasons."""
    if not evaluation.get("robustness"):
        return []
    unreliable = unreliable_classes(evaluation)
    lines = [
        "",
        "## Unreliable classes",
        "",
        "Rule (fer.models.reliability): a class is unreliable when the lower end of the 95 % "
        "interval of its recall on the robustness suite's clean re-aligned faces is below "
        f"{RELIABLE_RECALL:.0%}. Pages and session reports say so next to its figures.",
        "",
    ]
    if not unreliable:
        return [*lines, "No class is unreliable by this rule."]
    return lines + [f"- **{name}**: {reason}." for name, reason in unreliable.items()]
