"""The Live page's side panel: what one redraw shows (:class:`PanelView`, computed from the newest
update) and how it is drawn, always in the same places, so that a redraw replaces every element
of the previous one."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import plotly.graph_objects as go
import streamlit as st

from fer.emotions import emotion_style
from fer.realtime.tracking import face_name
from ui.live import LiveProcessor
from ui.readout import LiveHistory, circumplex_plot, headline, probability_bars, signal_lines
from ui.text import plain

CAMERA_RATE_HELP = (
    "Frames per second (/s) arriving from the camera, counted over the last few seconds, whether "
    "or not each was analysed."
)
ANALYSED_RATE_HELP = (
    "Frames per second the expression analysis ran on. Lower than the camera's rate when the "
    "computer is slower than the camera: the newest frame is analysed, the ones in between are "
    "skipped."
)
LATENCY_HELP = (
    "For the frame whose label is shown: the time from its arrival at the analysis on this "
    "computer to its label being sent to this page (waiting, analysis and the page's redraw "
    "cycle). Not included: the camera, the video's encoding and the network before it arrives, "
    "and the browser's own drawing after."
)


@dataclass(frozen=True)
class PanelView:
    """Everything one redraw of the side panel shows, computed from one update (the newest
    frame): drawing it is deterministic, so the next script run can first draw the same view
    again, chart for chart, where the previous run left it (the Live page's ``live_loop``)."""

    draw_id: int
    camera_fps: str
    analysed_fps: str
    latency: str
    n_faces: int
    headlines: tuple[str, ...]
    bars: go.Figure | None
    signal_texts: tuple[str, ...]
    circumplex: go.Figure | None
    timeline: go.Figure | None
    counts: str
    problem: str | None


def rate_text(frames_per_s: float) -> str:
    return f"{frames_per_s:.1f}/s" if frames_per_s > 0 else "–"  # not yet two frames to count


def panel_view(
    draw_id: int, update, classes: list[str], history: LiveHistory, live: LiveProcessor,
    unreliable: Collection[str] = (),
) -> PanelView:
    """The panel for ``update``: each face's headline and the first face's bars, both read
    from the same smoothed result; its signals, trail and last 30 s; the counts. The latency
    is left for the caller to fill in just before drawing."""
    from fer.evaluation.session_plots import session_timeline

    results = update.results
    bars = circumplex = timeline = None
    headlines: tuple[str, ...] = ()
    signal_texts: tuple[str, ...] = ()
    if results:
        headlines = tuple(
            f"## {emotion_style(result.label).icon} {headline(result, classes, unreliable)}"
            for result in results
        )
        primary = results[0]
        name = face_name(primary.track_id)
        bars = probability_bars(
            classes, primary.smoothed, f"{name}, smoothed probabilities"
        )
        signal_texts = tuple(
            "\n".join([face_name(result.track_id), *signal_lines(result)]) for result in results
        )
        trail = history.trail(primary.track_id)
        if len(trail):
            title = f"{name}: valence and arousal, last {history.trail_s:.0f} s"
            circumplex = circumplex_plot(trail, title)
        frames = history.frame()
        if len(frames):
            timeline = session_timeline(frames, track_id=primary.track_id)
            timeline.update_layout(height=280, title={"text": "Last 30 s"})
    stats, recorder = live.stats, live.recorder
    recorded = "" if recorder is None else (
        f" · recorded {recorder.n_written + recorder.n_pending}"
    )
    counts = (
        f"Frames analysed {stats.n_frames} · with faces {stats.n_with_faces}{recorded}"
        f" · {update.t_seconds:.1f} s since the camera started"
    )
    return PanelView(
        draw_id=draw_id, camera_fps=rate_text(update.camera_fps),
        analysed_fps=rate_text(update.analysed_fps), latency="–",
        n_faces=len(results), headlines=headlines, bars=bars, signal_texts=signal_texts,
        circumplex=circumplex, timeline=timeline, counts=counts,
        problem=stats.last_error,
    )


def draw_panel(view: PanelView) -> None:
    """Draw ``view`` into the current container, always in the same ten places (an empty
    placeholder where there is nothing to show), so that a redraw replaces every element of the
    previous one and leaves none of them behind."""
    rates = st.columns(2)  # two by two: four figures side by side do not fit the panel
    rates[0].metric("Camera rate", view.camera_fps, help=CAMERA_RATE_HELP)
    rates[1].metric("Analysis rate", view.analysed_fps, help=ANALYSED_RATE_HELP)
    timing = st.columns(2)
    timing[0].metric("Camera to label", view.latency, help=LATENCY_HELP)
    timing[1].metric("Faces", view.n_faces)
    headline_slot, bars_slot, signals_slot, circumplex_slot = (st.empty() for _ in range(4))
    note_slot, timeline_slot, counts_slot, problem_slot = (st.empty() for _ in range(4))
    if view.headlines:
        headline_slot.markdown("  \n".join(view.headlines))
        bars_slot.plotly_chart(view.bars, key=f"live.bars.{view.draw_id}")
        signals_slot.text("\n\n".join(view.signal_texts))
        note_slot.caption(
            "Descriptive readings of the face, not a diagnosis and not felt emotion."
        )
    else:
        headline_slot.info("No face in view.")
    if view.circumplex is not None and view.headlines:
        circumplex_slot.plotly_chart(view.circumplex, key=f"live.circumplex.{view.draw_id}")
    if view.timeline is not None and view.headlines:
        timeline_slot.plotly_chart(view.timeline, key=f"live.timeline.{view.draw_id}")
    counts_slot.caption(view.counts)
    if view.problem:
        problem_slot.warning(plain(f"Last problem: {view.problem}"))
