"""What a session report says, gathered once and shared by every format.

The report names the model, its card's accuracy and limits, and the consent record, and shows
the session's insights (:mod:`fer.sessions.insights`), which are descriptive, not diagnostic.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from fer.evaluation.evaluation_file import find_report, read_evaluation, served_backend
from fer.models.cards import recorded_views
from fer.models.reliability import reliability_note, unreliable_classes
from fer.realtime.tracking import face_name
from fer.sessions.insights import client_face, session_insights
from fer.sessions.replay import DEFAULT_MAX_GAP_S

DISCLAIMER = (
    "This report describes what facial-expression software read from the client's face during "
    "a consented session. It supports the clinician's attention and judgement; it is not a "
    "diagnosis, and a facial expression is not the same as a felt emotion."
)

# What the reports call a face's n_transitions (fer.sessions.replay.transitions).
CHANGES_LABEL = "Changes between expressions (uncertain stretches skipped)"


@dataclass(frozen=True)
class ModelSummary:
    """The model a session used, as its card and evaluation describe it."""

    name: str
    classes: tuple[str, ...]
    test_accuracy: float | None  # served backend, PrivateTest, with ``test_views``
    test_macro_f1: float | None
    test_split: str
    intended_use: str
    limitations: tuple[str, ...]
    # class -> why its readings are unreliable (fer.models.reliability); empty if none is
    unreliable: dict[str, str] = field(default_factory=dict)
    reliability: str = "Per-class reliability was not measured (the model's card is missing)."
    # The test-time views the session's predictions averaged, and those the figures above were
    # measured with: the same, or "none" when the session's were not measured.
    session_views: str = "none"
    test_views: str = "none"


@dataclass(frozen=True)
class ReportContent:
    """Everything a report shows; built by :func:`report_content`."""

    session_id: int
    client: str  # the pseudonymous client code, or the consent's pseudonym
    started_at: datetime
    ended_at: datetime | None
    source: str
    consent: dict[str, Any]
    model: ModelSummary
    frames: pd.DataFrame
    markers: pd.DataFrame
    insights: dict[str, Any]
    # The session database's own id (fer.storage.installation): consent numbers and client codes
    # are unique within one database only, so what the report sends elsewhere is named with it.
    installation_id: uuid.UUID
    notes: str = ""
    client_code: str | None = None  # None: the client is known by the consent record only
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def max_gap_s(self) -> float:
        """The longest pause between a face's readings still counted as time seen (the
        insights' setting): the charts break their lines at longer ones."""
        return float(self.insights.get("settings", {}).get("max_gap_s", DEFAULT_MAX_GAP_S))


def report_time(moment: datetime) -> str:
    """A time as every form of the report gives it: in the local time zone of the machine that
    writes the report (the process's ``TZ``), to the second, with its UTC offset, so that the
    session's, the consent's and the report's own times read on one clock."""
    if moment.tzinfo is None:
        raise ValueError(f"a report's times must carry a time zone, got {moment}")
    return moment.astimezone().isoformat(timespec="seconds")


def accuracy_text(model: ModelSummary) -> str:
    """The model's measured accuracy as a report states it."""
    if model.test_accuracy is None or model.test_macro_f1 is None:
        return "not available"
    text = (
        f"{model.test_accuracy:.1%} accuracy, macro-F1 {model.test_macro_f1:.3f} on "
        f"{model.test_split}"
    )
    if model.test_views != model.session_views:
        return (
            f"{text}, measured reading each face once: the {model.session_views} views this "
            "session used were not measured"
        )
    if model.test_views != "none":
        return f"{text}, measured with the {model.test_views} views this session used"
    return text


def reliability_text(model: ModelSummary, emotion: str) -> str:
    """What a report says beside an expression's figure: why it is unreliable, or nothing."""
    reason = model.unreliable.get(emotion)
    return f"unreliable: {reason}" if reason else ""


def share_percentages(shares: Mapping[str, float]) -> dict[str, int]:
    """Shares (0..1) as whole per cents that add up to the rounded total, for every page and
    report: each share rounded down, then the per cents left over go to the largest remainders
    (ties: the order given). Rounding each on its own shows two thirds of 67 frames as 34 %
    twice beside 33 %: 101 % of the time."""
    exact = {name: round(share * 100, 6) for name, share in shares.items()}  # 28.999…  -> 29
    percentages = {name: math.floor(value) for name, value in exact.items()}
    left_over = round(sum(exact.values())) - sum(percentages.values())
    by_remainder = sorted(exact, key=lambda name: exact[name] - percentages[name], reverse=True)
    for name in by_remainder[:left_over]:
        percentages[name] += 1
    return percentages


def lighting_text(face: dict[str, Any]) -> str:
    """The sentence a report and the replay page give about how bright the face was."""
    record = face.get("lighting")
    if record is None:
        return "Lighting: not measured for this recording."
    share, n = record["overexposed_share"], record["n_measured"]
    if record["n_overexposed"] == 0:
        return f"Lighting: the face was never too bright to read ({n} readings)."
    return (
        f"Lighting: the face was too bright to read reliably in {share:.0%} of {n} readings; "
        "the expressions read then are less reliable."
    )


