"""The Upload page: consent first, clear errors for bad files with nothing stored, and real
images and videos saved as sessions."""

from tests.app.page_support import (  # isort: skip  (imports webrtc first)
    SHARED_VIDEO,
    audit_actions,
    build_tiny_model,
    face_frame_bgr,
    log_in,
    make_user,
    png_bytes,
    rows,
    shared_data_dir,
    webrtc_without_runtime,  # noqa: F401  (fixture)
)

import re
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from fer.realtime.upload import MAX_IMAGE_PIXELS, decode_image, upload_kind
from fer.sessions.store import SessionStore

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "2_Upload.py")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny")


pytestmark = pytest.mark.usefixtures("webrtc_without_runtime")


@pytest.fixture
def db_path(tmp_path, monkeypatch, tiny_model) -> Path:
    path = tmp_path / "sessions.db"
    monkeypatch.setenv("FER_SESSION_DB", str(path))
    monkeypatch.setenv("FER_MODEL", str(tiny_model))
    return path


@pytest.fixture
def clinician(db_path):
    return make_user(db_path, "dana.clinician", "clinician")


def open_page(user) -> AppTest:
    return log_in(AppTest.from_file(PAGE, default_timeout=120), user).run()


def consented_page(user) -> AppTest:
    at = open_page(user)
    at.text_input(key="upload.consent_name").input("Dana Client")
    at.checkbox(key="upload.consent_checkbox").set_value(True)
    at = at.button(key="upload.consent_button").click().run()
    assert not at.exception, at.exception
    return at


def upload(at: AppTest, name: str, content: bytes, mime: str, stride: int | None = None):
    at.file_uploader(key="upload.file").set_value((name, content, mime))
    if stride is not None:
        at.slider(key="upload.stride").set_value(stride)
    at = at.run()
    return at.button(key="upload.analyse").click().run()


def png_with_size(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width``×``height`` (no pixel data: a decompression bomb
    stand-in that costs nothing to build)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def blank_video(path: Path, n_frames: int = 12) -> bytes:
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (160, 120))
    for index in range(n_frames):
        writer.write(np.full((120, 160, 3), 40 + 10 * index, np.uint8))
    writer.release()
    return path.read_bytes()


def test_before_consent_nothing_can_be_uploaded_or_stored(db_path, clinician):
    at = open_page(clinician)
    assert not at.exception
    assert len(at.file_uploader) == 0
    assert rows(db_path, "consents") == 0 and rows(db_path, "sessions") == 0


@pytest.mark.parametrize(
    ("name", "content", "mime", "message"),
    [
        ("photo.png", b"this is not an image at all", "image/png", "not a readable image"),
        ("photo.jpg", b"", "image/jpeg", "empty"),
        ("photo.png", png_with_size(10_000, 5_000), "image/png", "megapixels"),
        ("clip.mp4", b"\x00\x01junk" * 500, "video/mp4", "could not be read as a video"),
    ],
)
def test_bad_files_show_an_error_and_store_nothing(
    db_path, clinician, name, content, mime, message
):
    at = upload(consented_page(clinician), name, content, mime)
    assert not at.exception, at.exception
    assert any(message in error.value for error in at.error), [e.value for e in at.error]
    assert rows(db_path, "sessions") == 0 and rows(db_path, "frames") == 0


def test_a_junk_video_is_named_as_uploaded_in_plain_words_and_leaves_no_progress_bar(
    db_path, clinician
):
    at = upload(consented_page(clinician), "x.mp4", b"\x00\x01junk" * 500, "video/mp4")
    assert not at.exception, at.exception
    (error,) = at.error
    shown = re.sub(r"\\(.)", r"\1", error.value)  # as rendered: plain() escapes punctuation
    assert shown == (
        "x.mp4 could not be read as a video: it is damaged or in a format we cannot open."
    )
    assert "upload.mp4" not in shown and "OpenCV" not in shown
    assert not at.get("progress"), "a progress bar stayed on screen"
    assert rows(db_path, "sessions") == 0


