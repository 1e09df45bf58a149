"""Live session: consent first, then the webcam with smoothed predictions and recording."""

# streamlit_webrtc (aiortc) must be imported before TensorFlow/MediaPipe, or Python segfaults.
from streamlit_webrtc import WebRtcMode, webrtc_streamer  # isort: skip

import time

import streamlit as st

from fer.emotions import emotion_style
from fer.models.inference import PIPELINE_TTA, TTA_CHOICES
from fer.realtime.smoothing import METHODS, SmoothingConfig
from ui import auth, resources
from ui.consent import consent_banner, consent_gate
from ui.errors import report_error
from ui.live import (
    LiveHistory,
    LiveProcessor,
    circumplex_plot,
    drain,
    probability_bars,
    rtc_configuration,
    signal_lines,
)
from ui.sessions import export_buttons
from ui.text import plain

PAGE = "live"
PURPOSE = (
    "The live view analyses the camera picture of the person in the session to estimate facial "
    "expressions. It supports the clinician's attention and makes no decisions about anyone. "
    "The camera stays off until the person's consent is recorded."
)
REDRAW_EVERY_S = 0.3
MAX_MARKER_NOTE_CHARS = 200
QUEUE_TIMEOUT_S = 0.2


def processor() -> LiveProcessor:
    if "live.processor" not in st.session_state:
        st.session_state["live.processor"] = LiveProcessor()
    return st.session_state["live.processor"]


def stop_recording(store) -> None:
    """Detach the recorder from the stream, write what it holds and end its session."""
    recorder = processor().stop_recording()
    if recorder is None:
        return
    try:
        recorder.close()
    except Exception as error:  # the database went away; say so rather than lose it silently
        report_error(error)
        st.error(f"The last {recorder.n_pending} results could not be saved.")
    st.session_state["live.last_saved"] = recorder.session_id


def withdraw(store) -> None:
    """Consent withdrawn: save and end any recording, and stop analysing frames at once."""
    stop_recording(store)
    processor().configure(None, False)
    recognizer = st.session_state.pop("live.recognizer", None)
    st.session_state.pop("live.recognizer_key", None)
    if recognizer is not None:
        recognizer.close()


def controls() -> tuple[SmoothingConfig, bool, int, str]:
    sidebar = st.sidebar
    sidebar.header("Live settings")
    method = sidebar.selectbox(
        "Smoothing", METHODS, index=METHODS.index(SmoothingConfig().method), key="live.method",
        help="window: mean over the last seconds; ema: exponential average; none: raw",
    )
    window_s = sidebar.slider(
        "Smoothing window (s)", 0.2, 3.0, 1.0, 0.1, key="live.window_s",
        disabled=method == "none",
        help="For ema this is twice the half-life: the weight of a frame halves every window/2.",
    )
    uncertain_below = sidebar.slider(
        "Show 'uncertain' below", 0.0, 0.9, 0.4, 0.05, key="live.uncertain_below",
        help="When the top smoothed probability is lower, the label reads 'uncertain'.",
    )
    show_landmarks = sidebar.checkbox("Draw landmarks", value=False, key="live.landmarks")
    max_faces = sidebar.number_input("Most faces", 1, 4, 1, key="live.max_faces")
    tta = sidebar.selectbox(
        "Prediction views", TTA_CHOICES, index=TTA_CHOICES.index(PIPELINE_TTA), key="live.tta",
        help="Views of each face averaged per prediction. mirror+zoom (six passes) is the most "
        "accurate; mirror (two) or none (one) keep up on slow CPUs. The session records which.",
    )
    config = SmoothingConfig(
        method=method, window_s=window_s, half_life_s=window_s / 2,
        uncertain_below=uncertain_below,
    )
    return config, show_landmarks, int(max_faces), tta


def recognizer_for(model, model_key: str, config: SmoothingConfig, max_faces: int, tta: str):
    """This session's EmotionRecognizer, rebuilt when a setting changes (it holds tracks and
    smoothing state, so it is per user, not cached)."""
    from fer.realtime.pipeline import EmotionRecognizer

    key = (model_key, config, max_faces, tta)
    if st.session_state.get("live.recognizer_key") != key:
        previous = st.session_state.get("live.recognizer")
        recognizer = EmotionRecognizer(
            model=model, smoothing=config, max_faces=max_faces, tta=tta,
            landmarker_path=resources.landmarker_path(),
        )
        with st.spinner("Opening the face detector…"):
            recognizer.load()
        st.session_state["live.recognizer"] = recognizer
        st.session_state["live.recognizer_key"] = key
        if previous is not None:
            processor().configure(recognizer, False)
            previous.close()
    return st.session_state["live.recognizer"]


