"""The report as one self-contained HTML file: charts inline as SVG, no external URL, every text
that came from a person (notes, markers, codes) escaped."""

from __future__ import annotations

import re
from html import escape
from typing import Any

from fer.reporting.charts import signals_chart, timeline_chart
from fer.reporting.content import (
    CHANGES_LABEL,
    DISCLAIMER,
    ReportContent,
    accuracy_text,
    flat_affect_text,
    lighting_text,
    reliability_text,
    report_time,
    share_percentages,
)

STYLE = """
body { font-family: sans-serif; max-width: 52rem; margin: 2rem auto; color: #222; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
table { border-collapse: collapse; margin: 0.5rem 0; } td, th { border: 1px solid #ccc;
padding: 0.2rem 0.5rem; text-align: left; } .about { color: #555; font-size: 0.9rem; }
.disclaimer { border-left: 4px solid #f2b701; padding: 0.5rem 1rem; background: #fffbea; }
"""


def inline_svg(svg: bytes) -> str:
    """An SVG document as an element to inline: its XML prolog, its DOCTYPE (which names a DTD
    by URL) and its metadata are dropped."""
    text = svg.decode("utf-8")
    text = text[text.index("<svg") :]
    # The metadata block only credits the plotting library, with links; the report needs none.
    return re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.DOTALL)


def _table(rows: list[tuple[Any, ...]], header: tuple[str, ...]) -> str:
    head = "".join(f"<th>{escape(str(cell))}</th>" for cell in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(cell))}</td>" for cell in row) + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _about(content: ReportContent, key: str) -> str:
    text = content.insights.get("explanations", {}).get(key, "")
    return f'<p class="about">{escape(text)}</p>' if text else ""


def _face_section(content: ReportContent, face: dict[str, Any]) -> str:
    parts = [f"<h2>Face {face['track_id']}</h2>"]
    parts.append(
        f"<p>Seen for {face['duration_s']:.1f} s in {face['n_frames']} frames. Baseline: "
        f"{escape(face['baseline']['source'])}.</p>" + _about(content, "baseline")
    )
    shares = [(emotion, f"{percent}%", reliability_text(content.model, emotion))
              for emotion, percent in share_percentages(face["time_share"]).items()]
    parts.append("<h3>Share of time per expression</h3>"
                 + _table(shares, ("expression", "share", "how far to trust it"))
                 + f'<p class="about">{escape(content.model.reliability)}</p>'
                 + _about(content, "time_share"))
    episodes = [(e["emotion"], f"{e['onset_s']:.1f} s", f"{e['duration_s']:.1f} s",
                 "" if e["peak"] is None else f"{e['peak']:.0%}") for e in face["episodes"]]
    parts.append("<h3>Longest episodes</h3>"
                 + _table(episodes, ("expression", "onset", "duration", "peak"))
                 + _about(content, "episodes"))
    parts.append(f"<p>{CHANGES_LABEL}: {face['n_transitions']}.</p>"
                 + _about(content, "transitions"))
    parts.append(f"<p>{escape(lighting_text(face))}</p>" + _about(content, "lighting"))
    if face["expressivity"] is not None:
        movement = face["expressivity"]
        parts.append(
            f"<h3>Expressivity</h3><p>Index {movement['index']:.3f} (movement against the "
            f"baseline {movement['activation_vs_baseline']:.3f}, spread "
            f"{movement['variability']:.3f}).</p>" + _about(content, "expressivity")
        )
    parts.append(f"<p>Flat affect: {escape(flat_affect_text(face['flat_affect']))}.</p>"
                 + _about(content, "flat_affect"))
    moments = [
        (f"{m['t_s']:.1f} s", m["label"], "" if m["valence"] is None else f"{m['valence']:+.2f}",
         ", ".join(f"{au} {v:.2f}" for au, v in m["top_action_units"].items()),
         "; ".join(f"{n['t_s']:.1f} s: {n['note']}" for n in m["markers_nearby"]))
        for m in face["notable_moments"]
    ]
    parts.append("<h3>Notable moments</h3>"
                 + _table(moments, ("time", "expression", "valence", "action units",
                                    "clinician's markers nearby"))
                 + _about(content, "notable_moments"))
    return "\n".join(parts)


def report_html(content: ReportContent) -> str:
    """The whole report as one HTML document."""
    model = content.model
    accuracy = accuracy_text(model)
    consent = content.consent
    withdrawn = consent["withdrawn_at"] or "not withdrawn"
    timeline = inline_svg(
        timeline_chart(content.frames, list(model.classes), "svg", content.max_gap_s)
    )
    signals = signals_chart(content.frames, "svg", content.max_gap_s)
    markers = [(f"{m.t_seconds:.1f} s", m.note) for m in content.markers.itertuples()]
    sections = [
        f"<h1>Session report: session {content.session_id}</h1>",
        f'<p class="disclaimer">{escape(DISCLAIMER)}</p>',
        _table(
            [
                ("client (pseudonymous)", content.client),
                ("session started", report_time(content.started_at)),
                ("session ended", report_time(content.ended_at) if content.ended_at else "open"),
                ("source", content.source),
                ("consent", f"record {consent['id']}, given {consent['given_at']}, {withdrawn}"),
                ("model", f"{model.name}: {accuracy}"),
                ("report made", report_time(content.generated_at)),
            ],
            ("", ""),
        ),
        "<h2>The model and its limits</h2>",
        f"<p>{escape(model.intended_use)}</p>",
        "<ul>" + "".join(f"<li>{escape(item)}</li>" for item in model.limitations) + "</ul>",
        f"<p>{escape(model.reliability)}</p>",
        "<ul>" + "".join(f"<li>{escape(name)}: {escape(reason)}</li>"
                         for name, reason in model.unreliable.items()) + "</ul>",
        "<h2>Over the session</h2>",
        timeline,
        inline_svg(signals) if signals else "",
        *(_face_section(content, face) for face in content.insights.get("faces", [])),
        "<h2>Clinician's markers</h2>",
        _table(markers, ("time", "note")) if markers else "<p>None.</p>",
        f"<h2>Notes</h2><p>{escape(content.notes) or 'None.'}</p>",
    ]
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>Session report {content.session_id}</title><style>{STYLE}</style></head>"
        f"<body>{''.join(sections)}</body></html>"
    )
