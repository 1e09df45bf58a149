
import subprocess
import sys

import numpy as np
import pytest

from fer.emotions import FERPLUS, UNCERTAIN
from fer.models.inference import validate_faces
from fer.realtime.pipeline import EmotionRecognizer, FaceResult
from fer.realtime.smoothing import SmoothingConfig
from tests.conftest import SHARED_VIDEO as VIDEO_NAME


class FakeModel:
    """Stands in for EmotionModel: records its batches, answers "happy" for bright faces."""

    classes = list(FERPLUS.names)

    def __init__(self):
        self.batch_shapes: list[tuple[int, ...]] = []
        self.views: list[bool | str] = []

    def predict(self, faces, tta=False):
        faces = validate_faces(faces)
        self.batch_shapes.append(faces.shape)
        self.views.append(tta)
        probs = np.full((len(faces), len(self.classes)), 0.02, np.float32)
        probs[:, 1] = 1.0 - 0.02 * (len(self.classes) - 1)
        return probs


def unloadable() -> EmotionRecognizer:
    # Neither the model nor the landmarker exists: any loading would raise.
    return EmotionRecognizer(model="no-such-model", landmarker_path="/nonexistent/landmarker.task")


def test_public_import_and_lazy_constructor():
    from fer import EmotionRecognizer as exported

    assert exported is EmotionRecognizer
    recognizer = unloadable()
    assert recognizer.model == "no-such-model" and recognizer.max_faces == 4
    assert recognizer.detector_kind is None  # nothing opened yet
    assert "/nonexistent/landmarker.task" in recognizer.detector_warning
    assert "Haar" in recognizer.detector_warning


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (np.zeros((64, 64, 3), np.float32), "uint8"),
        (np.zeros((64, 64), np.uint8), r"\(height, width, 3\)"),
        (np.zeros((64, 64, 4), np.uint8), r"\(height, width, 3\)"),
        ([[0, 0, 0]], "numpy array"),
        (np.zeros((4, 4, 3), np.uint8), "too small"),
        (np.zeros((16_385, 8, 3), np.uint8), "too long a side"),
        (np.zeros((8, 40_000, 3), np.uint8), "too long a side"),
    ],
)
def test_process_rejects_bad_frames_before_loading(frame, message):
    with pytest.raises(ValueError, match=message):
        unloadable().process(frame, 0.0)


def test_a_frame_with_a_side_mediapipe_cannot_take_is_refused_not_fatal(video_data_dir):
    # MediaPipe aborts the process on such a frame, so the check runs in a child process.
    script = (
        "import numpy as np\n"
        "from fer.realtime.pipeline import EmotionRecognizer\n"
        "recognizer = EmotionRecognizer(model='no-such-model', landmarker_path="
        f"{str(video_data_dir / 'face_landmarker.task')!r})\n"
        "try:\n"
        "    recognizer.process(np.zeros((32_767, 8, 3), np.uint8), 0.0)\n"
        "except ValueError as error:\n"
        "    print('refused:', error)\n"
    )
    finished = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert "refused: frame_bgr is too long a side" in finished.stdout


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"model": None}, "model must be a model name"),
        ({"model": 3}, "not int"),
        ({"max_faces": 2.5}, "max_faces must be a whole number"),
        ({"max_faces": "2"}, "max_faces must be a whole number"),
        ({"max_faces": True}, "max_faces must be a whole number"),
        ({"max_faces": 0}, "at least 1"),
        ({"smoothing": "ema"}, "smoothing must be a SmoothingConfig"),
        ({"tracking": {"iou_threshold": 0.3}}, "tracking must be a TrackerConfig"),
    ],
)
def test_bad_arguments_are_named_by_the_constructor(arguments, message):
    with pytest.raises(ValueError, match=message):
        EmotionRecognizer(**arguments)


def test_load_model_names_a_model_argument_of_the_wrong_type():
    from fer.models.inference import load_model

    with pytest.raises(ValueError, match="a model is named by a string or a path, not NoneType"):
        load_model(None)


@pytest.mark.parametrize(
    "t_seconds", [float("nan"), float("inf"), "soon", None, -1.0, -1e300, 9.3e12, 9.3e15]
)
def test_process_rejects_bad_times(t_seconds):
    with pytest.raises(ValueError, match="t_seconds"):
        unloadable().process(np.zeros((64, 64, 3), np.uint8), t_seconds)


