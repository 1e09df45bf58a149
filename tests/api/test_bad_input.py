"""Bad input is a 4xx with a message for a person; an unexpected failure a 500 with an id only."""

from __future__ import annotations

import struct
import zlib

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from fer.api import create_app
from tests.api.helpers import SERVICE_TOKEN


def png_bytes(height: int = 64, width: int = 64) -> bytes:
    ok, encoded = cv2.imencode(".png", np.full((height, width, 3), 128, np.uint8))
    assert ok
    return encoded.tobytes()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"this is not an image", "not a readable image"),
        (png_bytes()[:60], "not a readable image|damaged|could not be decoded"),
        (b"GIF89a" + b"\x00" * 20, "not a readable image|damaged|could not be decoded"),
    ],
)
def test_analyze_refuses_what_is_not_an_image(client, world, data, message):
    response = client.post("/v1/analyze", headers=world.headers("dr.a"),
                           files={"file": ("face.png", data, "image/png")})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    detail = response.json()["detail"]
    assert any(part in detail for part in message.split("|")), detail


def huge_png_header(width: int = 8_000, height: int = 6_000) -> bytes:
    """A PNG that claims to be huge: its header and a first scrap of pixel data, no more."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(
        b"IDAT", zlib.compress(b"\x00" * 64)
    ) + chunk(b"IEND", b"")


def test_analyze_refuses_an_image_over_the_pixel_limit(client, world):
    response = client.post("/v1/analyze", headers=world.headers("dr.a"),
                           files={"file": ("face.png", huge_png_header(), "image/png")})
    assert response.status_code == 400 and "limit" in response.json()["detail"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"files": {"image": ("face.png", b"abc", "image/png")}}, "form field 'file' is missing"),
        ({"data": {"file": "just text"}}, "form field 'file'"),
        ({}, "form field 'file' is missing"),
        ({"content": b"{}", "headers": {"Content-Type": "application/json"}}, "'file'"),
    ],
)
def test_analyze_names_a_wrong_or_missing_field(client, world, kwargs, message):
    headers = {**world.headers("dr.a"), **kwargs.pop("headers", {})}
    response = client.post("/v1/analyze", headers=headers, **kwargs)
    assert response.status_code == 422
    assert message in response.json()["detail"]


def test_analyze_refuses_a_bad_max_faces(client, world):
    response = client.post("/v1/analyze?max_faces=0", headers=world.headers("dr.a"),
                           files={"file": ("face.png", png_bytes(), "image/png")})
    assert response.status_code == 422 and "max_faces" in response.json()["detail"]


def test_a_broken_multipart_body_is_a_400(client, world):
    headers = {**world.headers("dr.a"), "Content-Type": "multipart/form-data; boundary=x"}
    response = client.post("/v1/analyze", headers=headers, content=b"--x\r\nbroken")
    assert 400 <= response.status_code < 500
    assert "detail" in response.json()


def test_a_body_over_the_limit_is_a_413_before_it_is_read(world):
    app = create_app(world.database, service_token=SERVICE_TOKEN, max_body_bytes=1024)
    client = TestClient(app)
    headers = {"Authorization": f"Bearer {SERVICE_TOKEN}"}
    response = client.post("/v1/analyze", headers=headers,
                           files={"file": ("face.png", b"x" * 5000, "image/png")})
    assert response.status_code == 413 and "larger than" in response.json()["detail"]

    def chunks():  # no Content-Length: the limit counts the bytes as they come
        boundary = b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.png\""
        yield boundary + b"\r\nContent-Type: image/png\r\n\r\n"
        for _ in range(10):
            yield b"x" * 512

    headers["Content-Type"] = "multipart/form-data; boundary=b"
    response = client.post("/v1/analyze", headers=headers, content=chunks())
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/v1/sessions/abc", "path parameter 'session_id'"),
        ("/v1/sessions/0", "path parameter 'session_id'"),
        ("/v1/sessions/-3", "path parameter 'session_id'"),
        ("/v1/sessions/99999999999999999999999", "path parameter 'session_id'"),
        ("/v1/sessions/1/frames?format=xml", "query parameter 'format'"),
        ("/v1/sessions/1/report?format=docx", "query parameter 'format'"),
    ],
)
def test_a_bad_id_or_format_is_a_422_that_says_which(client, world, path, message):
    response = client.get(path, headers=world.headers("boss"))
    assert response.status_code == 422
    assert message in response.json()["detail"]


def test_an_unknown_session_is_a_404(client, world):
    response = client.get("/v1/sessions/12345", headers=world.headers("boss"))
    assert response.status_code == 404 and response.json()["detail"]


def test_an_unexpected_error_is_a_500_with_an_error_id_only(world, caplog):
    app = create_app(world.database, service_token=SERVICE_TOKEN)

    def broken(*_args, **_kwargs):
        raise RuntimeError("secret internals /etc/passwd")

    app.state.store.list_sessions = broken
    client = TestClient(app)
    with caplog.at_level("ERROR", logger="fer.api.errors"):
        response = client.get("/v1/sessions",
                              headers={"Authorization": f"Bearer {SERVICE_TOKEN}"})
    assert response.status_code == 500
    body = response.json()
    assert set(body) == {"detail", "error_id"} and len(body["error_id"]) == 12
    assert "secret" not in response.text and "Traceback" not in response.text
    assert body["error_id"] in caplog.text and "secret internals" in caplog.text


def test_errors_are_json_for_unknown_paths_and_methods(client, world):
    missing = client.get("/nowhere")
    assert missing.status_code == 404 and missing.json() == {"detail": "Not Found"}
    wrong = client.put("/v1/sessions", headers=world.headers("boss"))
    assert wrong.status_code == 405 and wrong.json()["detail"]


def test_a_405_lists_every_method_of_the_path(client, world):
    response = client.put("/v1/sessions/1", headers=world.headers("boss"))
    assert response.status_code == 405
    assert response.headers["allow"] == "DELETE, GET, HEAD"


@pytest.mark.parametrize(
    ("height", "width", "detail"),
    [
        (1, 1, "The image is 1×1 pixels: too small to hold a face (the smallest side must be at "
         "least 8 pixels)."),
        # A tiny file, but MediaPipe would abort the whole server on a side this long.
        (32_767, 8, "The image is 8×32767 pixels: no side may be longer than 16384 pixels. "
         "Please crop or scale it down and upload it again."),
    ],
)
def test_an_image_of_a_size_the_pipeline_cannot_take_is_refused_in_words(
    client, world, height, width, detail
):
    response = client.post("/v1/analyze", headers=world.headers("dr.a"),
                           files={"file": ("odd.png", png_bytes(height, width), "image/png")})
    assert response.status_code == 400
    assert response.json()["detail"] == detail


def test_an_upload_larger_than_the_spool_never_reaches_the_disk(client, world, monkeypatch):
    import tempfile

    rolled_over = []
    original = tempfile.SpooledTemporaryFile.rollover

    def rollover(self):
        rolled_over.append(self)
        return original(self)

    monkeypatch.setattr(tempfile.SpooledTemporaryFile, "rollover", rollover)
    data = b"not an image" + bytes(3 * 1024 * 1024)
    response = client.post("/v1/analyze", headers=world.headers("dr.a"),
                           files={"file": ("big.png", data, "image/png")})
    assert response.status_code == 400
    assert rolled_over == []


def test_a_short_service_token_is_refused_before_the_database_is_made(tmp_path):
    location = tmp_path / "new" / "sessions.db"
    with pytest.raises(ValueError, match="at least 32 characters"):
        create_app(location, service_token="short")
    assert not location.parent.exists()


def test_a_damaged_served_model_is_a_500_that_names_no_file(world, tmp_path, caplog):
    import shutil
    from pathlib import Path

    import fer

    shipped = Path(fer.__file__).resolve().parent.parent / "models" / "ferplus"
    damaged = tmp_path / "damaged_model"
    shutil.copytree(shipped, damaged)
    served = damaged / "model_int8.tflite"
    served.write_bytes(served.read_bytes()[:1000])
    app = create_app(world.database, model_name=str(damaged), service_token=SERVICE_TOKEN)
    with caplog.at_level("ERROR", logger="fer.api.errors"):
        response = TestClient(app).post("/v1/analyze", headers=world.headers("dr.a"),
                                        files={"file": ("face.png", png_bytes(), "image/png")})
    assert response.status_code == 500
    assert set(response.json()) == {"detail", "error_id"}
    assert str(tmp_path) not in response.text and "tflite" not in response.text
    assert response.json()["error_id"] in caplog.text


def test_the_fallback_detector_is_named_without_the_servers_paths(world, tmp_path, monkeypatch):
    empty = tmp_path / "no_landmarker_here"
    empty.mkdir()
    monkeypatch.setenv("FER_DATA_DIR", str(empty))
    client = TestClient(create_app(world.database, service_token=SERVICE_TOKEN))
    response = client.post("/v1/analyze", headers=world.headers("dr.a"),
                           files={"file": ("frame.png", png_bytes(200, 200), "image/png")})
    assert response.status_code == 200, response.text
    assert response.json()["detector_warning"] == (
        "The server's face landmarker is not available, so the fallback face detector was used: "
        "no action units or head pose."
    )
    assert str(tmp_path) not in response.text


def test_a_file_sent_as_text_is_refused_in_words(client, world):
    response = client.post("/v1/analyze", headers=world.headers("dr.a"), data={"file": "abc"})
    assert response.status_code == 422
    assert response.json()["detail"] == "form field 'file' must be an uploaded file, not text"


PART = b'--XYZ\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n'


@pytest.mark.parametrize(
    "body",
    [b"garbage", b"--XYZ\r\ngarbage", PART + b"abc", PART + b"abc\r\n--XYZ", b""],
    ids=["no-boundary", "no-part", "cut-in-the-file", "cut-in-the-delimiter", "empty"],
)
def test_a_multipart_body_cut_short_is_a_400_not_a_missing_field(client, world, body):
    headers = {**world.headers("dr.a"), "Content-Type": "multipart/form-data; boundary=XYZ"}
    response = client.post("/v1/analyze", headers=headers, content=body)
    assert response.status_code == 400
    assert response.json()["detail"].startswith("The multipart body ends before its closing")


def test_a_complete_multipart_body_passes_whatever_its_chunks():
    import asyncio

    from fastapi import HTTPException

    from fer.api.errors import CompleteMultipart

    async def drain(chunks: list[bytes], content_type: bytes) -> bytes:
        messages = [
            {"type": "http.request", "body": chunk, "more_body": index < len(chunks) - 1}
            for index, chunk in enumerate(chunks)
        ]
        read = b""

        async def receive():
            return messages.pop(0)

        async def app(scope, receive, send):
            nonlocal read
            while True:
                message = await receive()
                read += message["body"]
                if not message["more_body"]:
                    return

        scope = {"type": "http", "headers": [(b"content-type", content_type)]}
        await CompleteMultipart(app)(scope, receive, None)
        return read

    body = PART + b"abc\r\n--XYZ--\r\n"
    quoted = b'multipart/form-data; boundary="XYZ"'
    for split in range(1, len(body)):  # the delimiter straddles two chunks at some split
        chunks = [body[:split], body[split:]]
        assert asyncio.run(drain(chunks, quoted)) == body
    with pytest.raises(HTTPException) as refused:
        asyncio.run(drain([PART, b"abc\r\n--XY", b"Z-\r\n"], quoted))
    assert refused.value.status_code == 400
    # Other bodies are not looked at.
    assert asyncio.run(drain([b"garbage"], b"application/json")) == b"garbage"


def test_uploads_beyond_the_admitted_few_are_refused_at_once(client, world):
    """Many uploads at the same time: those beyond MAX_ANALYSES_ADMITTED get 503 with
    Retry-After before their file is read; once one is done, the next is analysed again."""
    from fer.api.analysis import MAX_ANALYSES_ADMITTED

    admitted = client.app.state.analyser.admitted
    for _ in range(MAX_ANALYSES_ADMITTED):  # as many analyses as allowed, running or waiting
        assert admitted.acquire(blocking=False)
    upload = {"file": ("face.png", b"this is not an image", "image/png")}
    busy = client.post("/v1/analyze", headers=world.headers("dr.a"), files=upload)
    assert busy.status_code == 503
    assert busy.headers["retry-after"] == "5"
    assert "try again" in busy.json()["detail"]
    admitted.release()  # one finished
    answered = client.post("/v1/analyze", headers=world.headers("dr.a"), files=upload)
    assert answered.status_code == 400  # analysed (and found not to be an image)
    assert admitted.acquire(blocking=False)  # the request gave its place back
    for _ in range(MAX_ANALYSES_ADMITTED):
        admitted.release()
