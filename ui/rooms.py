"""The remote session room's Streamlit side, shared by the clinician's "Session room" page and
the client's "Join" page: settings from the environment, the process-wide room registry, the
client's frame callback, and the clinician's live readout (drawn with ``ui.readout``'s functions).

Environment (read here, at the edge): ``FER_ROOM_LIFETIME_MIN`` (default 120) minutes until an
invitation expires; ``FER_PUBLIC_URL``, the app's address as clients reach it (behind a reverse
proxy), used in join links instead of the address the clinician's browser shows;
``FER_INSTANCE``, this instance's name when several share one database behind a proxy (lower-case
letters and digits): room keys start with it, and the proxy routes each room's client by it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from datetime import timedelta
from urllib.parse import urlencode

import streamlit as st

from fer.config import minutes_from_env
from fer.emotions import emotion_style
from fer.models.cards import recorded_model_label
from fer.realtime.tracking import face_name
from fer.rooms import credentials
from fer.rooms.attempts import AttemptLimiter
from fer.rooms.live import LEFT, PLAYING, close_analysis
from fer.rooms.registry import RoomRegistry
from fer.rooms.store import (
    DEFAULT_LIFETIME,
    MAX_LIFETIME,
    MIN_LIFETIME,
    WITHDRAWN_KEPT,
    Room,
    RoomNotFoundError,
    RoomStore,
)
from ui import resources
from ui.readout import LiveHistory, circumplex_plot, headline, probability_bars, signal_lines
from ui.sessions import unreliable_expressions

LIFETIME_ENV = "FER_ROOM_LIFETIME_MIN"
INSTANCE_ENV = "FER_INSTANCE"
CODE_PARAMETER = "code"
PUBLIC_URL_ENV = "FER_PUBLIC_URL"
JOIN_PATH = "join"
ROOM_PARAMETER = "room"
VIEW_REFRESH_S = 0.25
LATENCY_HELP = (
    "From the client's camera to the label on this page, over the last 10 seconds: the trip "
    "to the server, the analysis, and the wait until this view drew the label. The capture "
    "time is estimated from the video's own timestamps, anchored on the quickest frame seen, "
    "so the figure leaves out that quickest frame's own trip (encoding, network, decoding) "
    "and the last step from the server to this screen."
)
CLOSED_MESSAGES = {
    "expired": "This invitation has expired. Ask your clinician for a new link.",
    "ended": "This session has ended. You can close this page.",
    "withdrawn": (
        "You withdrew your consent. Nothing more is analysed, and what was recorded under it "
        "was deleted. You can close this page."
    ),
    WITHDRAWN_KEPT: (
        "Your consent was withdrawn. Nothing more is analysed. What was recorded before was "
        "kept under the clinic's policy; ask your clinician about it. You can close this page."
    ),
    "already consented": "Consent for this session is already on record.",
}
NOT_FOUND_MESSAGE = (
    "This link or code does not open a session. Check it with your clinician, or ask for a "
    "new one."
)


def room_lifetime(environ: Mapping[str, str] | None = None) -> timedelta:
    """``$FER_ROOM_LIFETIME_MIN`` as a duration (default two hours); ``ValueError`` for anything
    but 5 to 1440 minutes in ASCII digits (:func:`fer.config.minutes_from_env`)."""
    minutes = minutes_from_env(
        LIFETIME_ENV, DEFAULT_LIFETIME / timedelta(minutes=1),
        MIN_LIFETIME / timedelta(minutes=1), MAX_LIFETIME / timedelta(minutes=1),
        environ=environ,
    )
    return timedelta(minutes=minutes)


def instance_name(environ: Mapping[str, str] | None = None) -> str:
    """``$FER_INSTANCE``, checked; "" when unset (a single instance)."""
    environ = os.environ if environ is None else environ
    name = environ.get(INSTANCE_ENV, "").strip()
    if not name:
        return ""
    try:
        return credentials.check_instance_name(name)
    except ValueError as error:
        raise ValueError(f"{INSTANCE_ENV}: {error}") from None


def hosted_elsewhere(room: Room, environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``room`` lives in another app instance than this one (its key names another)."""
    host = credentials.instance_of(room.room_key)
    return bool(host) and host != instance_name(environ)


def forwarding_link(room: Room, typed_code: str) -> str:
    """A link to the join page that the proxy routes to the instance hosting ``room``, carrying
    the code that was typed so the client need not type it again."""
    code = credentials.normalise_code(typed_code) or ""
    return f"?{urlencode({ROOM_PARAMETER: room.room_key, CODE_PARAMETER: code})}"


