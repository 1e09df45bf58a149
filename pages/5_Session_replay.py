"""Session replay: a recorded session's smoothed expression timeline, predominant emotion per
interval, per-face summaries, a moment's values and landmarks; export, consent withdrawal, name
erasure and deletion. A clinician sees only their own sessions and those shared with them."""

from __future__ import annotations

# streamlit_webrtc (aiortc) must be imported before TensorFlow/MediaPipe, or Python segfaults;
# any page may be the first one a user opens, so each imports it first.
import streamlit_webrtc  # noqa: F401  # isort: skip

import pandas as pd
import streamlit as st

from fer.evaluation import session_plots
from fer.realtime.tracking import face_name
from fer.sessions import replay
from fer.sessions.insights import ABOUT, session_insights
from ui import auth, research, session_replay, sessions
from ui.consent import erase_name_form, show_withdrawal_notice, withdraw_form

PAGE = "replay"
FRAMES_KEY = "replay.frames"
INSIGHTS_KEY = "replay.insights"


def kept_while_unchanged(state_key: str, key, compute):
    """``compute()``, kept in this browser session while ``key`` stays the same: every slider
    move reruns the page. Not st.cache_data, which is shared between users and would outlive a
    deletion."""
    kept = st.session_state.get(state_key)
    if kept is not None and kept[0] == key:
        return kept[1]
    value = compute()
    st.session_state[state_key] = (key, value)
    return value


def forget_loaded_session() -> None:
    """Drop the frames and insights kept of a session that was just deleted: patient data of a
    deleted session must not stay in the browser session's state."""
    for key in (FRAMES_KEY, INSIGHTS_KEY):
        st.session_state.pop(key, None)


