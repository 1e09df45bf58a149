"""What the Session replay page shows of a recorded session: the clinician's markers on the
timeline and in a table, the per-face insights, and a one-picture session's result.

Streamlit-only, like the rest of ``ui/``; the figures are drawn by
:mod:`fer.evaluation.session_plots`, the insights computed by :mod:`fer.sessions.insights`.
"""

from __future__ import annotations

import streamlit as st


def add_markers(figure, markers) -> None:
    """Dotted vertical lines at the clinician's markers on a timeline figure."""
    for marker in markers.itertuples():
        figure.add_vline(
            x=float(marker.t_seconds), line_dash="dot", line_color="grey",
            annotation_text=f"{float(marker.t_seconds):.1f} s", annotation_position="top",
        )


def clip_interval_bars(figure, interval_s: float, end_s: float) -> None:
    """Make the last interval's bar stop at the session's end instead of running past it."""
    for trace in figure.data:
        centres = [float(x) for x in trace.x]
        starts = [centre - interval_s / 2 for centre in centres]
        ends = [min(start + interval_s, max(end_s, start)) for start in starts]
        widths = [max(end - start, 1e-3) for start, end in zip(starts, ends, strict=True)]
        trace.x = [start + width / 2 for start, width in zip(starts, widths, strict=True)]
        trace.width = widths


def markers_table(markers) -> None:
    """The clinician's markers with their times (notes as plain text in a table)."""
    if markers.empty:
        st.caption("No moments were marked in this session.")
        return
    import pandas as pd

    st.dataframe(
        pd.DataFrame(
            {
                "time (s)": markers["t_seconds"].astype(float).round(1),
                "note": markers["note"].fillna("").astype(str),
            }
        ),
        hide_index=True,
    )


def _about(insights: dict, key: str) -> None:
    text = insights.get("explanations", {}).get(key)
    if text:
        st.caption(text)


def show_insights(face: dict, insights: dict, unreliable: dict[str, str] | None = None) -> None:
    """The insights of one face (from :func:`fer.sessions.insights.session_insights`), each
    with the sentence saying what it is and is not; ``unreliable`` (expression -> why) marks
    the expressions the model cannot be trusted on."""
    import pandas as pd

    from fer.reporting.content import flat_affect_text, lighting_text, share_percentages

    unreliable = unreliable or {}
    st.caption(insights.get("about", ""))
    st.markdown("**Share of time per expression**")
    _about(insights, "time_share")
    st.dataframe(
        pd.DataFrame(
            {
                "expression": list(face["time_share"]),
                "share of time": [
                    f"{percent}%" for percent in share_percentages(face["time_share"]).values()
                ],
                "reliability": [
                    f"read with caution: {unreliable[name]}" if name in unreliable else ""
                    for name in face["time_share"]
                ],
            }
        ),
        hide_index=True,
    )
    st.markdown("**Episodes**")
    _about(insights, "episodes")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "expression": episode["emotion"],
                    "onset (s)": episode["onset_s"],
                    "duration (s)": episode["duration_s"],
                    "peak": episode["peak"],
                }
                for episode in face["episodes"]
            ]
        ),
        hide_index=True,
    )
    st.markdown("**Expressivity**")
    _about(insights, "expressivity")
    movement = face.get("expressivity")
    if movement is None:
        st.text("Not available: no action units were recorded for this face.")
    else:
        st.text(f"Expressivity index {movement['index']:.3f}")
    st.markdown("**Flat-affect indication**")
    _about(insights, "flat_affect")
    st.text(f"Flat affect {flat_affect_text(face.get('flat_affect'))}")
    st.markdown("**Lighting**")
    _about(insights, "lighting")
    st.text(lighting_text(face))
    st.markdown("**Notable moments**")
    _about(insights, "notable_moments")
    moments = face.get("notable_moments") or []
    if not moments:
        st.text("No moment stood out from the baseline.")
        return
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "time (s)": moment["t_s"],
                    "expression": moment["label"],
                    "valence": moment["valence"],
                    "arousal": moment["arousal"],
                    "top action units": ", ".join(moment["top_action_units"]),
                    "markers nearby": "; ".join(
                        f"{marker['t_s']:.1f} s {marker['note']}".strip()
                        for marker in moment["markers_nearby"]
                    ),
                }
                for moment in moments
            ]
        ),
        hide_index=True,
    )


def single_frame_result(frame, classes: list[str]) -> None:
    """The result of a one-frame session (an uploaded picture) as a table, not a timeline."""
    import pandas as pd

    st.text(
        f"Face #{int(frame['track_id'])}: {frame['label']} · "
        f"confidence {float(frame['confidence']):.0%}"
    )
    st.dataframe(
        pd.DataFrame(
            {
                "Expression": classes,
                "Probability": [round(float(frame[f"prob_{name}"]), 3) for name in classes],
            }
        ),
        hide_index=True,
    )
