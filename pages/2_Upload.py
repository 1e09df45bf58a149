"""Upload: analyse an image or a video file and save the result as a session (after consent)."""

# streamlit_webrtc (aiortc) must be imported before TensorFlow/MediaPipe, or Python segfaults
# (this page does not stream, but it may be the first page a process runs).
import streamlit_webrtc  # noqa: F401  # isort: skip

from datetime import UTC, datetime

import streamlit as st

from fer.models.cards import recorded_model_label
from fer.realtime.smoothing import SmoothingConfig
from fer.realtime.upload import (
    IMAGE_TYPES,
    VIDEO_TYPES,
    analyse_image,
    analyse_video_bytes,
    faces_table,
    upload_kind,
)
from fer.realtime.video import UnreadableVideoError
from ui import auth, resources, sessions
from ui.consent import consent_banner, consent_gate
from ui.text import plain

PAGE = "upload"
PURPOSE = (
    "This page analyses a photo or a recording of the person named below and stores the "
    "results as a session for their clinician. Record that person's consent first."
)


def settings() -> tuple[int, float, int, str]:
    sidebar = st.sidebar
    sidebar.header("Upload settings")
    stride = sidebar.slider(
        "Video: analyse every n-th frame", 1, 30, 5, key="upload.stride",
        help="1 analyses every frame (slowest); 5 at 30 fps gives 6 results per second.",
    )
    uncertain_below = sidebar.slider(
        "Show 'uncertain' below", 0.0, 0.9, 0.4, 0.05, key="upload.uncertain_below"
    )
    max_faces = int(sidebar.number_input("Most faces", 1, 8, 4, key="upload.max_faces"))
    notes = sidebar.text_area("Session notes", key="upload.notes", max_chars=2000)
    return stride, uncertain_below, max_faces, notes


def analyse(uploaded, kind: str, model, stride: int, uncertain_below: float, max_faces: int):
    data = uploaded.getvalue()
    landmarker = resources.landmarker_path()
    if kind == "image":
        with st.spinner("Looking for faces…"):
            return analyse_image(data, model, uncertain_below, max_faces, landmarker)
    bar = st.progress(0.0, text="Analysing the video…")

    def progress(n_done: int, n_total: int) -> None:
        fraction = min(1.0, n_done / max(n_total, 1))
        bar.progress(fraction, text=f"Analysed {n_done} of about {n_total} frames")

    smoothing = SmoothingConfig(uncertain_below=uncertain_below)
    try:
        return analyse_video_bytes(
            data, uploaded.name, model, smoothing, stride, max_faces, landmarker, progress
        )
    finally:  # the result or the error takes its place; a finished bar would only linger
        bar.empty()


def saved_session(store, saved: dict, user):
    """The session this browser session's upload was saved as, or None once it was deleted. A
    session is known by its id and its start: before schema revision r0006 SQLite gave a deleted
    newest session's id to the next session, which may be another client's."""
    try:
        info = store.get_session(saved["session_id"], viewer=user)
    except ValueError:  # deleted, or no longer visible to this account
        return None
    return info if info.started_at == saved["started_at"] else None


def show_saved(store, info, analysis, user) -> None:
    from fer.evaluation.session_plots import session_timeline

    session_id = info.id
    st.success(
        f"Saved as session #{info.id} ({info.source}, {info.n_frames} face "
        f"result{'' if info.n_frames == 1 else 's'})."
    )
    st.text(f"Consent by {info.consent_by}")
    if analysis is not None and analysis.detector_warning:
        st.warning(analysis.detector_warning)
    for note in analysis.notes if analysis is not None else ():
        st.warning(plain(note), icon=":material/info:")
    if analysis is not None and analysis.preview_bgr is not None:
        caption = "Faces found" if info.source == "image" else "First frame with a face"
        st.image(analysis.preview_bgr, channels="BGR", caption=caption)
    frames = store.load_frames(session_id, viewer=user)
    if info.source == "image":
        st.dataframe(faces_table(analysis.records, info.classes), hide_index=True)
    else:
        for track_id in sorted(frames["track_id"].unique()):
            st.plotly_chart(
                session_timeline(frames, track_id=track_id), key=f"upload.timeline.{track_id}"
            )
        results = frames[["t_seconds", "track_id", "label", "confidence"]]
        st.dataframe(sessions.in_words(results), hide_index=True, height=240)
    sessions.export_buttons(store, session_id, user, "upload")


def main() -> None:
    user = auth.require_role(*auth.PATIENT_DATA_ROLES)
    st.title("Analyse an image or a video")
    store = resources.session_store()
    consent = consent_gate(store, PAGE, PURPOSE)
    if consent is None:
        st.info("Uploading opens once consent is recorded.")
        return
    consent_banner(store, PAGE, on_withdraw=lambda: st.session_state.pop("upload.saved", None))
    model_name = resources.choose_model("upload.model")
    model = resources.load_model_or_error(model_name) if model_name else None
    if model is None:
        return
    stride, uncertain_below, max_faces, notes = settings()
    uploaded = st.file_uploader(
        "Image or video of the person", type=list(IMAGE_TYPES + VIDEO_TYPES), key="upload.file",
        help=f"Images up to 40 megapixels ({', '.join(IMAGE_TYPES)}); videos "
        f"({', '.join(VIDEO_TYPES)}).",
    )
    if uploaded is None:
        st.info("Choose a file; its faces are analysed and stored as a new session.")
        return
    try:
        kind = upload_kind(uploaded.name)
    except ValueError as error:
        st.error(plain(error))
        return
    saved = st.session_state.get("upload.saved")
    if saved is not None and saved["file_id"] == uploaded.file_id:
        info = saved_session(store, saved, user)
        if info is not None:
            show_saved(store, info, saved["analysis"], user)
            return
        st.session_state.pop("upload.saved")  # deleted meanwhile: offer to analyse again
    if not st.button(f"Analyse the {kind} and save it as a session", type="primary",
                     key="upload.analyse"):
        return
    started = datetime.now(UTC)
    try:
        analysis = analyse(uploaded, kind, model, stride, uncertain_below, max_faces)
        note = f"Uploaded file: {uploaded.name}" + (f"\n{notes.strip()}" if notes.strip() else "")
        session_id = store.create_session(
            consent.id, recorded_model_label(model, analysis.tta), analysis.classes,
            kind, notes=note,
            started_at=started, frames=analysis.records, ended_at=datetime.now(UTC),
            owner_id=user.id, actor=user.name,
        )
    except UnreadableVideoError as error:  # its message names the user's file already
        st.error(plain(error))
        return
    except ValueError as error:  # bad file, no face, or refused by the store: nothing stored
        st.error(plain(f"{uploaded.name}: {error}"))
        return
    info = store.get_session(session_id, viewer=user)
    st.session_state["upload.saved"] = {
        "file_id": uploaded.file_id, "session_id": session_id, "started_at": info.started_at,
        "analysis": analysis,
    }
    show_saved(store, info, analysis, user)


if __name__ == "__main__":
    main()
