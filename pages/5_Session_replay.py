"""Session replay: a recorded session's smoothed expression timeline, predominant emotion per
interval, per-face summaries, a moment's values and landmarks, and CSV export."""

from __future__ import annotations

# streamlit_webrtc (aiortc) must be imported before TensorFlow/MediaPipe, or Python segfaults;
# any page may be the first one a user opens, so each imports it first.
import streamlit_webrtc  # noqa: F401  # isort: skip

import pandas as pd
import streamlit as st

from fer.evaluation import session_plots
from fer.sessions import replay
from ui import research


@st.cache_data(show_spinner="Loading the session…")
def load_frames(db_text: str, session_id: int, n_frames: int) -> pd.DataFrame:
    # n_frames only keys the cache: a session still being recorded is reloaded when it grows.
    store = research.session_store()
    return store.load_frames(session_id, include_extras=True)


def show_moment(frames: pd.DataFrame, track_id: int, classes: list[str]) -> None:
    st.subheader("A moment")
    track = frames[frames["track_id"] == track_id]
    start, end = float(track["t_seconds"].min()), float(track["t_seconds"].max())
    if end > start:
        moment = st.slider(
            "Time (s)", start, end, start, step=0.1, format="%.1f", key="replay.moment"
        )
    else:
        moment = start
    frame = replay.frame_at(frames, moment, track_id)
    columns = st.columns(3)
    columns[0].metric("At", f"{frame['t_seconds']:.2f} s")
    columns[1].metric("Label", str(frame["label"]))
    columns[2].metric("Confidence", f"{frame['confidence']:.0%}")
    values = pd.DataFrame(
        {
            "probability": [frame[f"prob_{name}"] for name in classes],
            "smoothed": [frame[f"smoothed_{name}"] for name in classes],
        },
        index=pd.Index(classes, name="emotion"),
    )
    left, right = st.columns(2)
    left.dataframe(values.style.format("{:.3f}"))
    landmarks = frame.get("landmarks")
    if landmarks is not None and len(landmarks):
        right.plotly_chart(
            session_plots.landmark_plot(landmarks, f"Landmarks at {frame['t_seconds']:.2f} s")
        )
    else:
        right.caption("No landmarks were stored for this frame.")


def main() -> None:
    st.title("Session replay")
    st.caption(
        "Expression estimates support the clinician's attention; they are not a diagnosis and "
        "not the same as felt emotion."
    )
    store = research.session_store()
    session_id = research.pick_session(store, "replay.session")
    if session_id is None:
        return
    info = store.get_session(session_id)
    frames = load_frames(str(research.session_db()), session_id, info.n_frames)
    if frames.empty:
        st.info("This session has no frames yet.")
        return
    classes = replay.class_columns(frames, replay.SMOOTHED_PREFIX)
    st.caption(
        f"Model `{info.model}` · source {info.source} · consent on record "
        f"({info.consent_given_at:%Y-%m-%d %H:%M} UTC)"
    )
    tracks = sorted(int(track) for track in frames["track_id"].unique())
    left, right = st.columns(2)
    track_id = left.selectbox(
        "Face (track)", tracks, format_func=lambda track: f"track {track}", key="replay.track"
    )
    raw = right.toggle("Show raw per-frame probabilities", key="replay.raw")
    prefix = replay.PROBABILITY_PREFIX if raw else replay.SMOOTHED_PREFIX
    st.plotly_chart(session_plots.session_timeline(frames, track_id, prefix))

    interval_s = st.slider("Interval (s)", 1, 60, 5, key="replay.interval")
    intervals = replay.predominant_per_interval(frames, interval_s)
    track_intervals = intervals[intervals["track_id"] == track_id]
    st.plotly_chart(session_plots.predominant_chart(track_intervals, interval_s))

    st.subheader("Per face")
    st.dataframe(replay.track_summary(frames), hide_index=True)
    shares = replay.time_share(frames)
    st.plotly_chart(session_plots.time_share_chart(shares))
    left, right = st.columns(2)
    left.markdown("**Transitions**")
    left.dataframe(replay.transitions(frames), hide_index=True)
    right.markdown("**Longest episodes**")
    right.dataframe(replay.longest_episodes(frames, 3), hide_index=True)

    show_moment(frames, track_id, classes)

    st.subheader("Export")
    left, right = st.columns(2)
    left.download_button(
        "Frames (CSV)",
        store.export_csv(session_id),
        file_name=f"session_{session_id}.csv",
        mime="text/csv",
        key="replay.export_frames",
    )
    right.download_button(
        f"Predominant emotion per {interval_s} s (CSV)",
        intervals.to_csv(index=False),
        file_name=f"session_{session_id}_intervals_{interval_s}s.csv",
        mime="text/csv",
        key="replay.export_intervals",
    )


if __name__ == "__main__":
    main()
