"""The report as PDF (fpdf2), with the same charts as the HTML form, as images."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from fer.reporting.charts import signals_chart, timeline_chart
from fer.reporting.content import (
    CHANGES_LABEL,
    DISCLAIMER,
    ModelSummary,
    ReportContent,
    accuracy_text,
    flat_affect_text,
    lighting_text,
    reliability_text,
    report_time,
    share_percentages,
)


def _font_path() -> Path:
    """DejaVu Sans from matplotlib's own files: Unicode text without a system font."""
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"


def _share_text(model: ModelSummary, emotion: str, percent: int) -> str:
    caution = reliability_text(model, emotion)
    return f"{emotion} {percent}%" + (f" ({caution})" if caution else "")


def _face_lines(
    face: dict[str, Any], model: ModelSummary, explanations: dict[str, str]
) -> list[tuple[str, bool]]:
    """The lines of one face's section as ``(text, is_explanation)``: each figure followed by
    the sentence saying what it is and is not, as the HTML form prints them."""
    lines: list[tuple[str, bool]] = []

    def figure(text: str, key: str | None = None) -> None:
        lines.append((text, False))
        if key is not None and explanations.get(key):
            lines.append((explanations[key], True))

    figure(
        f"Seen for {face['duration_s']:.1f} s in {face['n_frames']} frames; baseline: "
        f"{face['baseline']['source']}.",
        "baseline",
    )
    figure(
        "Share of time: "
        + ", ".join(_share_text(model, emotion, percent)
                    for emotion, percent in share_percentages(face["time_share"]).items())
    )
    figure(model.reliability, "time_share")
    for episode in face["episodes"][:5]:
        peak = "" if episode["peak"] is None else f", peak {episode['peak']:.0%}"
        figure(
            f"Episode: {episode['emotion']} from {episode['onset_s']:.1f} s for "
            f"{episode['duration_s']:.1f} s{peak}."
        )
    if explanations.get("episodes") and face["episodes"]:
        lines.append((explanations["episodes"], True))
    figure(f"{CHANGES_LABEL}: {face['n_transitions']}.", "transitions")
    figure(lighting_text(face), "lighting")
    if face["expressivity"] is not None:
        figure(f"Expressivity index {face['expressivity']['index']:.3f}.", "expressivity")
    figure(f"Flat affect: {flat_affect_text(face['flat_affect'])}.", "flat_affect")
    for moment in face["notable_moments"]:
        markers = "; ".join(f"{m['t_s']:.1f} s: {m['note']}" for m in moment["markers_nearby"])
        figure(
            f"Notable moment at {moment['t_s']:.1f} s ({moment['label']})"
            + (f", markers: {markers}" if markers else "")
        )
    if explanations.get("notable_moments") and face["notable_moments"]:
        lines.append((explanations["notable_moments"], True))
    return lines


def report_pdf(content: ReportContent) -> bytes:
    """The whole report as PDF bytes."""
    from fpdf import FPDF

    document = FPDF(format="A4")
    document.set_auto_page_break(True, margin=15)
    document.add_font("DejaVu", "", str(_font_path()))
    document.set_font("DejaVu", size=10)
    document.set_title(f"Session report {content.session_id}")
    document.add_page()
    width = document.epw

    def paragraph(text: str, size: int = 10, grey: bool = False) -> None:
        document.set_font("DejaVu", size=size)
        document.set_text_color(85 if grey else 0)
        document.multi_cell(width, size * 0.55, text)
        document.ln(1)

    model = content.model
    accuracy = accuracy_text(model)
    consent = content.consent
    paragraph(f"Session report: session {content.session_id}", 16)
    paragraph(DISCLAIMER, 9)
    paragraph(
        f"Client (pseudonymous): {content.client}\n"
        f"Session: {report_time(content.started_at)} to "
        f"{report_time(content.ended_at) if content.ended_at else 'open'} ({content.source})\n"
        f"Consent: record {consent['id']}, given {consent['given_at']}, "
        f"{consent['withdrawn_at'] or 'not withdrawn'}\n"
        f"Model: {model.name}, {accuracy}\n"
        f"Report made: {report_time(content.generated_at)}"
    )
    paragraph("The model and its limits", 12)
    paragraph(model.intended_use, 9)
    for item in model.limitations:
        paragraph(f"- {item}", 9)
    paragraph(model.reliability, 9)
    for name, reason in model.unreliable.items():
        paragraph(f"- {name}: {reason}", 9)
    for chart in (
        timeline_chart(content.frames, list(model.classes), max_gap_s=content.max_gap_s),
        signals_chart(content.frames, max_gap_s=content.max_gap_s),
    ):
        if chart:
            document.image(io.BytesIO(chart), w=width)
    for face in content.insights.get("faces", []):
        paragraph(f"Face {face['track_id']}", 12)
        explanations = content.insights.get("explanations", {})
        for text, is_explanation in _face_lines(face, model, explanations):
            paragraph(text, 8 if is_explanation else 9, grey=is_explanation)
    paragraph("Clinician's markers", 12)
    markers = [f"{m.t_seconds:.1f} s: {m.note}" for m in content.markers.itertuples()]
    paragraph("\n".join(markers) or "None.", 9)
    paragraph("Notes", 12)
    paragraph(content.notes or "None.", 9)
    return bytes(document.output())