def flat_affect_text(flat: dict[str, Any] | None) -> str:
    """The flat-affect finding of one face in words, for every page and report."""
    if flat is None:
        return "not available: no action units or valence were recorded for this face"
    if flat["indicated"] is None:
        return f"not assessed: {flat['not_assessed']}"
    verdict = "indicated" if flat["indicated"] else "not indicated"
    return f"{verdict} (rule: {flat['rule']})"


def model_summary(model_dir: Path | None, name: str, classes: tuple[str, ...]) -> ModelSummary:
    """The card's figures of the model a session recorded as ``name`` (its folder when it is
    installed here), measured with the test-time views the session's label names when they were
    measured, else reading each face once (and then the summary says so)."""
    views = recorded_views(name)
    if model_dir is None or not (model_dir / "card.json").is_file():
        return ModelSummary(name, classes, None, None, "PrivateTest",
                            "the model's card is not installed on this machine", (),
                            session_views=views, test_views=views)
    card = json.loads((model_dir / "card.json").read_text())
    evaluation = read_evaluation(model_dir)
    backend = served_backend(card)
    test_views = views
    report = find_report(evaluation, "PrivateTest", views, backend)
    if report is None and views != "none":
        test_views = "none"
        report = find_report(evaluation, "PrivateTest", "none", backend)
    return ModelSummary(
        name=name,
        classes=classes,
        test_accuracy=None if report is None else float(report["accuracy"]),
        test_macro_f1=None if report is None else float(report["macro_f1"]),
        test_split="PrivateTest",
        intended_use=str(card.get("intended_use", "")),
        limitations=tuple(str(item) for item in card.get("limitations", [])),
        unreliable=unreliable_classes(evaluation),
        reliability=reliability_note(evaluation),
        session_views=views,
        test_views=test_views,
    )


def report_content(
    session: Any,
    consent: Any,
    frames: pd.DataFrame,
    model_dir: Path | None,
    markers: pd.DataFrame | None = None,
    *,
    installation_id: uuid.UUID,
) -> ReportContent:
    """Gather a report's content from a session record (``SessionInfo``), its consent record
    (``Consent``), its frame table, the model's folder, the clinician's markers and the id of the
    database they were read from (``SessionStore.installation_id``)."""
    markers = markers if markers is not None else pd.DataFrame({"t_seconds": [], "note": []})
    client_code = getattr(session, "client_code", None) or None
    client = client_code or f"consent {consent.id}"
    withdrawn = getattr(consent, "withdrawn_at", None)
    consent_record = {
        "id": consent.id,
        "given_at": report_time(consent.given_at),
        "withdrawn_at": report_time(withdrawn) if withdrawn else None,
        "statement": consent.statement,
    }
    return ReportContent(
        session_id=session.id,
        client=client,
        started_at=session.started_at,
        ended_at=session.ended_at,
        source=session.source,
        consent=consent_record,
        model=model_summary(model_dir, session.model, tuple(session.classes)),
        frames=frames,
        markers=markers,
        insights=session_insights(frames, markers) if not frames.empty else {"faces": []},
        installation_id=installation_id,
        notes=getattr(session, "notes", "") or "",
        client_code=client_code,
    )


class SummaryFigure(NamedTuple):
    """One of a report's summary figures; ``caution`` is what the report says beside it about
    how far to trust it (empty when nothing needs saying)."""

    name: str
    value: float
    unit: str
    caution: str = ""


def client_face_of(content: ReportContent) -> dict[str, Any] | None:
    """The insights of the face taken as the client's (seen longest), None without faces."""
    return client_face(content.insights.get("faces", []))


def other_faces(content: ReportContent) -> list[str]:
    """The names of the faces in the picture other than the client's (``Face 4``)."""
    client = client_face_of(content)
    return [face_name(face["track_id"]) for face in content.insights.get("faces", [])
            if face is not client]


def summary_figures(content: ReportContent) -> list[SummaryFigure]:
    """The summary figures of the client's face (:func:`client_face_of`): one FHIR Observation
    each, filed under the client. Other faces in the picture are someone else and stay in the
    report's own text only. A share of time of an expression the model's card marks unreliable
    carries :func:`reliability_text` as its caution, as it does beside the share in the HTML
    and PDF forms."""
    face = client_face_of(content)
    if face is None:
        return []
    prefix = face_name(face["track_id"])
    figures = [SummaryFigure(f"{prefix}: duration seen", face["duration_s"], "s")]
    for emotion, share in face["time_share"].items():
        figures.append(SummaryFigure(f"{prefix}: share of time, {emotion}", share, "1",
                                     reliability_text(content.model, emotion)))
    figures.append(SummaryFigure(f"{prefix}: {CHANGES_LABEL[0].lower()}{CHANGES_LABEL[1:]}",
                                 face["n_transitions"], "1"))
    if face["expressivity"] is not None:
        figures.append(SummaryFigure(f"{prefix}: expressivity index",
                                     face["expressivity"]["index"], "1"))
    if face.get("lighting") is not None:
        figures.append(SummaryFigure(f"{prefix}: share of readings over-exposed",
                                     face["lighting"]["overexposed_share"], "1"))
    return figures
