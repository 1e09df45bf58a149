from pathlib import Path

import cv2
import numpy as np
import pytest

from fer.realtime.video import (
    FrameResult,
    UnreadableVideoError,
    analyse_video,
    iter_frames,
    probe_video,
)
from tests.conftest import SHARED_VIDEO as VIDEO_NAME


@pytest.fixture
def tiny_video(tmp_path) -> Path:
    """12 frames of 64×48 at 10 fps whose brightness encodes the frame index."""
    path = tmp_path / "tiny.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    assert writer.isOpened()
    for index in range(12):
        writer.write(np.full((48, 64, 3), 20 * index, np.uint8))
    writer.release()
    return path


class CountingRecognizer:
    """The two methods analyse_video uses; reports one fake face per frame."""

    def __init__(self):
        self.times: list[float] = []
        self.n_resets = 0

    def reset(self):
        self.n_resets += 1

    def process(self, frame_bgr, t_seconds):
        self.times.append(t_seconds)
        return [int(frame_bgr.mean())]


def test_probe_and_iterate_with_stride(tiny_video):
    info = probe_video(tiny_video)
    assert (info.width, info.height, info.n_frames) == (64, 48, 12)
    assert info.fps == pytest.approx(10.0)
    assert info.duration_s == pytest.approx(1.2)
    frames = list(iter_frames(tiny_video, stride=3))
    assert [index for index, _, _ in frames] == [0, 3, 6, 9]
    np.testing.assert_allclose([t_s for _, t_s, _ in frames], [0.0, 0.3, 0.6, 0.9], atol=0.02)
    # Brightness proves the right frames were decoded, not just counted.
    np.testing.assert_allclose([frame.mean() for _, _, frame in frames], [0, 60, 120, 180], atol=4)
    assert len(list(iter_frames(tiny_video, max_frames=5))) == 5


def test_analyse_video_resets_and_reports_progress(tiny_video):
    recognizer = CountingRecognizer()
    progress = []
    results = analyse_video(
        tiny_video, recognizer, stride=2, progress_callback=lambda done, total: progress.append(
            (done, total)
        )
    )
    assert recognizer.n_resets == 1
    assert all(isinstance(result, FrameResult) for result in results)
    assert [result.frame_index for result in results] == [0, 2, 4, 6, 8, 10]
    assert progress == [(n, 6) for n in range(1, 7)]
    assert np.all(np.diff(recognizer.times) > 0)
    assert results[1].faces == (40,)