def room_from_forwarded_code(store: RoomStore, room_key: str, typed_code: str) -> Room:
    """The room a forwarding link names, if its code opens that very room (a closed one while
    its client's consent is in force, to withdraw it); ``RoomNotFoundError`` (or
    ``RoomClosedError``) otherwise."""
    from fer.rooms import RoomNotFoundError

    room = store.room_by_code(typed_code, include_closed_with_consent=True)
    if room.room_key != room_key:
        raise RoomNotFoundError("The code opens another room")
    return room


def join_link(token: str, environ: Mapping[str, str] | None = None) -> str:
    """The link a client opens: ``$FER_PUBLIC_URL`` or the app's own address, the join page,
    and the token."""
    environ = os.environ if environ is None else environ
    base = environ.get(PUBLIC_URL_ENV, "").strip() or app_url(st.context.url or "")
    return f"{base.rstrip('/')}/{JOIN_PATH}?{ROOM_PARAMETER}={token}"


def app_url(page_url: str) -> str:
    """The app's own address from the address of one of its pages (``st.context.url`` keeps
    the page's path under ``st.navigation``): the last path segment goes if it names a page."""
    from ui.navigation import JOIN, LOGIN, PAGES

    base, _, last = page_url.rstrip("/").rpartition("/")
    if "://" in base and last in {spec.url_path for spec in (LOGIN, JOIN, *PAGES)}:
        return base
    return page_url.rstrip("/")


@st.cache_resource(show_spinner=False)
def _room_store(location: str) -> RoomStore:
    return resources._open(RoomStore, location)


def room_store() -> RoomStore:
    return _room_store(resources.session_db_location())


@st.cache_resource(show_spinner=False)
def room_registry() -> RoomRegistry:
    """The rooms this process hosts (one registry per server process, shared by sessions),
    with its sweeper ending rooms past their expiry or whose consent was withdrawn elsewhere."""
    registry = RoomRegistry()
    registry.start_sweeping(consent_in_force=consent_in_force)
    return registry


def consent_in_force(room_id: int) -> bool:
    """Whether room ``room_id``'s client consent is on record and not withdrawn (read from the
    database: the withdrawal may come from any page, app instance or the API)."""
    store = room_store()
    try:
        return store.consent_in_force(store.get_room(room_id))
    except RoomNotFoundError:  # deleted with its consent's data: nothing is in force
        return False


@st.cache_resource(show_spinner=False)
def code_attempts() -> AttemptLimiter:
    return AttemptLimiter()


def browser_session_id() -> str:
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return "unknown" if ctx is None else ctx.session_id


