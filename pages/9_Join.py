"""Join a remote session: the client's own consent, then their camera. No login: the room's
link (or the short code read out by the clinician) is the credential, and this page shows
nothing but this client's consent and camera."""

# streamlit_webrtc (aiortc) must be imported before TensorFlow/MediaPipe, or Python segfaults.
from streamlit_webrtc import WebRtcMode, webrtc_streamer  # isort: skip

import html

import streamlit as st

from fer.rooms import RoomClosedError, RoomNotFoundError
from fer.rooms.live import LEFT
from fer.rooms.statement import consent_statement, explanation
from fer.rooms.store import WITHDRAWN_KEPT
from ui import resources, rooms
from ui.errors import LOGGER, new_error_id, report_error
from ui.ice_servers import rtc_configuration
from ui.navigation import leave_pages_folder_mode
from ui.text import plain

ROOM_KEY = "join.room_id"
# The camera's own buttons (inside the webrtc component), in the client's words: the client
# starts and pauses it there; nothing on the clinician's side can.
CAMERA_ON, CAMERA_OFF = "Turn on my camera", "Pause my camera"
NOTICE_KEY = "join.notice"
# The room whose analysis this page stopped when the client ended or withdrew: it stays
# stopped even if recording that in the database failed, until the client tries again.
STOPPED_KEY = "join.stopped_room"
LEAVE_FAILED_KEY = "join.leave_failed"
# What failed while the analysis stopped as the client left (it stopped all the same).
STOP_FAILED_KEY = "join.stop_failed"


def client_actor(room) -> str:
    return f"client of room {room.id}"


def show_closed(reason: str) -> None:
    notice = st.session_state.pop(NOTICE_KEY, None)
    if notice:
        st.info(notice, icon=":material/info:")
    st.warning(rooms.CLOSED_MESSAGES.get(reason, rooms.NOT_FOUND_MESSAGE), icon=":material/block:")


def guarded_guess(find_room, not_found_message: str, icon: str | None = None):
    """``find_room()``, counted as a guess: refused unchecked while this browser session (or
    this instance) has made too many wrong ones; a wrong one is counted and explained."""
    limiter, guesser = rooms.code_attempts(), rooms.browser_session_id()
    wait_s = limiter.begin(guesser)  # counted as wrong from here, so parallel guesses count
    if wait_s > 0:
        st.error(limiter.refusal_message(guesser, wait_s))
        return None
    wrong = False
    try:
        return find_room()
    except RoomNotFoundError:
        wrong = True
        st.error(not_found_message, icon=icon)
    except RoomClosedError as error:
        show_closed(error.reason)
    finally:
        if not wrong:  # a right code (its room open or not), or a failure of ours
            limiter.forgive(guesser)
    return None


def room_from_code(store):
    """The short-code form; the room once a right code was typed."""
    st.write("Type the session code your clinician read out to you.")
    with st.form("join.code_form", enter_to_submit=True):
        typed = st.text_input("Session code", key="join.code", max_chars=20)
        submitted = st.form_submit_button("Join", type="primary", key="join.code_submit")
    if not submitted:
        return None
    return guarded_guess(
        lambda: store.room_by_code(typed, include_closed_with_consent=True),
        "No session has this code. Check it with your clinician.",
    )


def room_from_forwarded_code(store, room_key: str, typed: str):
    """The room a link from another app instance names with the code typed there."""
    return guarded_guess(
        lambda: rooms.room_from_forwarded_code(store, room_key, typed),
        rooms.NOT_FOUND_MESSAGE, icon=":material/link_off:",
    )


def send_on(room, typed: str) -> None:
    """The room lives in another app instance: a link the proxy routes there (a page load,
    not a rerun, so that the proxy sees it)."""
    st.info("Your session is ready on another of the clinic's servers.", icon=":material/info:")
    link = html.escape(rooms.forwarding_link(room, typed), quote=True)
    st.markdown(f'<a href="{link}" target="_self">Continue to your session</a>',
                unsafe_allow_html=True)