def test_a_truncated_image_is_refused():
    data = png_bytes(np.full((64, 64, 3), 128, np.uint8))
    with pytest.raises(ValueError, match="damaged|decoded"):
        decode_image(data[: len(data) // 2])


def test_the_size_limit_is_forty_megapixels():
    assert MAX_IMAGE_PIXELS == 40_000_000
    with pytest.raises(ValueError, match="megapixels"):
        decode_image(png_with_size(8_000, 5_001))
    # Beyond Pillow's own bomb limit (about 179 MP) the message was "not a readable image".
    with pytest.raises(ValueError, match="The image is 400 megapixels; the limit is 40 MP"):
        decode_image(png_with_size(20_000, 20_000))


def test_upload_kind_is_decided_by_extension():
    assert upload_kind("A.JPG") == "image" and upload_kind("b.webm") == "video"
    with pytest.raises(ValueError, match="neither an image"):
        upload_kind("notes.txt")


def test_a_video_without_faces_shows_an_error_and_stores_nothing(db_path, clinician, tmp_path):
    shared_data_dir()  # the face landmarker comes from FER_DATA_DIR
    video = blank_video(tmp_path / "blank.mp4")
    at = upload(consented_page(clinician), "blank.mp4", video, "video/mp4", 1)
    assert not at.exception, at.exception
    assert any("No face was found" in error.value for error in at.error)
    assert rows(db_path, "sessions") == 0 and rows(db_path, "frames") == 0


def test_a_face_image_becomes_a_session(db_path, clinician):
    frame_bgr = face_frame_bgr()
    at = upload(consented_page(clinician), "client.png", png_bytes(frame_bgr), "image/png")
    assert not at.exception, at.exception
    assert not at.error, [error.value for error in at.error]
    (info,) = SessionStore(db_path).list_sessions()
    assert (info.source, info.consent_by, info.n_frames) == ("image", "Dana Client", 1)
    assert info.owner_id == clinician.id
    assert info.ended_at is not None and "client.png" in info.notes
    # The record says how its predictions were made (the pipeline's mirror averaging).
    assert info.model.endswith(", tta mirror+zoom"), info.model
    assert any(f"session #{info.id}" in success.value for success in at.success)
    assert len(at.get("image")) == 1  # the overlay
    table = at.dataframe[0].value
    assert len(table) == 1 and table["Confidence"].between(0, 1).all()
    # A rerun shows the saved result instead of saving the same upload again.
    at = at.run()
    assert rows(db_path, "sessions") == 1
    assert [entry for entry in audit_actions(db_path) if entry[1] == "record_session"] == [
        ("dana.clinician", "record_session", f"session {info.id}")
    ]
    # The exports are built when their button is pressed (a callable), not on every rerun.
    buttons = at.get("download_button")
    assert [button.proto.label for button in buttons] == ["Download CSV", "Download JSON"]
    assert ("dana.clinician", "export_session") not in {
        (actor, action) for actor, action, _ in audit_actions(db_path)
    }


def test_faces_left_out_are_reported_next_to_the_result(db_path, clinician):
    frame_bgr = face_frame_bgr()
    two_faces = np.hstack([frame_bgr, frame_bgr])
    at = consented_page(clinician)
    at.number_input(key="upload.max_faces").set_value(1)
    at = upload(at, "two.png", png_bytes(two_faces), "image/png")
    assert not at.exception, at.exception
    (info,) = SessionStore(db_path).list_sessions()
    assert info.n_frames == 1
    assert any("more than 1 faces" in warning.value for warning in at.warning), [
        warning.value for warning in at.warning
    ]


def test_a_file_name_is_shown_as_plain_text(db_path, clinician):
    name = "![x](http://127.0.0.1:9/a).png"
    at = upload(consented_page(clinician), name, b"not an image", "image/png")
    assert not at.exception
    (error,) = at.error
    assert "![x]" not in error.value and "\\!\\[x\\]" in error.value


def test_a_video_becomes_a_session_with_a_timeline(db_path, clinician):
    content = (shared_data_dir() / SHARED_VIDEO).read_bytes()
    at = upload(consented_page(clinician), "session.mp4", content, "video/mp4", stride=30)
    assert not at.exception, at.exception
    assert not at.error, [error.value for error in at.error]
    (info,) = SessionStore(db_path).list_sessions()
    assert info.source == "video" and info.n_frames >= 15
    frames = SessionStore(db_path).load_frames(info.id)
    assert frames["t_seconds"].is_monotonic_increasing and frames["t_seconds"].max() > 15
    assert at.get("plotly_chart"), "no timeline shown"
    assert not at.get("progress"), "the finished progress bar stayed on screen"


def test_a_consent_withdrawn_elsewhere_closes_the_upload(db_path, clinician):
    at = consented_page(clinician)
    assert len(at.file_uploader) == 1
    store = SessionStore(db_path)
    store.withdraw_consent(1)  # the page's consent, withdrawn in another tab or by an admin
    at = at.run()
    assert not at.exception, at.exception
    assert len(at.file_uploader) == 0
    assert any("withdrawn elsewhere" in info.value for info in at.info), [
        info.value for info in at.info
    ]
    assert at.text_input(key="upload.consent_name") is not None  # consent is asked again


def test_an_upload_whose_session_id_went_to_another_client_is_not_shown_as_it(
    db_path, clinician
):
    from tests.sessions.helpers import CLASSES, forget_deleted_session_ids, record

    at = upload(consented_page(clinician), "dana.png", png_bytes(face_frame_bgr()), "image/png")
    store = SessionStore(db_path)
    (saved,) = store.list_sessions()
    store.delete_session(saved.id)  # in another tab
    forget_deleted_session_ids(db_path)  # a database from before r0006
    other = store.record_consent("Eli Other")
    reused = store.create_session(
        other.id, "m", list(CLASSES), "video", frames=[record()], owner_id=clinician.id
    )
    assert reused == saved.id
    at = at.run()
    assert not at.exception, at.exception
    assert not any("Eli Other" in text.value for text in at.text)
    assert not any("Saved as session" in success.value for success in at.success)
    assert at.button(key="upload.analyse") is not None  # offered for analysis again
