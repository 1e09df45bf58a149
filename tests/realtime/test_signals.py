"""Action units, valence/arousal and head pose: the mapping, its arithmetic, and its direction
on real faces (the shared video, and labelled FER2013 faces re-detected by the pipeline)."""

import math

import numpy as np
import pytest

from fer.realtime.signals import (
    ACTION_UNITS,
    AU_BLENDSHAPES,
    CIRCUMPLEX,
    TWO_SIDED_AUS,
    SignalSmoother,
    action_units,
    au_asymmetry,
    au_description,
    head_pose,
    valence_arousal,
)
from fer.realtime.smoothing import SmoothingConfig

BLENDSHAPE_NAMES = sorted(
    {shape for _, shapes in AU_BLENDSHAPES.values() for shape in shapes}
    | {"mouthLowerDownLeft", "mouthLowerDownRight", "mouthClose"}
)


def blendshapes(**scores: float) -> dict[str, float]:
    values = dict.fromkeys(BLENDSHAPE_NAMES, 0.0)
    values.update(scores)
    return values


def test_a_still_face_has_no_active_unit_and_a_smile_is_au12():
    assert set(action_units(blendshapes())) == set(ACTION_UNITS)
    assert max(action_units(blendshapes()).values()) == 0.0
    smile = action_units(blendshapes(mouthSmileLeft=0.8, mouthSmileRight=0.6))
    assert smile["AU12"] == pytest.approx(0.7)
    assert au_description("AU4") == "brow lowerer (AU4)"


def test_lips_part_is_the_mouth_opening_less_closing_and_stays_in_range():
    assert action_units(blendshapes(jawOpen=0.6, mouthClose=0.1))["AU25"] == pytest.approx(0.5)
    assert action_units(blendshapes(mouthClose=0.9))["AU25"] == 0.0


def test_asymmetry_is_the_subjects_left_minus_right():
    asymmetry = au_asymmetry(blendshapes(mouthSmileLeft=0.9, mouthSmileRight=0.2))
    assert set(asymmetry) == set(TWO_SIDED_AUS)
    assert asymmetry["AU12"] == pytest.approx(0.7) and asymmetry["AU4"] == 0.0


def test_missing_blendshapes_are_named():
    partial = blendshapes()
    del partial["browDownLeft"]
    with pytest.raises(ValueError, match="browDownLeft"):
        action_units(partial)


def test_valence_and_arousal_are_the_probability_weighted_circumplex_point():
    classes = ["neutral", "happy", "sad"]
    assert valence_arousal(np.array([0.0, 1.0, 0.0]), classes) == CIRCUMPLEX["happy"]
    assert valence_arousal(np.array([1.0, 0.0, 0.0]), classes) == (0.0, 0.0)
    valence, arousal = valence_arousal(np.array([0.0, 0.5, 0.5]), classes)
    assert valence == pytest.approx((0.81 - 0.63) / 2) and arousal == pytest.approx(0.12)
    with pytest.raises(ValueError, match="expected 3"):
        valence_arousal(np.array([1.0, 0.0]), classes)
    with pytest.raises(ValueError, match="circumplex"):
        valence_arousal(np.array([1.0]), ["uncertain"])


def test_head_pose_reads_angles_from_a_rotation():
    assert head_pose(np.eye(4)) == {"yaw": 0.0, "pitch": 0.0, "roll": 0.0}
    angle = math.radians(20)
    about_z = np.array(
        [[math.cos(angle), -math.sin(angle), 0], [math.sin(angle), math.cos(angle), 0], [0, 0, 1]]
    )
    assert head_pose(about_z * 3.0)["roll"] == pytest.approx(20.0)  # scale is removed
    with pytest.raises(ValueError, match="4x4"):
        head_pose(np.eye(2))


def test_signals_are_smoothed_like_probabilities():
    smoother = SignalSmoother(SmoothingConfig(method="window", window_s=1.0))
    classes = ["neutral", "happy"]
    probabilities = np.array([0.5, 0.5])
    first = smoother.update(blendshapes(jawOpen=1.0), np.eye(4), probabilities, classes, 0.0)
    second = smoother.update(blendshapes(jawOpen=0.0), np.eye(4), probabilities, classes, 0.5)
    assert first.action_units["AU26"] == 1.0 and second.action_units["AU26"] == 0.5
    bare = smoother.update(None, None, probabilities, classes, 0.6)
    assert bare.action_units is None and bare.head_pose is None and bare.valence is not None