def expires_in_words(room: Room, now=None) -> str:
    from fer.sessions.records import utc_now

    remaining = room.expires_at - (utc_now() if now is None else now)
    minutes = max(0, int(remaining.total_seconds() // 60))
    local = room.expires_at.astimezone().strftime("%H:%M")
    return f"at {local} (in {minutes // 60} h {minutes % 60:02d} min)"


# ---------------------------------------------------------------------------- client's camera


def frame_callback(live_room):
    """The client's ``video_frame_callback``: the frame to the room (analysed only under
    consent), and back unchanged as the client's own picture."""

    def callback(frame):
        import av

        frame_bgr = frame.to_ndarray(format="bgr24")
        live_room.process_frame(frame_bgr, frame.time)
        return av.VideoFrame.from_ndarray(frame_bgr, format="bgr24")

    return callback


def room_model_name() -> str | None:
    """The model a room uses: ``$FER_MODEL``, else the preferred published model, else the
    first one; None when there is none (the client cannot pick)."""
    forced = os.environ.get(resources.MODEL_ENV)
    if forced:
        return forced
    names = resources.available_models()
    if not names:
        return None
    return resources.PREFERRED_MODEL if resources.PREFERRED_MODEL in names else names[0]


def prepare_model(show_error: bool = True):
    """Load the room's model into this process's cache (the clinician's page does it while the
    client reads the consent, so the client does not wait); None when there is none."""
    name = room_model_name()
    return None if name is None else resources.load_model_or_error(name, show_error)


def warm_up(model, tta: str) -> None:
    """Run the model once before the first frame: its first call compiles, and streamlit-webrtc
    ends a stream whose frame callback takes longer than ten seconds."""
    import numpy as np

    model.predict(np.zeros((1, 48, 48), np.uint8), tta=tta)


def start_analysis(live_room, room: Room) -> bool:
    """Give the room a recognizer under the client's consent, until the room expires; False
    (after saying why to the client in plain words) when no model can be loaded."""
    from fer.realtime.pipeline import EmotionRecognizer
    from fer.sessions.records import utc_now

    model = prepare_model(show_error=False)  # the clinician's page shows the error id
    if model is None:
        st.error("The clinic's analysis is not set up. Tell your clinician.")
        return False
    recognizer = EmotionRecognizer(model=model, landmarker_path=resources.landmarker_path())
    with st.spinner("Preparing…"):
        recognizer.load()
        warm_up(model, recognizer.tta)
        # The clinician's view reruns four times a second, each rerun ending in full collections.
        resources.keep_loaded_models_out_of_collections()
    left_s = (room.expires_at - utc_now()).total_seconds()
    live_room.allow_analysis(
        room.consent_id, recognizer, recorded_model_label(model, recognizer.tta),
        until=time.monotonic() + left_s,
    )
    return True


def stop_analysis(live_room, discard_recording: bool = False) -> int | None:
    """Stop analysing and recording in ``live_room``; the recording is saved and ended (with
    ``discard_recording``, its unsaved results are dropped). Returns the id of the session that
    was being recorded. The analysis stops even when saving fails, whose error is raised."""
    recognizer, recorder = live_room.forbid_analysis()
    session_id = None if recorder is None else recorder.session_id
    close_analysis(recognizer, recorder, discard_recording)
    return session_id


def release(room_id: int, discard_recording: bool = False) -> None:
    """This process stops hosting the room: analysis and recording stop (the recording is
    saved and ended; with ``discard_recording``, as after a withdrawal, which ended the
    recording's session and may have deleted it, its unsaved results are dropped)."""
    close_analysis(*room_registry().close(room_id), discard_recording=discard_recording)


def camera_state(ctx) -> str:
    from fer.rooms.live import CONNECTING, STOPPED

    if ctx.state.playing:
        return PLAYING
    return CONNECTING if ctx.state.signalling else STOPPED


# -------------------------------------------------------------------------- clinician's view


def connection_in_words(snapshot) -> str:
    if snapshot is not None and snapshot.video_arriving:
        return "Client's camera on; video arriving."
    if snapshot is None or snapshot.camera == "not joined":
        return "The client has not started their camera here yet."
    if snapshot.camera == LEFT:
        return "The client left the session."
    if snapshot.camera == PLAYING:
        return "Client's camera on, but no video has arrived for a few seconds."
    if snapshot.camera == "connecting":
        return "The client's camera is connecting…"
    return "The client's camera is off (paused by the client)."


def show_latency(live_room) -> None:
    summary = live_room.latency_summary()
    columns = st.columns(2)
    if summary is None:
        columns[0].metric("Camera to label, median", "–", help=LATENCY_HELP)
        columns[1].metric("Camera to label, 95th percentile", "–", help=LATENCY_HELP)
        return
    columns[0].metric("Camera to label, median", f"{summary.p50_ms:.0f} ms", help=LATENCY_HELP)
    columns[1].metric(
        "Camera to label, 95th percentile", f"{summary.p95_ms:.0f} ms", help=LATENCY_HELP
    )
    st.caption(
        "Median parts: "
        + " · ".join(f"{name} {value:.0f} ms" for name, value in summary.parts_p50_ms.items())
        + f" ({summary.n_samples} labels)"
    )


def show_readout(live_room, key: str) -> None:
    """The client's faces as the Live page shows them: labels, bars, action units, head pose
    and the circumplex; one latency sample per newly drawn frame."""
    history_key, seen_key = f"{key}.history", f"{key}.seen"
    history = st.session_state.get(history_key)
    if history is None or history.classes != live_room.classes:
        history = st.session_state[history_key] = LiveHistory(live_room.classes)
    updates = live_room.updates_since(st.session_state.get(seen_key, 0))
    if updates:
        history.extend(updates)
        st.session_state[seen_key] = updates[-1].sequence
        st.session_state[f"{key}.latest"] = updates[-1]
    latest = st.session_state.get(f"{key}.latest")
    if latest is None:
        st.info("Waiting for the client's first frames…")
        return
    unreliable = unreliable_expressions(live_room.model_label)
    if not latest.results:
        st.info("No face in view.")
    else:
        st.markdown(
            "  \n".join(
                f"## {emotion_style(result.label).icon} "
                f"{headline(result, live_room.classes, unreliable)}"
                for result in latest.results
            )
        )
    live_room.note_rendered(latest, time.monotonic())
    show_latency(live_room)
    if not latest.results:
        return
    primary = latest.results[0]
    st.plotly_chart(
        probability_bars(live_room.classes, primary.smoothed, face_name(primary.track_id)),
        key=f"{key}.bars",
    )
    for result in latest.results:
        st.text("\n".join([face_name(result.track_id), *signal_lines(result)]))
    trail = history.trail(primary.track_id)
    if len(trail):
        title = f"{face_name(primary.track_id)}: valence and arousal, last {history.trail_s:.0f} s"
        st.plotly_chart(circumplex_plot(trail, title), key=f"{key}.circumplex")
    st.caption("Descriptive readings of the face, not a diagnosis and not felt emotion.")