def find_room(store):
    """The room this browser session joined, from the link's token, or from a typed code: an
    open one, or a closed one whose client may still withdraw their consent there."""
    room_id = st.session_state.get(ROOM_KEY)
    if room_id is not None:
        return store.get_room(room_id)
    token = st.query_params.get(rooms.ROOM_PARAMETER)
    forwarded_code = st.query_params.get(rooms.CODE_PARAMETER)
    if token is not None and forwarded_code is not None:
        room = room_from_forwarded_code(store, token, forwarded_code)
        if room is not None:
            st.session_state[ROOM_KEY] = room.id
            # Both leave the address bar: the code is a secret, and the room key alone is no
            # link (a reload would find no room and hide the code form). The proxy's cookie
            # keeps a reload on this instance, where the code form opens the room again.
            del st.query_params[rooms.CODE_PARAMETER]
            del st.query_params[rooms.ROOM_PARAMETER]
        return room
    if token is not None:
        try:
            room = store.room_by_token(token, include_closed_with_consent=True)
        except RoomNotFoundError:
            st.error(rooms.NOT_FOUND_MESSAGE, icon=":material/link_off:")
            return None
        except RoomClosedError as error:
            show_closed(error.reason)
            return None
        st.session_state[ROOM_KEY] = room.id
        return room
    room = room_from_code(store)
    # A closed room has no live state to reach: its consent is withdrawn in the database.
    if room is not None and room.is_open() and rooms.hosted_elsewhere(room):
        send_on(room, st.session_state.get("join.code", ""))
        return None
    if room is not None:
        st.session_state[ROOM_KEY] = room.id
        st.rerun()  # without the code form
    return None


def consent_form(store, room) -> None:
    retention = resources.retention_days()
    for paragraph in explanation(retention):
        st.markdown(paragraph)
    statement = consent_statement(retention)
    st.markdown(f"> {statement}")
    with st.form("join.consent_form", enter_to_submit=False):
        name = st.text_input("Your name", key="join.name")
        agreed = st.checkbox("I have read this and I agree", key="join.agree")
        submitted = st.form_submit_button("I agree", type="primary", key="join.consent")
    if not submitted:
        st.info("Your camera stays off until you agree.", icon=":material/videocam_off:")
        return
    if not name.strip():
        st.error("Please type your name.")
        return
    if not agreed:
        st.error("Tick the box to agree; nothing is analysed without it.")
        return
    try:
        room, consent = store.record_client_consent(
            room.id, name, statement, actor=client_actor(room)
        )
    except RoomClosedError as error:
        show_closed(error.reason)
        return
    except ValueError as error:
        st.error(plain(f"Your consent could not be recorded: {error}"))
        return
    st.rerun()


def leave(store, room, live_room, withdraw: bool) -> None:
    """The "End the session" and "Withdraw my consent" buttons' callback: stop analysing (the
    recording is saved and ended, or dropped unsaved when withdrawing: it is about to be
    deleted), then withdraw consent (deleting what was recorded) or end the room, whether or
    not the recording could be saved. A callback runs as soon as Streamlit takes the click,
    before the script: a click in a script run that the camera component interrupts (it reruns
    the page when its connection changes) would otherwise be dropped, and a withdrawal must
    never be."""
    st.session_state[STOPPED_KEY] = room.id
    try:
        rooms.stop_analysis(live_room, discard_recording=withdraw)
    except Exception as error:  # stopped all the same; the page says what failed
        st.session_state[STOP_FAILED_KEY] = (withdraw, error)
    live_room.set_camera(LEFT)
    try:
        if withdraw:
            store.withdraw_client_consent(room.id, delete_data=True, actor=client_actor(room))
        else:
            store.end_room(room.id, actor=client_actor(room))
    except Exception as error:  # the analysis stays stopped; the page says what failed
        st.session_state[LEAVE_FAILED_KEY] = (withdraw, error)
        return
    rooms.release(room.id)  # the script that follows finds the room closed and says so


def report_stop_failure() -> None:
    """What failed while the analysis stopped as the client left, once."""
    failed = st.session_state.pop(STOP_FAILED_KEY, None)
    if failed is None:
        return
    withdraw, error = failed
    error_id = new_error_id()
    LOGGER.error("error id %s: stopping a room's analysis", error_id, exc_info=error)
    what = (
        "something failed as it stopped" if withdraw
        else "the end of its recording may not have been saved"
    )
    st.warning(
        f"The analysis of your camera is stopped, but {what} (error id {error_id}). "
        "Tell your clinician.",
        icon=":material/warning:",
    )


