"""MODEL_CARD.md's sections of measured figures: metrics per split and per class, calibration,
latency, and the failure modes the evaluation shows; text only, from card.json and
evaluation.json (:mod:`fer.evaluation.model_card` puts the card together)."""

from __future__ import annotations

from fer.evaluation.evaluation_file import (
    SPLIT_ORDER,
    VIEWS_ORDER,
    find_report,
    served_backend,
    served_report,
    views_key,
)

REPORTED_SPLIT = "PrivateTest"
VIEW_NAMES = {"none": "one pass", "mirror": "mirror pair", "mirror+zoom": "mirror+zoom"}
BACKEND_NAMES = {"tflite": "int8 TFLite", "keras": "Keras"}
N_FAILURES = 3


def percent(value: float) -> str:
    """``0.6838`` as ``"68.38 %"``."""
    return f"{value * 100:.2f} %"


def metrics_section(card: dict, evaluation: dict) -> list[str]:
    """Accuracy, macro-F1 and ECE per split and view set of the served form (and the Keras
    reference's accuracy beside an int8 one), then per-class scores."""
    backend = served_backend(card)
    lines = [
        "",
        "## Metrics",
        "",
        f"Served form: {BACKEND_NAMES[backend]}. Views: one pass; the mirror pair (the face and "
        "its mirror image, averaged); mirror+zoom (three zooms and their mirrors, averaged), what "
        "the frame pipeline serves. ECE is the expected calibration error.",
        "",
    ]
    header = "| split | views | faces | accuracy | macro-F1 | ECE |"
    rule = "|---|---|---|---|---|---|"
    if backend == "tflite":
        header += " Keras accuracy |"
        rule += "---|"
    rows = []
    for split in SPLIT_ORDER:
        for views in VIEWS_ORDER:
            report = find_report(evaluation, split, views, backend)
            if report is None:
                continue
            row = (
                f"| {split} | {VIEW_NAMES[views]} | {report['n_samples']:,} "
                f"| {percent(report['accuracy'])} | {report['macro_f1']:.3f} "
                f"| {report['ece']:.3f} |"
            )
            if backend == "tflite":
                keras = find_report(evaluation, split, views, "keras")
                row += f" {percent(keras['accuracy']) if keras else '–'} |"
            rows.append(row)
    if not rows:
        return lines[:3] + ["Not evaluated yet: run `fer evaluate " + card["name"] + "`."]
    return lines + [header, rule, *rows] + _per_class(card, evaluation)


def _per_class(card: dict, evaluation: dict) -> list[str]:
    main = served_report(card, evaluation)
    if main is None:
        return []
    others = [
        report
        for split in SPLIT_ORDER
        if split != REPORTED_SPLIT and (report := served_report(card, evaluation, split))
    ]
    header = "| class | faces | precision | recall | F1 |" + "".join(
        f" F1 {report['split']} ({VIEW_NAMES[views_key(report['tta'])]}) |" for report in others
    )
    lines = [
        "",
        f"Per class, served form, {REPORTED_SPLIT} with {VIEW_NAMES[views_key(main['tta'])]} "
        "views, and F1 on the other splits:",
        "",
        header,
        "|---" * (5 + len(others)) + "|",
    ]
    for name in main["classes"]:
        scores = main["per_class"][name]
        lines.append(
            f"| {name} | {int(scores['support']):,} | {scores['precision']:.3f} "
            f"| {scores['recall']:.3f} | {scores['f1']:.3f} |"
            + "".join(f" {report['per_class'][name]['f1']:.3f} |" for report in others)
        )
    return lines


def calibration_section(card: dict, evaluation: dict) -> list[str]:
    """The fitted temperatures and what they did to the expected calibration error."""
    calibration = card.get("calibration")
    lines = ["", "## Calibration", ""]
    if not calibration or calibration.get("fitted_on") is None:
        note = f" ({calibration['note']})" if calibration and "note" in calibration else ""
        return lines + [f"No temperature was fitted{note}: the probabilities are as trained."]
    lines.append(
        f"Logits are divided by a temperature of {calibration['temperature']:.4g}, fitted on "
        f"{calibration['fitted_on']}."
    )
    if "method" in calibration:
        lines.append(f"Method: {calibration['method']}.")
    split = calibration["fitted_on"].split()[0]
    before_after = calibration.get(f"{split}_before_after")
    if before_after:
        lines.append(
            f"On {split} the ECE went from {before_after['ece_before']:.3f} to "
            f"{before_after['ece_after']:.3f}."
        )
    temperatures = calibration.get("output_temperatures")
    if temperatures:
        listed = ", ".join(
            f"{VIEW_NAMES.get(views, views)} {value:.4g}" for views, value in temperatures.items()
        )
        lines.append(f"Other view sets' outputs are rescaled by their own temperatures: {listed}.")
    eces = [
        f"{VIEW_NAMES[views]} {report['ece']:.3f}"
        for views in VIEWS_ORDER
        if (report := find_report(evaluation, REPORTED_SPLIT, views, served_backend(card)))
    ]
    if eces:
        lines.append(f"{REPORTED_SPLIT} ECE of the served form: {', '.join(eces)}.")
    return lines


def latency_section(card: dict) -> list[str]:
    """Milliseconds per face recorded by ``fer bench --record``, per machine."""
    benchmark = card.get("benchmark", {})
    if not benchmark:
        return []
    lines = [
        "",
        "## Latency",
        "",
        f"Median milliseconds per face, from `fer bench {card['name']} --record` (the CPU class "
        "matters more than anything else):",
        "",
        "| machine | batch threads | one face | one face, p95 | per face in batches of 64 |",
        "|---|---|---|---|---|",
    ]
    for entry in benchmark.values():
        lines.append(
            f"| {entry.get('machine', '?')} | {entry.get('batch_threads', '?')} "
            f"| {entry.get('single_face_ms_median', float('nan')):.3f} "
            f"| {entry.get('single_face_ms_p95', float('nan')):.3f} "
            f"| {entry.get('batched_64_ms_per_face_median', float('nan')):.3f} |"
        )
    return lines


def failure_modes_section(card: dict, evaluation: dict) -> list[str]:
    """The weakest classes and most frequent confusions, then the card's limitations."""
    lines = ["", "## Known failure modes and limitations", ""]
    main = served_report(card, evaluation)
    if main is not None:
        classes, matrix = main["classes"], main["confusion_matrix"]
        recalls = sorted(classes, key=lambda name: main["per_class"][name]["recall"])
        weakest = ", ".join(
            f"{name} {percent(main['per_class'][name]['recall'])} of "
            f"{int(main['per_class'][name]['support']):,} faces"
            for name in recalls[:N_FAILURES]
        )
        lines.append(f"- Lowest recall on {REPORTED_SPLIT}: {weakest}.")
        confusions = sorted(
            (
                (count, classes[true], classes[predicted], count / sum(matrix[true]))
                for true in range(len(classes))
                for predicted, count in enumerate(matrix[true])
                if predicted != true and count
            ),
            reverse=True,
        )
        listed = ", ".join(
            f"{true} read as {predicted} ({count:,} faces, {percent(share)} of {true})"
            for count, true, predicted, share in confusions[:N_FAILURES]
        )
        if listed:
            lines.append(f"- Most frequent confusions on {REPORTED_SPLIT}: {listed}.")
    lines += [f"- {item}" for item in card.get("limitations", [])]
    return lines
