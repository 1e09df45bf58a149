"""`fer analyze`'s two files: written whole, private, and before any session is stored, so a
run that cannot write them changes nothing (no half output, nothing in the database)."""

import json
import stat

import pandas as pd
import pytest

from fer.cli import main as fer_main
from tests.realtime.analysis_fakes import analyse_and_record


def nothing_stored(database):
    from fer.sessions.store import SessionStore

    if not database.exists():
        return True
    store = SessionStore(database)
    try:
        store.get_consent(1)
    except ValueError:
        return store.list_sessions() == []
    return False


def test_a_summary_that_cannot_be_written_stores_nothing_and_keeps_earlier_files(
    fake_pipeline, media, tmp_path, capsys
):
    out, database = tmp_path / "out", tmp_path / "sessions.db"
    (out / "summary.json").mkdir(parents=True)
    (out / "frames.csv").write_text("an earlier run's")
    assert analyse_and_record(media, out, database, "--overwrite") == 2
    err = capsys.readouterr().err
    assert "error:" in err and "summary.json" in err and "Traceback" not in err
    assert (out / "frames.csv").read_text() == "an earlier run's"
    assert nothing_stored(database)


def test_a_full_disk_stores_nothing_and_leaves_no_partial_file(
    fake_pipeline, media, tmp_path, monkeypatch, capsys
):
    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    out, database = tmp_path / "out", tmp_path / "sessions.db"
    monkeypatch.setattr(pd.DataFrame, "to_csv", disk_full)
    assert analyse_and_record(media, out, database) == 2
    err = capsys.readouterr().err
    assert "No space left on device" in err and "nothing was stored" in err
    assert nothing_stored(database)
    assert not out.exists()  # made for this run, removed with nothing in it