def recording_controls(store, consent, model, recognizer, playing: bool, user) -> None:
    live = processor()
    recorder = live.recorder
    if recorder is None:
        start = st.button(
            "Start recording", key="live.record_start", disabled=not playing,
            icon=":material/fiber_manual_record:",
            help="Writes every analysed face to the session store." if playing
            else "Start the camera first.",
        )
        if start:
            from fer.sessions.recorder import SessionRecorder

            try:
                session_id = store.create_session(
                    consent.id, resources.model_label(model, recognizer.tta),
                    recognizer.classes, "live", owner_id=user.id,
                )
            except ValueError as error:  # e.g. consent withdrawn in another tab
                st.error(plain(f"Recording could not start: {error}"))
                return
            live.start_recording(SessionRecorder(store, session_id))
            st.rerun()
    else:
        st.markdown(
            f":red[:material/radio_button_checked:] **Recording** session #{recorder.session_id}"
        )
        if st.button("Stop recording", key="live.record_stop", icon=":material/stop:"):
            stop_recording(store)
            st.rerun()
    last_saved = st.session_state.get("live.last_saved")
    if last_saved is not None and live.recorder is None:
        try:
            info = store.get_session(last_saved, viewer=user)
        except ValueError:
            return  # deleted on another page
        st.success(f"Session #{info.id} saved: {info.n_frames} face results.")
        export_buttons(store, info.id, user, "live")


def mark_moment(store, user) -> None:
    """The "Mark moment" button's callback: a marker at the recording's current time, with the
    note typed beside it (run in the page thread before the rerun, so at the moment of the
    click)."""
    live = processor()
    recorder, t_seconds = live.recorder, live.recording_time()
    if recorder is None or t_seconds is None:
        st.session_state["live.marker_message"] = ("error", "Not recording: nothing was marked.")
        return
    note = st.session_state.get("live.marker_note", "")
    try:
        store.add_marker(recorder.session_id, t_seconds, note=note, created_by=user)
    except ValueError as error:  # ended session, withdrawn consent, malformed note
        st.session_state["live.marker_message"] = ("error", f"Not marked: {error}")
        return
    st.session_state["live.marker_note"] = ""
    suffix = f": {note}" if note else ""
    st.session_state["live.marker_message"] = ("success", f"Moment marked at {t_seconds:.1f} s"
                                               f"{suffix}")


def marker_controls(store, user) -> None:
    """A "Mark moment" button with an optional short note, enabled while recording."""
    recording = processor().recorder is not None
    st.text_input(
        "Note for the moment (optional)", max_chars=MAX_MARKER_NOTE_CHARS,
        key="live.marker_note", disabled=not recording,
    )
    st.button(
        "Mark moment", key="live.mark", icon=":material/bookmark_add:", disabled=not recording,
        on_click=mark_moment, args=(store, user),
        help="Stores the current time of the recording, with the note, for the replay and the "
        "report.",
    )
    message = st.session_state.pop("live.marker_message", None)
    if message is not None:
        kind, text = message
        (st.success if kind == "success" else st.error)(plain(text))
    if not recording:
        st.caption("Moments can be marked while a session is being recorded.")


def show_signals(results, history: LiveHistory, n_draws: int) -> None:
    """Per face: the top action units and head pose; the first face's valence and arousal on
    the circumplex with a trail of the last seconds."""
    for result in results:
        st.text("\n".join([f"Face #{result.track_id}", *signal_lines(result)]))
    primary = results[0]
    trail = history.trail(primary.track_id)
    if len(trail):
        title = f"Face #{primary.track_id}: valence and arousal, last {history.trail_s:.0f} s"
        st.plotly_chart(circumplex_plot(trail, title), key=f"live.circumplex.{n_draws}")
    st.caption("Descriptive readings of the face, not a diagnosis and not felt emotion.")


