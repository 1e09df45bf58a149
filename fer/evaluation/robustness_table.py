"""The robustness suite's results as Markdown, for the command line and MODEL_CARD.md (kept apart
from :mod:`fer.evaluation.robustness` so that reading results needs no image libraries)."""

from __future__ import annotations


def suite_table(results: dict[str, dict]) -> str:
    """One model's suite results as a Markdown table, one row per condition."""
    lines = [
        "| condition | faces found | accuracy (95 %) | macro-recall (95 %) | lowest recall |",
        "|---|---|---|---|---|",
    ]
    for condition, scores in results.items():
        recalls = {name: value for name, value in scores["recall"].items() if value is not None}
        weakest = min(recalls, key=recalls.__getitem__)
        low, high = scores["accuracy_95"]
        recall_low, recall_high = scores["macro_recall_95"]
        lines.append(
            f"| {condition.replace('_', ' ')} | {scores['detection_rate']:.1%} | "
            f"{scores['accuracy']:.1%} ({low:.1%}-{high:.1%}) | {scores['macro_recall']:.3f} "
            f"({recall_low:.3f}-{recall_high:.3f}) | {weakest} {recalls[weakest]:.2f} |"
        )
    return "\n".join(lines)


def robustness_section(evaluation: dict) -> list[str]:
    """MODEL_CARD.md's robustness section: one table per split the suite was run on."""
    lines: list[str] = []
    for split, run in evaluation.get("robustness", {}).items():
        lines += ["", f"## Robustness: {split} faces re-detected, clean and degraded", ""]
        lines += [suite_table(run["conditions"]), "", f"Made by `{run['command']}`."]
    return lines


def comparison_section(evaluation: dict) -> list[str]:
    """MODEL_CARD.md's section on how this model compared with others on the same faces."""
    comparison = evaluation.get("robustness_comparison")
    if not comparison:
        return []
    means = comparison["mean_macro_recall"]
    ranked = sorted(means, key=means.__getitem__, reverse=True)
    listed = ", ".join(f"`{name}` {means[name]:.3f}" for name in ranked)
    return [
        "",
        "## Compared with other models on the same faces",
        "",
        f"On {comparison['split']} faces under every robustness condition, scored on the classes "
        f"the models share, the mean macro-recall was: {listed}. This is the criterion that "
        "chooses the Live page's default model among the shipped models, each of which must "
        f"train within the two-hour budget (the highest wins): `{ranked[0]}`, because "
        "it recognises the rarer expressions more evenly under video-call conditions, which "
        "accuracy alone, dominated by neutral and happy faces, does not show.",
        "",
        f"Made by `{comparison['command']}`.",
    ]