def stopped(store, room, live_room) -> None:
    """The page after the client ended or withdrew but the database did not record it: the
    analysis is off, and both buttons are there to try again."""
    failed = st.session_state.pop(LEAVE_FAILED_KEY, None)
    if failed is not None:
        withdraw, error = failed
        report_error(error)
        what = "your withdrawal" if withdraw else "the end of the session"
        st.warning(
            f"The analysis of your camera is stopped, but {what} could not be recorded. "
            "Press the button again; if it fails again, tell your clinician.",
            icon=":material/warning:",
        )
    else:
        st.info("The analysis of your camera is stopped.", icon=":material/videocam_off:")
    leave_buttons(store, room, live_room)


def leave_buttons(store, room, live_room) -> None:
    st.button(
        "End the session", key="join.end", icon=":material/call_end:", on_click=leave,
        args=(store, room, live_room, False),
    )
    withdraw_control(
        "Withdrawing stops the analysis at once, ends the session and deletes what was "
        "recorded under your consent.",
        leave, (store, room, live_room, True),
    )


def withdraw_control(explanation: str, on_click, args: tuple) -> None:
    """The "Withdraw my consent" button, folded away under what withdrawing does."""
    with st.expander("Withdraw my consent", icon=":material/block:"):
        st.write(explanation)
        st.button("Withdraw my consent", key="join.withdraw", on_click=on_click, args=args)


def withdraw_after_close(store, room) -> None:
    """The "Withdraw my consent" button's callback once the room is closed (nothing is
    analysed there any more)."""
    try:
        store.withdraw_client_consent(room.id, delete_data=True, actor=client_actor(room))
    except Exception as error:  # the page says what failed
        st.session_state[LEAVE_FAILED_KEY] = (True, error)


def closed(store, room, status: str) -> None:
    """A room that can no longer be joined. Its client may still withdraw the consent they
    gave in it: the statement they agreed to promises that, on this page, at any time."""
    in_force = store.consent_in_force(room)
    # A withdrawn consent's sessions take no more results: a recording's unsaved ones go.
    rooms.release(room.id, discard_recording=not in_force)
    if room.consent_id is not None and not in_force:
        status = "withdrawn"  # an ended room stays ended when its consent is withdrawn
        if store.sessions_recorded(room):
            status = WITHDRAWN_KEPT
    show_closed(status)
    if not in_force:
        return
    failed = st.session_state.pop(LEAVE_FAILED_KEY, None)
    if failed is not None:
        report_error(failed[1])
        st.warning(
            "Your withdrawal could not be recorded. Press the button again; if it fails again, "
            "tell your clinician.",
            icon=":material/warning:",
        )
    withdraw_control(
        "The session is over, but your consent still stands. Withdrawing it deletes what was "
        "recorded under it.",
        withdraw_after_close, (store, room),
    )


def camera(store, room) -> None:
    live_room = rooms.room_registry().room(room.id)
    if st.session_state.get(STOPPED_KEY) == room.id:
        stopped(store, room, live_room)
        return
    if live_room.consent_id != room.consent_id and not rooms.start_analysis(live_room, room):
        return
    try:
        rtc = rtc_configuration()
    except ValueError:
        st.error("The clinic's network settings are wrong. Tell your clinician.")
        return
    st.success("Your consent is on record.", icon=":material/verified_user:")
    st.write(
        "Press **Turn on my camera** when you are ready, and **Pause my camera** whenever you "
        "like. Only you can turn it on."
    )
    ctx = webrtc_streamer(
        key=f"join-camera-{room.id}",
        mode=WebRtcMode.SENDRECV,
        rtc_configuration=rtc,
        video_frame_callback=rooms.frame_callback(live_room),
        media_stream_constraints={"video": True, "audio": False},
        async_processing=True,
        translations={"start": CAMERA_ON, "stop": CAMERA_OFF},
    )
    live_room.set_camera(rooms.camera_state(ctx))
    st.caption(
        "You see your own picture here. Your clinician sees the estimates of your facial "
        "expressions, not this picture."
    )
    leave_buttons(store, room, live_room)


def main() -> None:
    if leave_pages_folder_mode():  # started without app.py (see ui.navigation): go through it
        st.rerun()
    st.title("Join your session")
    store = rooms.room_store()
    room = find_room(store)
    if room is None:
        return
    report_stop_failure()
    status = room.status()
    if status == "waiting":
        consent_form(store, room)
    elif status == "consented":
        camera(store, room)
    else:
        closed(store, room, status)


if __name__ == "__main__":
    main()