def live_loop(ctx, classes: list[str], panel) -> None:
    """Redraw the side panel from the worker's updates while the camera plays."""
    from fer.evaluation.session_plots import session_timeline

    live = processor()
    history = st.session_state.get("live.history")
    if history is None or history.classes != classes:
        history = st.session_state["live.history"] = LiveHistory(classes)
    with panel:
        metrics_slot, faces_slot, bars_slot = st.empty(), st.empty(), st.empty()
        signals_slot = st.empty()
        timeline_slot, stats_slot, error_slot = st.empty(), st.empty(), st.empty()
    faces_slot.info("Waiting for the first frames…")
    latest, last_drawn, n_draws = None, 0.0, 0
    while ctx.state.playing:
        auth.touch()  # a running camera is activity: no idle logout in the middle of a session
        updates = drain(live.updates, QUEUE_TIMEOUT_S)
        if updates:
            history.extend(updates)
            latest = updates[-1]
        recorder = live.recorder
        if recorder is not None:
            try:
                recorder.maybe_flush()
            except Exception as error:
                live.stop_recording()
                with error_slot.container():
                    report_error(error)
                    st.error("Recording stopped: the results could not be saved.")
        if latest is None or time.monotonic() - last_drawn < REDRAW_EVERY_S:
            continue
        last_drawn, n_draws = time.monotonic(), n_draws + 1
        with metrics_slot.container():
            columns = st.columns(3)
            columns[0].metric("FPS", f"{latest.fps:.1f}")
            columns[1].metric("ms per frame", f"{latest.frame_ms:.0f}")
            columns[2].metric("Faces", len(latest.results))
        if latest.results:
            faces_slot.markdown(
                "  \n".join(
                    f"## {emotion_style(result.label).emoji} {result.label} "
                    f"· {result.confidence:.0%} · face #{result.track_id}"
                    for result in latest.results
                )
            )
            primary = latest.results[0]
            title = f"Face #{primary.track_id} (smoothed)"
            bars_slot.plotly_chart(
                probability_bars(classes, primary.smoothed, title), key=f"live.bars.{n_draws}"
            )
            with signals_slot.container():
                show_signals(latest.results, history, n_draws)
            frames = history.frame()
            if len(frames):
                figure = session_timeline(frames, track_id=primary.track_id)
                figure.update_layout(height=280, title={"text": "Last 30 s"})
                timeline_slot.plotly_chart(figure, key=f"live.timeline.{n_draws}")
        else:
            faces_slot.info("No face in view.")
            signals_slot.empty()
        stats = live.stats
        recorded = ""
        if recorder is not None:
            recorded = f" · recorded {recorder.n_written + recorder.n_pending}"
        stats_slot.caption(
            f"Frames analysed {stats.n_frames} · with faces {stats.n_with_faces}{recorded}"
            f" · t = {latest.t_seconds:.1f} s"
        )
        if stats.last_error:
            error_slot.warning(plain(f"Last problem: {stats.last_error}"))


def main() -> None:
    user = auth.require_role(*auth.PATIENT_DATA_ROLES)
    st.title("Live session")
    store = resources.session_store()
    consent = consent_gate(store, PAGE, PURPOSE)
    if consent is None:
        st.info("The camera stays off until consent is recorded.")
        return
    consent_banner(store, PAGE, on_withdraw=lambda: withdraw(store))
    try:
        rtc = rtc_configuration()
    except ValueError as error:
        st.error(f"The network (ICE server) configuration is invalid: {error}")
        return
    model_name = resources.choose_model("live.model")
    model = resources.load_model_or_error(model_name) if model_name else None
    if model is None:
        return
    config, show_landmarks, max_faces, tta = controls()
    recognizer = recognizer_for(model, model_name, config, max_faces, tta)
    if recognizer.detector_warning:
        st.warning(recognizer.detector_warning)
    live = processor()
    live.configure(recognizer, show_landmarks)
    classes = recognizer.classes

    video_column, panel_column = st.columns([3, 2])
    with video_column:
        ctx = webrtc_streamer(
            key="live-camera",
            mode=WebRtcMode.SENDRECV,
            rtc_configuration=rtc,
            video_frame_callback=live,
            media_stream_constraints={"video": True, "audio": False},
            async_processing=True,
        )
        playing = ctx.state.playing
        if live.recorder is not None and not playing:
            stop_recording(store)  # the camera stopped: end the recording with it
        # One placeholder: while the page loop runs the script never finishes, so elements a
        # previous run drew here would otherwise linger as stale copies.
        with st.empty().container():
            recording_controls(store, consent, model, recognizer, playing, user)
            marker_controls(store, user)
    if not playing:
        panel_column.info("Press **Start** to open the camera; predictions appear here.")
        return
    live_loop(ctx, classes, panel_column)


if __name__ == "__main__":
    main()
