"""Session room: invite a client to a remote session and follow it live. The client joins from
their own device (the Join page) and gives their own consent; only then is their camera
analysed, and only they can start it."""

# streamlit_webrtc (aiortc) must be imported before TensorFlow/MediaPipe, or Python segfaults.
import streamlit_webrtc  # noqa: F401  # isort: skip

import time

import streamlit as st

from fer.rooms import RoomNotFoundError
from fer.rooms.credentials import format_code
from fer.rooms.store import WITHDRAWN_KEPT
from ui import auth, resources, rooms, sessions
from ui.errors import report_error
from ui.text import plain

INVITATIONS_KEY = "rooms.invitations"
MAX_MARKER_NOTE_CHARS = 200
# The view redraws four times a second: a message drawn once would vanish before it is read.
MARKER_MESSAGE_S = 8.0
STATUS_WORDS = {
    "waiting": "Waiting for the client's consent. Nothing is analysed or shown until the client "
    "agrees on their own device.",
    "consented": "The client's consent is on record.",
    "expired": "The invitation expired.",
    "ended": "The session room has ended.",
    "withdrawn": "The client withdrew their consent: the analysis stopped, and what was "
    "recorded under it was deleted.",
    WITHDRAWN_KEPT: "The client's consent was withdrawn: the analysis stopped, and what was "
    "recorded under it was kept under the clinic's policy.",
}


def create_form(store, user) -> None:
    try:
        lifetime = rooms.room_lifetime()
    except ValueError as error:
        st.error(f"The room settings are invalid: {error}")
        return
    with st.form("rooms.create_form", enter_to_submit=False):
        client_code = st.text_input(
            "Client code", key="rooms.client_code",
            help="The pseudonym the clinic uses for this client; no name is needed here.",
        )
        submitted = st.form_submit_button("Create room", type="primary", key="rooms.create")
    if not submitted:
        return
    try:
        invitation = store.create_room(
            user, client_code, lifetime, instance=rooms.instance_name(), actor=user.name
        )
    except (ValueError, PermissionError) as error:
        st.error(plain(f"The room could not be created: {error}"))
        return
    room = invitation.room
    st.session_state.setdefault(INVITATIONS_KEY, {})[room.id] = (
        rooms.join_link(str(invitation.token)), format_code(invitation.short_code)
    )
    st.query_params[rooms.ROOM_PARAMETER] = room.room_key
    st.rerun()


def choose_room(store, user):
    """The room named in the URL (``?room=``, the owner's only), else one picked from the
    owner's open rooms; None when there is none."""
    room_key = st.query_params.get(rooms.ROOM_PARAMETER)
    if room_key:
        try:
            return store.owned_room(room_key, user)
        except RoomNotFoundError:
            st.error("There is no room at this address for your account.")
            return None
    open_rooms = [room for room in store.list_rooms(user) if room.is_open()]
    if not open_rooms:
        return None
    room = st.selectbox(
        "Open rooms", open_rooms, key="rooms.pick",
        format_func=lambda room: f"Room {room.id}: client {room.client_code}",
    )
    if st.button("Open this room", key="rooms.open"):
        st.query_params[rooms.ROOM_PARAMETER] = room.room_key
        st.rerun()
    return None


def show_invitation(room) -> None:
    invitation = st.session_state.get(INVITATIONS_KEY, {}).get(room.id)
    if invitation is None:
        st.caption(
            "The join link and code were shown when the room was created; the database keeps "
            "neither. Create a new room to invite again."
        )
        return
    link, code = invitation
    st.write("Send the client this link (it is their key to the room):")
    st.code(link, language=None)
    st.write("Or read out this code; they type it on the join page:")
    st.code(code, language=None)
    st.caption(f"Both expire {rooms.expires_in_words(room)}; only this screen shows them.")


def mark_moment(session_store, live_room, recorder, user) -> None:
    """The "Mark moment" button's callback: the marker, and a message kept on screen a while."""
    t_seconds = live_room.recording_time()
    if t_seconds is None:
        message = ("error", "Not marked: not recording")
    else:
        message = sessions.mark_moment(
            session_store, recorder.session_id, t_seconds, "rooms.note", user
        )
    st.session_state["rooms.marker_message"] = (*message, time.monotonic() + MARKER_MESSAGE_S)


def marker_message() -> None:
    """The last marker's message, for a few seconds after the click."""
    message = st.session_state.get("rooms.marker_message")
    if message is None or time.monotonic() > message[2]:
        return
    kind, text, _ = message
    (st.success if kind == "success" else st.error)(plain(text))