@pytest.fixture(scope="module")
def video_frame(video_data_dir):
    from fer.realtime.video import iter_frames
    from tests.conftest import SHARED_VIDEO

    frames = list(iter_frames(video_data_dir / SHARED_VIDEO, stride=30, max_frames=8))
    return video_data_dir / "face_landmarker.task", frames[-1][2]


@pytest.mark.data
def test_mirroring_negates_yaw_and_roll_and_rotating_the_image_rolls_the_head(video_frame):
    import cv2

    from fer.realtime.faces import LandmarkerDetector

    landmarker, frame = video_frame
    detector = LandmarkerDetector(landmarker, mode="image")
    (face,) = detector.detect(frame)
    (mirrored,) = detector.detect(np.ascontiguousarray(frame[:, ::-1]))
    height, width = frame.shape[:2]
    turn = cv2.getRotationMatrix2D((width / 2, height / 2), 15, 1.0)  # counter-clockwise
    (rolled,) = detector.detect(cv2.warpAffine(frame, turn, (width, height)))
    detector.close()
    pose, flipped = head_pose(face.transformation), head_pose(mirrored.transformation)
    assert flipped["yaw"] == pytest.approx(-pose["yaw"], abs=3.0)
    assert flipped["roll"] == pytest.approx(-pose["roll"], abs=3.0)
    assert flipped["pitch"] == pytest.approx(pose["pitch"], abs=4.0)
    assert head_pose(rolled.transformation)["roll"] - pose["roll"] == pytest.approx(15, abs=3)


@pytest.mark.data
def test_recognizer_results_carry_the_signals(video_frame):
    from fer.realtime.pipeline import EmotionRecognizer
    from tests.realtime.test_pipeline import FakeModel

    landmarker, frame = video_frame
    (result,) = EmotionRecognizer(model=FakeModel(), landmarker_path=landmarker).process(frame, 0)
    assert set(result.action_units) == set(ACTION_UNITS)
    assert all(0.0 <= value <= 1.0 for value in result.action_units.values())
    assert set(result.au_asymmetry) == set(TWO_SIDED_AUS)
    assert set(result.head_pose) == {"yaw", "pitch", "roll"}
    assert -1.0 <= result.valence <= 1.0 and -1.0 <= result.arousal <= 1.0


@pytest.mark.data
def test_without_landmarks_there_are_no_action_units_but_valence_remains(video_frame, tmp_path):
    from fer.realtime.pipeline import EmotionRecognizer
    from tests.realtime.test_pipeline import FakeModel

    _, frame = video_frame
    recognizer = EmotionRecognizer(model=FakeModel(), landmarker_path=tmp_path / "none.task")
    (result,) = recognizer.process(frame, 0)
    assert result.action_units is None and result.head_pose is None
    assert result.valence == pytest.approx(CIRCUMPLEX["happy"][0], abs=0.2)


@pytest.mark.data
@pytest.mark.slow
def test_signals_point_the_right_way_on_labelled_faces(data_dir):
    """The direction checks of docs/signals.md on a fixed sample of FER2013 PublicTest."""
    from fer.data.datasets import load_dataset
    from fer.evaluation.signal_check import signal_table
    from fer.models.inference import load_model

    bundle = data_dir / "face_landmarker.task"
    if not bundle.is_file():
        pytest.skip("face_landmarker.task missing")
    table = signal_table(
        load_model("fer2013"), load_dataset("fer2013", data_dir), bundle, per_class=60, seed=0
    )
    assert (table["found"] / table["faces"]).min() > 0.8
    assert table["valence"].idxmax() == "happy" and table["AU12"].idxmax() == "happy"
    for negative in ("angry", "disgust", "fear", "sad"):
        assert table.loc[negative, "valence"] < table.loc["neutral", "valence"]
    for frowning in ("angry", "sad"):
        assert table.loc[frowning, "AU4"] > table.loc["happy", "AU4"]
    assert table["AU26"].idxmax() == "surprise" and table["AU1+AU2"].idxmax() == "surprise"