def test_no_face_gives_empty_list_with_haar_fallback(tmp_path):
    model = FakeModel()
    recognizer = EmotionRecognizer(model=model, landmarker_path=tmp_path / "missing.task")
    assert recognizer.process(np.full((240, 320, 3), 90, np.uint8), 0.0) == []
    assert recognizer.detector_kind == "haar"
    assert recognizer.classes == list(FERPLUS.names)
    assert model.batch_shapes == []  # no face, no model call


# --- with the real data ------------------------------------------------------------------


@pytest.fixture(scope="module")
def video_frames(video_data_dir):
    data_dir = video_data_dir
    from fer.realtime.video import iter_frames

    frames = list(iter_frames(data_dir / VIDEO_NAME, stride=10, max_frames=12))
    return data_dir / "face_landmarker.task", frames


@pytest.mark.data
def test_results_on_video_frames(video_frames):
    landmarker, frames = video_frames
    model = FakeModel()
    recognizer = EmotionRecognizer(
        model=model, landmarker_path=landmarker, smoothing=SmoothingConfig(method="ema")
    )
    assert recognizer.detector_warning is None
    all_results = [recognizer.process(frame, t_s) for _, t_s, frame in frames]
    assert recognizer.detector_kind == "mediapipe"
    assert [len(results) for results in all_results] == [1] * len(frames)
    assert {results[0].track_id for results in all_results} == {1}
    face = all_results[-1][0]
    assert isinstance(face, FaceResult)
    height, width = frames[0][2].shape[:2]
    x, y, box_width, box_height = face.bbox
    assert all(isinstance(v, int) for v in face.bbox)
    assert 0 <= x < width and 0 <= y < height and 40 < box_width < width
    assert face.probs.dtype == np.float32 and face.probs.shape == (8,)
    assert face.smoothed.shape == (8,) and face.label == "happy"
    assert 0.0 <= face.confidence <= 1.0
    assert face.landmarks.shape == (478, 2) and len(face.blendshapes) == 52
    assert face.face_gray.shape == (48, 48) and face.face_gray.dtype == np.uint8
    recognizer.reset()
    assert recognizer.process(frames[0][2], 0.0)[0].track_id == 1