def start_recording(session_store, live_room, user) -> None:
    """The "Start recording" button's callback (run as Streamlit takes the click, so that the
    room view's own refresh cannot drop it)."""
    from fer.sessions.recorder import SessionRecorder

    try:
        session_id = session_store.create_session(
            live_room.consent_id, live_room.model_label, live_room.classes, "live",
            notes="Remote session room", owner_id=user.id, actor=user.name,
        )
        live_room.start_recording(SessionRecorder(session_store, session_id))
    except (ValueError, PermissionError) as error:
        st.session_state["rooms.recording_error"] = f"Recording could not start: {error}"
        return
    st.session_state.setdefault(auth.ROOM_RECORDINGS_KEY, {})[live_room.room_id] = session_id


def stop_recording(live_room) -> None:
    """The "Stop recording" button's callback: the recording is saved and ended."""
    stopped = live_room.stop_recording()
    st.session_state.get(auth.ROOM_RECORDINGS_KEY, {}).pop(live_room.room_id, None)
    if stopped is not None:
        stopped.close()
        st.session_state["rooms.last_saved"] = stopped.session_id


def recording_controls(session_store, live_room, user) -> None:
    recorder = live_room.recorder
    if recorder is None:
        st.button(
            "Start recording", key="rooms.record_start", icon=":material/fiber_manual_record:",
            help="Writes every analysed face to the session store, under the client's consent.",
            on_click=start_recording, args=(session_store, live_room, user),
        )
        error = st.session_state.pop("rooms.recording_error", None)
        if error is not None:
            st.error(plain(error))
            return
        last = st.session_state.get("rooms.last_saved")
        if last is not None:
            st.success(f"Session #{last} saved; see Session replay.")
        return
    try:
        recorder.maybe_flush()
    except Exception as error:
        live_room.stop_recording()
        report_error(error)
        st.error("Recording stopped: the results could not be saved.")
        return
    st.markdown(
        f":red[:material/radio_button_checked:] **Recording** session #{recorder.session_id}"
        f" · {recorder.n_written + recorder.n_pending} face results"
    )
    st.button(
        "Stop recording", key="rooms.record_stop", icon=":material/stop:",
        on_click=stop_recording, args=(live_room,),
    )
    st.text_input(
        "Note for the moment (optional)", max_chars=MAX_MARKER_NOTE_CHARS, key="rooms.note"
    )
    st.button(
        "Mark moment", key="rooms.mark", icon=":material/bookmark_add:", on_click=mark_moment,
        args=(session_store, live_room, recorder, user),
    )
    marker_message()


@st.fragment(run_every=rooms.VIEW_REFRESH_S)
def room_view(store, room_id: int, user) -> None:
    """The room's state and, under the client's consent, the live readout; redraws itself."""
    if not auth.account_unchanged(user):  # disabled or given another role meanwhile
        st.rerun(scope="app")  # the full run logs out, or applies the new role
    room = store.get_room(room_id)
    status = room.status()
    live_room = rooms.room_registry().get(room.id)
    if live_room is not None and not room.is_open():
        # Expired or ended meanwhile: the analysis ends, a recording is saved. Withdrawn (on
        # the client's page or recorded on Session replay): the withdrawal ended the
        # recording's session, which takes no more results, so the unsaved ones are dropped.
        rooms.release(room.id, discard_recording=status == "withdrawn")
        live_room = None
    if status == "withdrawn" and store.sessions_recorded(room):
        status = WITHDRAWN_KEPT
    snapshot = None if live_room is None else live_room.snapshot()
    if snapshot is not None and snapshot.video_arriving:
        auth.touch()  # a session in progress is activity: no idle logout in the middle of it
    st.subheader("Client")
    st.write(STATUS_WORDS[status])
    if status == "consented":
        st.write(rooms.connection_in_words(snapshot))
        if snapshot is not None and snapshot.n_frames:
            st.caption(
                f"Frames analysed {snapshot.n_frames} · with faces {snapshot.n_with_faces}"
            )
    if status != "consented" or live_room is None or not live_room.analysing:
        return
    recording_controls(resources.session_store(), live_room, user)
    st.subheader("Live readout")
    rooms.show_readout(live_room, f"rooms.{room.id}")
    if snapshot is not None and snapshot.last_error:
        st.warning(plain(f"Last problem: {snapshot.last_error}"))


def main() -> None:
    user = auth.require_role(*auth.PATIENT_DATA_ROLES)
    st.title("Session room")
    store = rooms.room_store()
    room = choose_room(store, user)
    if room is None:
        st.subheader("Invite a client")
        create_form(store, user)
        return
    st.text(f"Room {room.id} · client {room.client_code}")
    if room.is_open():
        show_invitation(room)
        if rooms.prepare_model() is None:
            st.error(resources.NO_MODEL_MESSAGE)
            return
    room_view(store, room.id, user)
    columns = st.columns(2)
    if room.is_open() and columns[0].button(
        "End the room", key="rooms.end", icon=":material/call_end:"
    ):
        store.end_room(room.id, actor=user.name)
        rooms.release(room.id)
        st.rerun()
    if columns[1].button("Invite another client", key="rooms.new"):
        del st.query_params[rooms.ROOM_PARAMETER]
        st.rerun()


if __name__ == "__main__":
    main()