def test_bad_files_raise_clear_errors(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        probe_video(empty)
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    with pytest.raises(ValueError, match="could not be read as a video|no picture we can decode"):
        probe_video(text)
    with pytest.raises(ValueError, match="could not be read as a video|no picture we can decode"):
        list(iter_frames(text))
    with pytest.raises(ValueError, match="could not be read as a video|no picture we can decode"):
        analyse_video(text, CountingRecognizer())
    with pytest.raises(FileNotFoundError):
        probe_video(tmp_path / "missing.mp4")
    with pytest.raises(ValueError, match="stride"):
        list(iter_frames(tmp_path / "missing.mp4", stride=0))


def test_an_unreadable_video_is_explained_in_plain_words(tmp_path):
    junk = tmp_path / "x.mp4"
    junk.write_bytes(b"\x00\x01junk" * 500)
    with pytest.raises(UnreadableVideoError) as caught:
        probe_video(junk)
    assert str(caught.value) == (
        "x.mp4 could not be read as a video: it is damaged or in a format we cannot open."
    )
    # The reason alone, for a caller that read a copy under another name.
    assert not caught.value.reason.startswith("x.mp4")
    assert "OpenCV" not in str(caught.value)


def test_an_upload_s_unreadable_video_names_the_user_s_file():
    from fer.realtime.smoothing import SmoothingConfig
    from fer.realtime.upload import analyse_video_bytes

    with pytest.raises(UnreadableVideoError) as caught:
        analyse_video_bytes(
            b"\x00\x01junk" * 500, "holiday clip.mp4", model="no-such-model",
            smoothing=SmoothingConfig(), stride=1, max_faces=1,
            landmarker_path="/nonexistent/landmarker.task",  # nothing may load for a junk file
        )
    message = str(caught.value)
    assert message.startswith("holiday clip.mp4 could not be read as a video")
    assert "upload" not in message and "OpenCV" not in message


def test_truncated_video_is_rejected(tiny_video, tmp_path):
    truncated = tmp_path / "truncated.avi"
    truncated.write_bytes(tiny_video.read_bytes()[:200])  # header only, no frame data
    with pytest.raises(ValueError, match="could not be read as a video|no picture we can decode"):
        probe_video(truncated)


@pytest.mark.data
def test_benchmark_on_the_shared_video(video_data_dir):
    data_dir = video_data_dir
    from fer.evaluation.bench_video import benchmark_video, format_report
    from fer.realtime.pipeline import EmotionRecognizer

    class UniformModel:
        classes = ["neutral", "happy"]

        def predict(self, faces, tta=False):
            return np.full((len(faces), 2), 0.5, np.float32)

    recognizer = EmotionRecognizer(
        model=UniformModel(), landmarker_path=data_dir / "face_landmarker.task"
    )
    report = benchmark_video(data_dir / VIDEO_NAME, recognizer, stride=20, warmup_frames=2)
    assert report["n_frames"] == 24 and report["face_share"] == 1.0
    assert 0 < report["median_ms"] <= report["p95_ms"] <= report["max_ms"]
    assert set(report["stage_median_ms"]) == {"detect", "align", "predict", "track"}
    assert "face share 100.0%" in format_report(report)


def test_a_video_whose_frames_are_too_small_for_a_face_says_so(tmp_path):
    path = tmp_path / "speck.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (6, 6))
    assert writer.isOpened()
    for _ in range(3):
        writer.write(np.full((6, 6, 3), 128, np.uint8))
    writer.release()
    with pytest.raises(UnreadableVideoError, match="frames of 6×6 pixels: too small") as raised:
        analyse_video(path, CountingRecognizer())
    assert raised.value.reason.startswith("has frames of 6×6 pixels")
    assert "frame_bgr" not in str(raised.value)


def test_a_video_with_a_side_too_long_for_the_detector_says_so(tmp_path):
    path = tmp_path / "ribbon.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (8, 16_392))
    assert writer.isOpened()
    writer.write(np.full((16_392, 8, 3), 128, np.uint8))
    writer.release()
    with pytest.raises(UnreadableVideoError, match="frames of 8×16392 pixels: no side") as raised:
        analyse_video(path, CountingRecognizer())
    assert "16384" in raised.value.reason


def test_an_uploaded_video_is_held_only_in_a_private_temporary_file(monkeypatch, tmp_path):
    import os
    import stat

    import fer.realtime.video
    from fer.realtime.smoothing import SmoothingConfig
    from fer.realtime.upload import analyse_video_bytes

    seen = {}

    def inspect(path, *args, **kwargs):
        seen.update(path=Path(path), file=os.stat(path).st_mode,
                    folder=os.stat(Path(path).parent).st_mode, data=Path(path).read_bytes())
        raise UnreadableVideoError(str(path), "stopped by the test")

    monkeypatch.setattr(fer.realtime.video, "analyse_video", inspect)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)  # read TMPDIR again
    old_umask = os.umask(0o022)  # the usual umask, under which a plain write gives 0644
    try:
        with pytest.raises(UnreadableVideoError):
            analyse_video_bytes(
                b"patient video", "session.mp4", model="no-such-model",
                smoothing=SmoothingConfig(), stride=1, max_faces=1,
                landmarker_path="/nonexistent/landmarker.task",
            )
    finally:
        os.umask(old_umask)
    assert seen["data"] == b"patient video" and seen["path"].parent.parent == tmp_path
    assert stat.S_IMODE(seen["file"]) == 0o600
    assert stat.S_IMODE(seen["folder"]) == 0o700
    assert not seen["path"].parent.exists()  # deleted, although the analysis failed


def test_a_video_whose_frames_are_larger_than_an_image_may_be_says_so(tmp_path):
    """A small file of flat frames once had each of its 41-megapixel frames decoded, where an
    image of that size is refused."""
    path = tmp_path / "huge.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (6_500, 6_300))
    assert writer.isOpened()
    writer.write(np.full((6_300, 6_500, 3), 128, np.uint8))
    writer.release()
    assert path.stat().st_size < 1_000_000
    recognizer = CountingRecognizer()
    with pytest.raises(UnreadableVideoError, match="frames of 6500×6300 pixels \\(41 megapixels") \
            as raised:
        analyse_video(path, recognizer)
    assert "the limit is 40 MP" in raised.value.reason
    assert recognizer.times == []  # refused before any frame was analysed