@pytest.mark.data
def test_a_face_keeps_its_id_when_the_stream_lowers_its_resolution(video_frames):
    import cv2

    landmarker, frames = video_frames
    recognizer = EmotionRecognizer(model=FakeModel(), landmarker_path=landmarker)
    track_ids = []
    for index, (_, t_s, frame) in enumerate(frames):
        if 4 <= index < 8:  # as WebRTC does when the connection weakens
            frame = cv2.resize(frame, (frame.shape[1] // 2, frame.shape[0] // 2))
        track_ids.append([face.track_id for face in recognizer.process(frame, t_s)])
    assert track_ids == [[1]] * len(frames)


@pytest.mark.data
def test_a_face_made_too_bright_is_flagged(video_frames):
    landmarker, frames = video_frames
    recognizer = EmotionRecognizer(model=FakeModel(), landmarker_path=landmarker)
    clean = [recognizer.process(frame, t_s)[0] for _, t_s, frame in frames[:4]]
    assert all(face.clipped_share < 0.05 and not face.overexposed for face in clean)
    recognizer.reset()
    # The robustness suite's over-exposure: brightness x1.8, clipped.
    brightened = [
        recognizer.process(np.clip(frame * 1.8, 0, 255).astype(np.uint8), t_s)[0]
        for _, t_s, frame in frames[:4]
    ]
    assert all(face.overexposed for face in brightened)


@pytest.mark.data
def test_all_faces_of_a_frame_go_to_the_model_in_one_batch(video_frames):
    landmarker, frames = video_frames
    model = FakeModel()
    recognizer = EmotionRecognizer(model=model, landmarker_path=landmarker, max_faces=3)
    frame = frames[0][2]
    two_people = np.ascontiguousarray(np.hstack([frame, frame]))
    results = recognizer.process(two_people, 0.0)
    assert len(results) == 2
    assert len({face.track_id for face in results}) == 2
    assert model.batch_shapes == [(2, 48, 48)]
    assert model.views == ["mirror+zoom"]  # the pipeline's default


@pytest.mark.data
def test_test_time_views_can_be_turned_off(video_frames):
    landmarker, frames = video_frames
    model = FakeModel()
    recognizer = EmotionRecognizer(model=model, landmarker_path=landmarker, tta="none")
    assert len(recognizer.process(frames[0][2], 0.0)) == 1
    assert model.views == ["none"]


def test_unknown_test_time_views_are_refused_up_front():
    with pytest.raises(ValueError, match="tta must be"):
        EmotionRecognizer(model=FakeModel(), tta="ten-crop")


@pytest.mark.data
def test_haar_fallback_still_finds_the_face(video_frames, tmp_path):
    _, frames = video_frames
    recognizer = EmotionRecognizer(model=FakeModel(), landmarker_path=tmp_path / "missing.task")
    found = [recognizer.process(frame, t_s) for _, t_s, frame in frames[:6]]
    assert sum(len(results) == 1 for results in found) >= 5
    face = next(results[0] for results in found if results)
    assert face.landmarks is None and face.blendshapes is None
    assert face.face_gray.shape == (48, 48)


@pytest.mark.data
def test_default_model_or_dev_model_end_to_end(video_frames):
    from fer.config import MODELS_DIR

    assert (MODELS_DIR / "ferplus" / "card.json").is_file(), "the shipped ferplus model is missing"
    landmarker, frames = video_frames
    recognizer = EmotionRecognizer(model="ferplus", landmarker_path=landmarker)
    results = [recognizer.process(frame, t_s) for _, t_s, frame in frames[:3]]
    assert recognizer.classes == list(FERPLUS.names)
    face = results[-1][0]
    assert face.probs.sum() == pytest.approx(1.0, abs=1e-3)
    # The served probabilities average the crop's six test-time views.
    from fer.models.inference import load_model

    model = load_model("ferplus")
    crop = face.face_gray[None]
    np.testing.assert_allclose(face.probs, model.predict(crop, tta="mirror+zoom")[0], atol=1e-5)
    assert not np.allclose(face.probs, model.predict(crop)[0], atol=1e-5)
    assert face.label in (*FERPLUS.names, UNCERTAIN)


@pytest.mark.data
def test_a_time_far_ahead_does_not_break_the_stream(video_frames):
    """A rejected time must not become MediaPipe's floor for every later frame, and a clock
    reading far ahead (within bounds) followed by video positions keeps producing faces."""
    landmarker, frames = video_frames
    recognizer = EmotionRecognizer(model=FakeModel(), landmarker_path=landmarker)
    frame = frames[0][2]
    assert len(recognizer.process(frame, 1.0)) == 1
    with pytest.raises(ValueError, match="t_seconds"):
        recognizer.process(frame, 9.3e12)
    assert len(recognizer.process(frame, 2.0)) == 1
    assert len(recognizer.process(frame, 9.0e9)) == 1
    assert len(recognizer.process(frames[1][2], 3.0)) == 1


class SwitchingModel(FakeModel):
    """Happy for the first ``n_happy`` batches, sad after."""

    def __init__(self, n_happy: int):
        super().__init__()
        self.n_happy = n_happy

    def predict(self, faces, tta=False):
        probs = super().predict(faces, tta)
        if len(self.batch_shapes) > self.n_happy:
            probs[:, [1, 3]] = probs[:, [3, 1]]  # FER+: 1 happy, 3 sad
        return probs


@pytest.mark.data
@pytest.mark.parametrize(("jump_s", "restarted"), [(-0.001, False), (0.0, False), (-5.0, True)])
def test_a_clock_a_moment_back_keeps_the_smoothing_and_a_new_clip_restarts_it(
    video_frames, jump_s, restarted
):
    """A repeated time, or one a millisecond back (a jittery webcam clock), is moved just
    after the last one: it once restarted every track and its smoothing, so one such frame
    flipped the label at once (and repeated times grew the smoothing window without end). A
    time seconds back is a new clip, and starts afresh as before."""
    landmarker, frames = video_frames
    recognizer = EmotionRecognizer(
        model=SwitchingModel(n_happy=8), landmarker_path=landmarker, tta="none",
        smoothing=SmoothingConfig(method="window", window_s=0.5, switch_margin=0.2,
                                  min_dwell_s=0.5),
    )
    frame = frames[0][2]
    times = [6.0 + 0.04 * index for index in range(8)]
    for t_s in times:
        (face,) = recognizer.process(frame, t_s)
    assert face.label == "happy"
    (face,) = recognizer.process(frame, times[-1] + jump_s)  # the first sad reading
    assert (face.label == "sad") == restarted


def test_a_window_smoother_keeps_a_frame_at_huge_times():
    from fer.realtime.smoothing import ProbabilitySmoother

    smoother = ProbabilitySmoother(FERPLUS.names, SmoothingConfig(method="window"))
    probs = np.full(len(FERPLUS), 1.0 / len(FERPLUS))
    for t_s in (9.3e15, 9.3e15 + 4.0, 1e300):
        prediction = smoother.update(probs, t_s)
        assert prediction.smoothed.shape == (len(FERPLUS),)


class ScriptedDetector:
    """Stands in for the face detector: each call returns the next frame's faces."""

    kind = "haar"

    def __init__(self, frames):
        self.frames = iter(frames)

    def detect(self, frame_bgr, t_s=None):
        return next(self.frames)

    def close(self):
        pass


def scripted(monkeypatch, frames) -> EmotionRecognizer:
    monkeypatch.setattr(
        "fer.realtime.pipeline.open_face_detector",
        lambda *args, **kwargs: (ScriptedDetector(frames), None),
    )
    return EmotionRecognizer(model=FakeModel(), landmarker_path="/nonexistent/landmarker.task")


def test_faces_come_in_the_order_of_their_ids_whatever_the_detector_s_order(monkeypatch):
    # The Live page and the session room draw the first face's bars and trail: a detector
    # that lists two faces in a different order from frame to frame must not swap them.
    from fer.realtime.faces import DetectedFace

    left, right = DetectedFace(bbox=(20, 20, 60, 60)), DetectedFace(bbox=(200, 20, 60, 60))
    recognizer = scripted(monkeypatch, [[left, right], [right, left], [right, left]])
    frame = np.full((240, 320, 3), 100, np.uint8)
    for index in range(3):
        results = recognizer.process(frame, index / 15)
        assert [result.track_id for result in results] == [1, 2]
        assert results[0].bbox[0] < 100  # face 1 is the left one throughout


def test_a_model_s_unusable_output_is_refused_before_it_touches_any_face(monkeypatch):
    # One frame whose second face the model could not read (NaN) must neither count as a frame
    # of the first face's smoothing nor age the tracks: it is refused as a whole.
    from fer.realtime.faces import DetectedFace

    class Flaky(FakeModel):
        outputs = iter(["happy", "sad+nan", "happy"])

        def predict(self, faces, tta=False):
            probs = super().predict(faces, tta)
            if next(self.outputs) == "sad+nan":
                probs[0] = probs[0][::-1]  # another expression for the first face
                probs[1] = np.nan
            return probs

    faces = [DetectedFace(bbox=(20, 20, 60, 60)), DetectedFace(bbox=(200, 20, 60, 60))]
    recognizer = scripted(monkeypatch, [faces] * 3)
    recognizer.model = Flaky()
    frame = np.full((240, 320, 3), 100, np.uint8)
    recognizer.process(frame, 0.0)
    with pytest.raises(ValueError, match="model returned .*NaN"):
        recognizer.process(frame, 0.1)
    first, _ = recognizer.process(frame, 0.2)
    assert first.smoothed[1] == pytest.approx(first.probs[1])  # only the two happy frames
    assert [track.n_frames for track in recognizer._tracker.tracks] == [2, 2]


def test_a_file_that_is_not_a_task_bundle_is_named(tmp_path):
    from fer.realtime.faces import LandmarkerDetector

    not_a_bundle = tmp_path / "face_landmarker.task"
    not_a_bundle.write_bytes(b"this is not a zip archive")
    with pytest.raises(ValueError, match="face_landmarker.task is not a MediaPipe"):
        LandmarkerDetector(not_a_bundle)