def test_the_files_are_private_to_their_owner(fake_pipeline, media, tmp_path):
    out = tmp_path / "out"
    assert fer_main(["analyze", str(media / "face.png"), "--out", str(out)]) == 0
    for name in ("frames.csv", "summary.json"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o600
    assert sorted(path.name for path in out.iterdir()) == ["frames.csv", "summary.json"]
    assert json.loads((out / "summary.json").read_text())["sources"]


def test_a_run_whose_every_input_fails_makes_no_folder(fake_pipeline, tmp_path, capsys):
    (tmp_path / "empty.mp4").write_bytes(b"")
    out = tmp_path / "new" / "out"
    assert fer_main(["analyze", str(tmp_path / "empty.mp4"), "--out", str(out)]) == 2
    assert "empty.mp4" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize(
    "size, reason",
    [((6, 6), "has frames of 6×6 pixels: too small to hold a face"),
     ((6_500, 6_300), "has frames of 6500×6300 pixels (41 megapixels); the limit is 40 MP")],
)
def test_a_video_of_unusable_frame_size_is_refused_as_on_the_upload_page(
    fake_pipeline, tmp_path, size, reason, capsys
):
    """fer analyze once decoded every frame of such a video: a tiny one failed with the
    pipeline's internal wording, and a huge one was analysed frame by frame."""
    import cv2
    import numpy as np

    width, height = size
    video = tmp_path / "odd.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (width, height))
    for _ in range(2):
        writer.write(np.full((height, width, 3), 90, np.uint8))
    writer.release()
    out = tmp_path / "out"
    assert fer_main(["analyze", str(video), "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert f"odd.avi {reason}" in error and "frame_bgr" not in error
    assert not out.exists()


@pytest.mark.parametrize("blocker", ["file", "parent file"])
def test_an_out_that_cannot_be_a_folder_is_refused_first(
    fake_pipeline, media, tmp_path, blocker, capsys
):
    (tmp_path / "afile").write_text("x")
    out = tmp_path / "afile" if blocker == "file" else tmp_path / "afile" / "out"
    database = tmp_path / "sessions.db"
    assert analyse_and_record(media, out, database) == 2
    assert "afile" in capsys.readouterr().err
    assert not database.exists()  # --out is checked before the database is opened


def test_an_unreachable_database_is_an_error_line(fake_pipeline, media, tmp_path, capsys):
    out = tmp_path / "out"
    code = analyse_and_record(media, out, "postgresql://fer:secret@127.0.0.1:1/fer")
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error:") and "Traceback" not in err
    assert "secret" not in err
    assert not out.exists()


def test_a_database_failing_while_storing_replaces_no_file(
    fake_pipeline, media, tmp_path, monkeypatch, capsys
):
    import sqlalchemy

    from fer.sessions.store import SessionStore

    def fail(*args, **kwargs):
        raise sqlalchemy.exc.OperationalError("INSERT", {}, Exception("disk I/O error"))

    out, database = tmp_path / "out", tmp_path / "sessions.db"
    out.mkdir()
    (out / "frames.csv").write_text("an earlier run's")
    monkeypatch.setattr(SessionStore, "create_session", fail)
    assert analyse_and_record(media, out, database, "--overwrite") == 2
    err = capsys.readouterr().err
    assert "disk I/O error" in err and "Traceback" not in err
    assert (out / "frames.csv").read_text() == "an earlier run's"
    assert not (out / "summary.json").exists()


def test_an_earlier_run_s_files_are_replaced_only_with_overwrite(
    fake_pipeline, media, tmp_path, capsys
):
    out, database = tmp_path / "out", tmp_path / "sessions.db"
    assert fer_main(["analyze", str(media / "face.png"), "--out", str(out)]) == 0
    earlier = {name: (out / name).read_text() for name in ("frames.csv", "summary.json")}
    capsys.readouterr()
    assert analyse_and_record(media / "white.png", out, database) == 2
    err = capsys.readouterr().err
    assert "frames.csv and summary.json" in err and "--overwrite" in err
    assert {name: (out / name).read_text() for name in earlier} == earlier
    assert not database.exists()  # refused before the database is opened
    assert fer_main(["analyze", str(media / "clip.avi"), "--out", str(out), "--overwrite"]) == 0
    assert len(pd.read_csv(out / "frames.csv")) == 12  # two faces in each of six frames


def test_one_earlier_file_is_enough_to_refuse(fake_pipeline, media, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.json").write_text("{}")
    assert fer_main(["analyze", str(media / "face.png"), "--out", str(out)]) == 2
    assert "already holds summary.json" in capsys.readouterr().err
    assert not (out / "frames.csv").exists()


def test_a_run_without_any_face_is_an_error(fake_pipeline, media, tmp_path, capsys):
    out = tmp_path / "out"
    assert fer_main(["analyze", str(media / "white.png"), "--out", str(out)]) == 1
    assert "error: no face was found in any input" in capsys.readouterr().err
    summary = json.loads((out / "summary.json").read_text())
    assert any("no face was found" in note for note in summary["sources"][0]["notes"])
    out_2 = tmp_path / "out_2"
    command = ["analyze", str(media / "white.png"), str(media / "face.png"), "--out", str(out_2)]
    assert fer_main(command) == 0  # one input with a face is enough
    assert "error" not in capsys.readouterr().err


def test_faces_left_out_of_a_picture_are_named(fake_pipeline, media, tmp_path, capsys):
    out = tmp_path / "out"
    command = ["analyze", str(media / "face.png"), "--out", str(out), "--max-faces", "1"]
    assert fer_main(command) == 0
    assert "note: face.png: The picture shows more than 1 faces" in capsys.readouterr().err
    table = pd.read_csv(out / "frames.csv")
    assert table["track_id"].tolist() == [0]  # the larger of the two faces
    summary = json.loads((out / "summary.json").read_text())
    assert any("were left out" in note for note in summary["sources"][0]["notes"])


def test_faces_left_out_of_a_video_are_named_with_how_many_frames(
    fake_pipeline, media, tmp_path, capsys
):
    out = tmp_path / "out"
    command = ["analyze", str(media / "clip.avi"), "--out", str(out), "--max-faces", "1"]
    assert fer_main(command) == 0
    note = (
        "clip.avi: 6 of 6 analysed frames showed more than 1 face; in those the 1 largest were "
        "analysed and saved, the others were left out."
    )
    assert f"note: {note}" in capsys.readouterr().err
    assert pd.read_csv(out / "frames.csv")["track_id"].tolist() == [0] * 6
    assert note in json.loads((out / "summary.json").read_text())["sources"][0]["notes"]
    # Within the limit: every face, no note.
    out_2 = tmp_path / "out_2"
    assert fer_main(["analyze", str(media / "clip.avi"), "--out", str(out_2)]) == 0
    assert "left out" not in capsys.readouterr().err
    assert sorted(set(pd.read_csv(out_2 / "frames.csv")["track_id"])) == [0, 1]


def test_the_upload_page_names_faces_left_out_of_a_video(fake_pipeline, media, monkeypatch):
    from fer.realtime.upload import analyse_video_bytes
    from tests.realtime.analysis_fakes import FakeModel, FakeRecognizer

    class ResettableRecognizer(FakeRecognizer):
        tta = "none"

        def reset(self):
            pass

    monkeypatch.setattr("fer.realtime.pipeline.EmotionRecognizer", ResettableRecognizer)
    analysis = analyse_video_bytes(
        (media / "clip.avi").read_bytes(), "clip.avi", FakeModel(), smoothing=None, stride=2,
        max_faces=1, landmarker_path=None,
    )
    assert [record.track_id for record in analysis.records] == [0, 0, 0]
    assert analysis.notes == (
        "clip.avi: 3 of 3 analysed frames showed more than 1 face; in those the 1 largest "
        "were analysed and saved, the others were left out.",
    )
    assert "left out" not in " ".join(analyse_video_bytes(
        (media / "clip.avi").read_bytes(), "clip.avi", FakeModel(), smoothing=None, stride=2,
        max_faces=2, landmarker_path=None,
    ).notes)


def uneven_webm(path, n_frames=40):
    """A WebM as a browser's recorder writes it: millisecond times 30-59 ms apart, 30 fps
    announced, and no frame count (OpenCV estimates one from the duration)."""
    from fractions import Fraction

    import av
    import numpy as np

    steps = np.random.default_rng(0).integers(30, 60, n_frames)
    with av.open(str(path), "w", format="webm") as container:
        stream = container.add_stream("libvpx", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        for t_ms in np.concatenate([[0], np.cumsum(steps[:-1])]):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 90, np.uint8), "rgb24")
            frame.pts, frame.time_base = int(t_ms), Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def test_a_whole_video_with_uneven_frame_times_is_not_called_damaged(
    fake_pipeline, tmp_path, monkeypatch, capsys
):
    """Every frame of such a video was analysed, yet the Upload page and fer analyze said that
    only 40 of about 53 frames could be decoded and that the file was damaged."""
    from fer.realtime.upload import analyse_video_bytes
    from fer.realtime.video import probe_video
    from tests.realtime.analysis_fakes import FakeModel, FakeRecognizer

    video = uneven_webm(tmp_path / "call.webm")
    assert probe_video(video).n_frames > 41  # the container's estimate is too large
    out = tmp_path / "out"
    assert fer_main(["analyze", str(video), "--out", str(out)]) == 0
    assert "could be decoded" not in capsys.readouterr().err
    assert json.loads((out / "summary.json").read_text())["sources"][0]["notes"] == []

    class ResettableRecognizer(FakeRecognizer):
        tta = "none"

        def reset(self):
            pass

    monkeypatch.setattr("fer.realtime.pipeline.EmotionRecognizer", ResettableRecognizer)
    for stride in (1, 3):
        analysis = analyse_video_bytes(
            video.read_bytes(), "call.webm", FakeModel(), smoothing=None, stride=stride,
            max_faces=2, landmarker_path=None,
        )
        assert analysis.notes == ()
    # A cut-off copy is still named as one.
    data = video.read_bytes()
    cut = analyse_video_bytes(
        data[: len(data) // 2], "cut.webm", FakeModel(), smoothing=None, stride=1, max_faces=2,
        landmarker_path=None,
    )
    (note,) = cut.notes
    assert note.startswith("cut.webm: only ") and "ends early or is damaged" in note
