"""Live session: consent first, then the webcam with smoothed predictions and recording."""

# streamlit_webrtc (aiortc) must be imported before TensorFlow/MediaPipe, or Python segfaults.
from streamlit_webrtc import WebRtcMode, webrtc_streamer  # isort: skip

import time
from collections.abc import Collection
from dataclasses import replace

import streamlit as st

from fer.models.cards import recorded_model_label
from fer.models.inference import PIPELINE_TTA, TTA_CHOICES
from fer.realtime.smoothing import METHODS, SmoothingConfig
from ui import auth, resources, sessions
from ui.consent import consent_banner, consent_gate
from ui.errors import report_error
from ui.ice_servers import rtc_configuration
from ui.live import LiveProcessor, drain, label_latency_ms
from ui.live_panel import draw_panel, panel_view
from ui.readout import LiveHistory
from ui.sessions import export_buttons
from ui.text import plain

PAGE = "live"
PURPOSE = (
    "The live view analyses the camera picture of the person in the session to estimate facial "
    "expressions. It supports the clinician's attention and makes no decisions about anyone. "
    "The camera stays off until the person's consent is recorded."
)
REDRAW_EVERY_S = 0.3
QUEUE_TIMEOUT_S = 0.2
MAX_MARKER_NOTE_CHARS = 200
RECORD_BUTTON_KEY = "live.recording"
VIEW_NAMES = {  # the pipeline's test-time view sets, in a clinician's words
    "mirror+zoom": "Mirrored and zoomed (steadier, slower)",
    "mirror": "Mirrored (faster)",
    "none": "None (fastest)",
}
SMOOTHING_NAMES = {  # the smoother's methods, in a clinician's words
    "window": "Average of the last seconds",
    "ema": "Newer frames count more",
    "none": "None: each frame as read",
}
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
        st.session_state["live.recording_message"] = (
            f"The last {recorder.n_pending} results could not be saved."
        )
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
        format_func=SMOOTHING_NAMES.get,
        help="Average of the last seconds: every frame in the window counts the same (the "
        "default). Newer frames count more: follows a change a little sooner, wobbles a little "
        "more. None: each frame's own reading, steadiness traded away entirely: on a looped "
        "test clip it jumped between expressions about once a second.",
    )
    window_s = sidebar.slider(
        "Smoothing window (s)", 0.2, 3.0, SmoothingConfig().window_s, 0.1, key="live.window_s",
        disabled=method == "none",
        help="Longer: steadier labels, slower to follow a change. On real footage at 15 fps the "
        "default model's label followed a new expression about 0.65 s after the per-frame "
        "reading changed with 1 s (the default); 0.5 s follows sooner but, on a noisy webcam "
        "picture, changed the label for no reason two to three times as often. With 'Newer "
        "frames count more' this is twice the half-life.",
    )
    uncertain_below = sidebar.slider(
        "Show 'uncertain' below", 0.0, 0.9, 0.4, 0.05, key="live.uncertain_below",
        help="When the top smoothed probability is lower, the label reads 'uncertain'. Higher: "
        "fewer confident words for a face the model is unsure of, more time shown as "
        "'uncertain'. At 0.4 (the default) that was about a sixth of the frames of the test "
        "footage with the default model, mostly while the expression was changing. "
        "Expressions for which the model's card carries a calibrated threshold (the lowest at "
        "which its readings were right 80 % of the time on the selection split) use that "
        "instead; 0 turns 'uncertain' off.",
    )
    show_landmarks = sidebar.checkbox("Draw landmarks", value=False, key="live.landmarks")
    max_faces = sidebar.number_input("Most faces", 1, 4, 1, key="live.max_faces")
    tta = sidebar.selectbox(
        "Extra views of each face", TTA_CHOICES, index=TTA_CHOICES.index(PIPELINE_TTA),
        key="live.tta", format_func=VIEW_NAMES.get,
        help="Each face can also be analysed mirrored and slightly zoomed, and the readings "
        "averaged: the most views give the steadiest and most accurate labels but take six "
        "times the computing of none; fewer views keep up on a slow computer. The session "
        "records the choice.",
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
            resources.keep_loaded_models_out_of_collections()
        st.session_state["live.recognizer"] = recognizer
        st.session_state["live.recognizer_key"] = key
        if previous is not None:
            processor().configure(recognizer, False)
            previous.close()
    return st.session_state["live.recognizer"]


def toggle_recording(action: str, store, consent, model, recognizer, user) -> None:
    """The recording button's callback (before the rerun, so the run that follows already
    draws the new state): ``action`` is what the button said when it was clicked."""
    live = processor()
    if action == "stop":
        stop_recording(store)
        return
    if live.recorder is not None:
        return  # already recording (a second click that raced the first)
    from fer.sessions.recorder import SessionRecorder

    try:
        session_id = store.create_session(
            consent.id, recorded_model_label(model, recognizer.tta),
            recognizer.classes, "live", owner_id=user.id, actor=user.name,
        )
    except ValueError as error:  # e.g. consent withdrawn in another tab
        st.session_state["live.recording_message"] = f"Recording could not start: {error}"
        return
    live.start_recording(SessionRecorder(store, session_id))


def recording_controls(store, consent, model, recognizer, playing: bool, user) -> None:
    """One recording button in one place, the recording's state, and the saved session's
    downloads.

    While the camera plays the script never finishes, and Streamlit then keeps on screen,
    greyed, every element a previous run drew that this run does not draw again in the same
    place as the same widget. So the button is one widget whose label says "Start recording" or
    "Stop recording", and what follows it always takes the same number of places (placeholders
    left empty when there is nothing to say).
    """
    live = processor()
    recorder = live.recorder
    action = "start" if recorder is None else "stop"
    if action == "start":
        help_text = (
            "Writes every analysed face to the session store." if playing
            else "Start the camera first."
        )
    else:
        help_text = "Saves what was recorded and ends the session."
    st.button(
        "Start recording" if action == "start" else "Stop recording", key=RECORD_BUTTON_KEY,
        icon=":material/fiber_manual_record:" if action == "start" else ":material/stop:",
        disabled=action == "start" and not playing, help=help_text,
        on_click=toggle_recording, args=(action, store, consent, model, recognizer, user),
    )
    message_slot, status_slot, exports_slot = st.empty(), st.empty(), st.empty()
    message = st.session_state.pop("live.recording_message", None)
    if message:
        message_slot.error(plain(message))
    if recorder is not None:
        status_slot.markdown(
            f":red[:material/radio_button_checked:] **Recording** session #{recorder.session_id}"
        )
        return
    last_saved = st.session_state.get("live.last_saved")
    if last_saved is None:
        return
    try:
        info = store.get_session(last_saved, viewer=user)
    except ValueError:
        return  # deleted on another page
    status_slot.success(f"Session #{info.id} saved: {info.n_frames} face results.")
    with exports_slot.container():
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
    st.session_state["live.marker_message"] = sessions.mark_moment(
        store, recorder.session_id, t_seconds, "live.marker_note", user
    )


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
    message_slot, caption_slot = st.empty(), st.empty()  # always two places (see above)
    message = st.session_state.pop("live.marker_message", None)
    if message is not None:
        kind, text = message
        (message_slot.success if kind == "success" else message_slot.error)(plain(text))
    if not recording:
        caption_slot.caption("Moments can be marked while a session is being recorded.")


def flush_recording(live: LiveProcessor) -> None:
    """Write what the recorder holds (at most about once a second); on a database failure stop
    recording and say so where the recording button is."""
    recorder = live.recorder
    if recorder is None:
        return
    try:
        recorder.maybe_flush()
    except Exception as error:
        live.stop_recording()
        report_error(error)
        st.session_state["live.recording_message"] = (
            "Recording stopped: the results could not be saved."
        )
        st.rerun()  # the whole page, so the button says "Start recording" again


def live_loop(
    ctx, classes: list[str], panel, unreliable: Collection[str] = (), user=None
) -> None:
    """Redraw the side panel from the worker's updates while the camera plays.

    The run never ends while the camera plays, so the login's checks at the start of a run
    would not see ``user``'s account disabled or given a role without patient data meanwhile:
    the loop reads the account again every few seconds and, if it changed, reruns the page,
    whose checks then log out or end what the old role held (the recording among them).

    The script does not finish while the camera plays, and Streamlit keeps a chart that a later
    run replaces by a different one on screen, greyed, until the script finishes: a stale
    bars chart beside the current headline. So each run first draws the previous run's last
    view again, identical chart for chart, and only then newer ones.
    """
    live = processor()
    history = st.session_state.get("live.history")
    if history is None or history.classes != classes:
        history = st.session_state["live.history"] = LiveHistory(classes)
    with panel:
        view_slot = st.empty()
    view = st.session_state.get("live.view")
    if view is None:
        view_slot.info("Waiting for the first frames…")
    else:
        with view_slot.container():
            draw_panel(view)
    last_drawn = time.monotonic()
    while ctx.state.playing:
        if user is not None and not auth.account_unchanged(user):
            st.rerun()
        auth.touch()  # a running camera is activity: no idle logout in the middle of a session
        updates = drain(live.updates, QUEUE_TIMEOUT_S)
        if updates:
            history.extend(updates)
            st.session_state["live.latest"] = updates[-1]
        flush_recording(live)
        latest = st.session_state.get("live.latest")
        if latest is None or time.monotonic() - last_drawn < REDRAW_EVERY_S:
            continue
        last_drawn = time.monotonic()
        draw_id = (view.draw_id if view is not None else 0) + 1
        view = panel_view(draw_id, latest, classes, history, live, unreliable)
        if st.session_state.get("live.latency_of") is not latest:
            # Measured once per frame, as its label is about to be sent to the page.
            st.session_state["live.latency_ms"] = label_latency_ms(latest, live.clock())
            st.session_state["live.latency_of"] = latest
        view = replace(view, latency=f"{st.session_state['live.latency_ms']:.0f} ms")
        with view_slot.container():
            draw_panel(view)
        st.session_state["live.view"] = view


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
    unreliable = resources.unreliable_expressions(model_name)
    if unreliable:
        with st.expander(f"Read with caution: {', '.join(unreliable)}"):
            st.caption("What the robustness suite showed for this model (descriptive):")
            for name, reason in unreliable.items():
                st.text(f"{name}: {reason}")

    video_column, panel_column = st.columns([3, 2])
    with video_column:
        ctx = webrtc_streamer(
            key="live-camera",
            mode=WebRtcMode.SENDRECV,
            rtc_configuration=rtc,
            queued_video_frames_callback=live.recv_queued,
            media_stream_constraints={"video": True, "audio": False},
            async_processing=True,
        )
        playing = ctx.state.playing
        if live.recorder is not None and not playing:
            stop_recording(store)  # the camera stopped: end the recording with it
        recording_controls(store, consent, model, recognizer, playing, user)
        marker_controls(store, user)
    if not playing:
        for key in ("live.latest", "live.view", "live.latency_of"):  # a new stream, a new panel
            st.session_state.pop(key, None)
        # ...and its own clock: its times, rates and faces must not count from an earlier one.
        live.reset_clock()
        panel_column.info("Press **Start** to open the camera; predictions appear here.")
        return
    live_loop(ctx, classes, panel_column, unreliable, user)


if __name__ == "__main__":
    main()
