"""Which of a model's classes its readings cannot be trusted for, and why, in a clinician's words.

The rule (stated once, here): a class is **unreliable** when, in the robustness suite's ``clean``
condition (test faces re-detected and re-aligned as the pipeline sees them), the lower end of the
95 % interval of its recall is below :data:`RELIABLE_RECALL`: the suite cannot show that the model
recognises at least half of such faces. Where the suite recorded no interval (results from before
intervals were stored), the recall itself is compared. A class with no test faces in the suite is
unreliable too (nothing was measured). Pure dictionaries in, no model or image library needed.
"""

from __future__ import annotations

import json
from pathlib import Path

RELIABLE_RECALL = 0.5
RELIABILITY_CONDITION = "clean"
EVALUATION_FILE = "evaluation.json"
# The suite's video-call conditions as a reason names them (fer.evaluation.robustness).
CONDITION_WORDS = {
    "low_resolution": "at low resolution",
    "h264": "through H.264 compression",
    "vp8": "through VP8 compression",
    "motion_blur": "with motion blur",
    "underexposed": "underexposed",
    "overexposed": "overexposed",
    "noise": "with sensor noise",
    "occluded": "with a hand over a mouth corner",
    "head_tilted": "with the head tilted",
}


def _suite_scores(evaluation: dict) -> tuple[str, dict] | None:
    """The split and the clean condition's scores of the robustness suite (PrivateTest first)."""
    runs = evaluation.get("robustness") or {}
    for split in ("PrivateTest", *sorted(runs)):
        scores = (runs.get(split) or {}).get("conditions", {}).get(RELIABILITY_CONDITION)
        if scores:
            return split, scores
    return None


def _worst_condition(evaluation: dict, split: str, name: str) -> tuple[str, float] | None:
    conditions = evaluation["robustness"][split]["conditions"]
    recalls = {
        condition: scores["recall"][name] for condition, scores in conditions.items()
        if condition != RELIABILITY_CONDITION and scores.get("recall", {}).get(name) is not None
    }
    if not recalls:
        return None
    worst = min(recalls, key=recalls.__getitem__)
    return worst, recalls[worst]


def unreliable_classes(evaluation: dict) -> dict[str, str]:
    """``{class: one-line reason}`` for the classes the rule above calls unreliable.

    ``evaluation`` is a model's ``evaluation.json`` content. Empty when every class passes, and
    also when the suite was never run on the model (see :func:`reliability_note`).
    """
    found = _suite_scores(evaluation)
    if found is None:
        return {}
    split, scores = found
    reasons = {}
    for name, recall in scores.get("recall", {}).items():
        support = (scores.get("support") or {}).get(name)
        if recall is None or support == 0:
            reasons[name] = f"no {name} test faces in the robustness suite: not measured"
            continue
        interval = (scores.get("recall_95") or {}).get(name)
        low = interval[0] if interval else recall
        if low >= RELIABLE_RECALL:
            continue
        faces = f"{support} " if support else ""
        span = f" (95 % interval {interval[0]:.0%}-{interval[1]:.0%})" if interval else ""
        reason = f"recognised {recall:.0%} of the {faces}{name} test faces{span}"
        worst = _worst_condition(evaluation, split, name)
        if worst is not None:
            condition = CONDITION_WORDS.get(worst[0], worst[0].replace("_", " "))
            reason += f"; {worst[1]:.0%} {condition}"
        reasons[name] = reason
    return reasons


def reliability_note(evaluation: dict) -> str:
    """One sentence for a page or report: which classes are unreliable, or that none is, or
    that the suite was never run."""
    if _suite_scores(evaluation) is None:
        return "Per-class reliability was not measured (the robustness suite was not run)."
    unreliable = unreliable_classes(evaluation)
    if not unreliable:
        return (
            "Every expression was recognised in at least half of the test faces the robustness "
            "suite showed the model."
        )
    names = ", ".join(unreliable)
    return (
        f"Read with caution: {names}. The model recognised fewer than half of such test faces, "
        "or too few were tested to show it does."
    )


def model_reliability(model_dir: Path) -> dict[str, str]:
    """:func:`unreliable_classes` of the model in ``model_dir`` (empty without its
    ``evaluation.json``)."""
    path = Path(model_dir) / EVALUATION_FILE
    if not path.is_file():
        return {}
    return unreliable_classes(json.loads(path.read_text()))