def load_frames(store, info, user) -> pd.DataFrame:
    """The session's frames; reloaded when the session grows, or when its id now names another
    session (SQLite gave a deleted newest session's id to the next before schema r0006)."""

    def load() -> pd.DataFrame:
        with st.spinner("Loading the session…"):
            return store.load_frames(info.id, include_extras=True, viewer=user)

    return kept_while_unchanged(FRAMES_KEY, (info.id, info.started_at, info.n_frames), load)


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
    columns[1].metric("Expression", str(frame["label"]))
    columns[2].metric("Confidence", f"{frame['confidence']:.0%}")
    values = pd.DataFrame(
        {
            "Probability in this frame": [frame[f"prob_{name}"] for name in classes],
            "Smoothed": [frame[f"smoothed_{name}"] for name in classes],
        },
        index=pd.Index(classes, name="Expression"),
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


def manage(store, info, user) -> None:
    """Consent withdrawal, name erasure and deletion of the session on screen."""
    st.subheader("Consent and deletion")
    if info.consent_withdrawn_at is None:
        with st.expander("Withdraw consent", icon=":material/block:"):
            if withdraw_form(store, info.consent_id, PAGE):
                forget_loaded_session()
                st.rerun()
    with st.expander("Erase or pseudonymise the name", icon=":material/person_off:"):
        if erase_name_form(store, info.consent_id, PAGE):
            st.session_state[f"{PAGE}.withdrawal_notice"] = "The name was removed."
            st.rerun()
    with st.expander("Delete this session", icon=":material/delete:"):
        if sessions.delete_form(store, info.id, user, PAGE):
            forget_loaded_session()
            st.session_state[f"{PAGE}.withdrawal_notice"] = f"Session #{info.id} was deleted."
            st.rerun()


def main() -> None:
    user = auth.require_role(*auth.PATIENT_DATA_ROLES)
    st.title("Session replay")
    st.caption(
        "Expression estimates support the clinician's attention; they are not a diagnosis and "
        "not the same as felt emotion."
    )
    show_withdrawal_notice(PAGE)
    store = research.session_store()
    session_id = research.pick_session(store, "replay.session", user)
    if session_id is None:
        return
    info = store.get_session(session_id, viewer=user)
    sessions.record_view(info)
    st.caption(
        f"Model: {sessions.model_in_words(info.model)} · from: "
        f"{sessions.source_in_words(info.source)}"
    )
    sessions.consent_status(info)
    if info.notes:
        st.text(info.notes)
    frames = load_frames(store, info, user)
    if frames.empty:
        st.info("This session has no frames yet.")
        manage(store, info, user)
        return
    classes = replay.class_columns(frames, replay.SMOOTHED_PREFIX)
    markers = store.list_markers(session_id, viewer=user)
    if frames["t_seconds"].nunique() == 1:
        # One picture (an uploaded image): a timeline of one point says nothing.
        st.subheader("Result of the picture")
        for _, frame in frames.iterrows():
            session_replay.single_frame_result(frame, classes)
        report_and_exports(store, session_id, user, None)
        manage(store, info, user)
        return
    tracks = sorted(int(track) for track in frames["track_id"].unique())
    left, right = st.columns(2)
    track_id = left.selectbox(
        "Face", tracks, format_func=face_name, key="replay.track"
    )
    raw = right.toggle("Show raw per-frame probabilities", key="replay.raw")
    prefix = replay.PROBABILITY_PREFIX if raw else replay.SMOOTHED_PREFIX
    timeline = session_plots.session_timeline(frames, track_id, prefix)
    session_replay.add_markers(timeline, markers)
    st.plotly_chart(timeline)
    st.markdown("**Marked moments**")
    session_replay.markers_table(markers)

    interval_s = st.slider("Interval (s)", 1, 60, 5, key="replay.interval")
    intervals = replay.predominant_per_interval(frames, interval_s)
    track_intervals = intervals[intervals["track_id"] == track_id]
    bars = session_plots.predominant_chart(track_intervals, interval_s)
    session_replay.clip_interval_bars(bars, interval_s, float(frames["t_seconds"].max()))
    st.plotly_chart(bars)

    st.subheader("Per face")
    st.dataframe(sessions.in_words(replay.track_summary(frames)), hide_index=True)
    shares = replay.time_share(frames)
    st.plotly_chart(session_plots.time_share_chart(shares))
    left, right = st.columns(2)
    left.markdown("**Changes of expression**")
    left.caption(ABOUT["transitions"])
    left.dataframe(sessions.in_words(replay.transitions(frames)), hide_index=True)
    right.markdown("**Longest episodes**")
    right.dataframe(sessions.in_words(replay.longest_episodes(frames, 3)), hide_index=True)

    st.subheader("Insights")
    insights = kept_while_unchanged(
        INSIGHTS_KEY, (info.id, info.started_at, info.n_frames, markers.to_json()),
        lambda: session_insights(frames, markers),
    )
    face = next(face for face in insights["faces"] if face["track_id"] == track_id)
    session_replay.show_insights(face, insights, sessions.unreliable_expressions(info.model))

    show_moment(frames, track_id, classes)
    report_and_exports(store, session_id, user, (intervals, interval_s))
    manage(store, info, user)


def report_and_exports(store, session_id: int, user, intervals) -> None:
    """The report for the record and the CSV exports; ``intervals`` is ``(table, interval_s)``
    or None when the session has no timeline."""
    st.subheader("Report for the record")
    st.caption(
        "A report of this session for the health record: HTML, PDF, or a FHIR R4 bundle. "
        "It is built when you press a button."
    )
    sessions.report_buttons(store, session_id, user, PAGE)
    st.subheader("Export")
    left, right = st.columns(2)
    with left:
        sessions.audited_download(
            "Frames (CSV)", lambda: store.export_csv(session_id, viewer=user),
            f"session_{session_id}.csv", "replay.export_frames", user, session_id, "frames csv",
        )
    if intervals is None:
        return
    table, interval_s = intervals
    with right:
        sessions.audited_download(
            f"Predominant emotion per {interval_s} s (CSV)",
            lambda: table.to_csv(index=False),
            f"session_{session_id}_intervals_{interval_s}s.csv", "replay.export_intervals", user,
            session_id, f"intervals {interval_s} s csv",
        )


if __name__ == "__main__":
    main()
