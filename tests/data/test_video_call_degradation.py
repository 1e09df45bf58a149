import keras
import numpy as np
import pytest

from fer.data.augmentation import AUGMENTATION_PRESETS
from fer.data.preprocess import VideoCallDegradation, build_augmentation


def _faces(n: int = 64, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(30, 200, (n, 48, 48, 1)).astype(np.float32)


def test_inference_passes_faces_through_unchanged():
    faces = _faces()
    layer = VideoCallDegradation(1.0, seed=1)
    assert np.array_equal(keras.ops.convert_to_numpy(layer(faces, training=False)), faces)
    assert np.array_equal(keras.ops.convert_to_numpy(layer(faces)), faces)


def test_every_chosen_face_is_degraded_within_the_pixel_range():
    faces = _faces()
    out = keras.ops.convert_to_numpy(VideoCallDegradation(1.0, seed=1)(faces, training=True))
    assert out.shape == faces.shape
    assert out.min() >= 0.0 and out.max() <= 255.0
    changed = np.abs(out - faces).mean(axis=(1, 2, 3)) > 0.5
    assert changed.all()


def test_rate_sets_the_share_of_degraded_faces():
    faces = _faces(512)
    out = keras.ops.convert_to_numpy(VideoCallDegradation(0.5, seed=2)(faces, training=True))
    unchanged = np.all(out == faces, axis=(1, 2, 3)).mean()
    assert 0.4 < unchanged < 0.6
    none = VideoCallDegradation(0.0, seed=2)(faces, training=True)
    assert np.array_equal(keras.ops.convert_to_numpy(none), faces)


def test_over_exposure_clips_some_faces():
    faces = _faces(256)
    out = keras.ops.convert_to_numpy(VideoCallDegradation(1.0, seed=3)(faces, training=True))
    assert (out == 255.0).any(axis=(1, 2, 3)).sum() > 5


def test_occlusion_is_one_flat_grey_patch_below_the_eyes():
    faces = _faces(32)
    layer = VideoCallDegradation(1.0, seed=4)
    out = keras.ops.convert_to_numpy(layer._occlusion(keras.ops.convert_to_tensor(faces), 32))
    for face, covered in zip(faces, out, strict=True):
        changed = covered != face
        assert changed.sum() > 20
        assert len(np.unique(covered[changed])) == 1
        # The ellipse's centre lies at 45-95 % of the height, its half-height at most 18 %.
        assert np.flatnonzero(changed.any(axis=(1, 2))).min() >= int(48 * (0.45 - 0.18))


def test_config_round_trip_and_bad_rate():
    layer = VideoCallDegradation(0.25, seed=7)
    copy = VideoCallDegradation.from_config(layer.get_config())
    assert (copy.rate, copy.seed) == (0.25, 7)
    with pytest.raises(ValueError, match="rate"):
        VideoCallDegradation(1.5)


def test_video_call_preset_adds_the_layer_and_full_does_not():
    video_call = build_augmentation(AUGMENTATION_PRESETS["video_call"], 0).layers
    names = [type(layer).__name__ for layer in video_call]
    assert names[-1] == "VideoCallDegradation"
    full = build_augmentation(AUGMENTATION_PRESETS["full"], 0).layers
    assert "VideoCallDegradation" not in [type(layer).__name__ for layer in full]


def _got_the_hand(layer: VideoCallDegradation, faces: np.ndarray) -> np.ndarray:
    """Per face, whether the layer drew the hand: one flat patch, the rest untouched."""
    out = keras.ops.convert_to_numpy(layer(faces, training=True))
    changed = out != faces
    return np.array(
        [
            bool(mask.any()) and not mask.all() and len(np.unique(face[mask])) == 1
            for face, mask in zip(out, changed, strict=True)
        ]
    )


def test_kind_weights_set_how_often_each_degradation_is_drawn():
    faces = _faces(600, seed=5)
    only_hand = VideoCallDegradation(1.0, seed=8, kind_weights=(0, 0, 0, 0, 0, 0, 1))
    assert _got_the_hand(only_hand, faces).all()
    never_hand = VideoCallDegradation(1.0, seed=8, kind_weights=(1, 1, 1, 1, 1, 1, 0))
    assert not _got_the_hand(never_hand, faces).any()
    # Three times the chance of each of six others: 3 / 9 of the faces get the hand.
    tripled = VideoCallDegradation(1.0, seed=8, kind_weights=(1, 1, 1, 1, 0, 1, 3))
    share = _got_the_hand(tripled, faces).mean()
    assert 0.27 < share < 0.40


def test_exposure_range_sets_the_exposure_factor():
    faces = np.full((200, 48, 48, 1), 100.0, np.float32)
    only_exposure = (0, 0, 0, 0, 1, 0, 0)
    brighter = VideoCallDegradation(
        1.0, seed=9, kind_weights=only_exposure, exposure_range=(1.5, 2.0)
    )
    out = keras.ops.convert_to_numpy(brighter(faces, training=True))
    factors = out[:, 0, 0, 0] / 100.0
    assert factors.min() >= 1.5 - 1e-4 and factors.max() <= 2.0 + 1e-4


def test_weights_and_range_survive_the_config_and_bad_ones_are_named():
    layer = VideoCallDegradation(
        0.6, seed=7, kind_weights=(1, 1, 1, 1, 3, 1, 3), exposure_range=(0.5, 2.4)
    )
    copy = VideoCallDegradation.from_config(layer.get_config())
    assert copy.kind_weights == (1, 1, 1, 1, 3, 1, 3) and copy.exposure_range == (0.5, 2.4)
    with pytest.raises(ValueError, match="degradation_weights needs 7"):
        VideoCallDegradation(0.5, kind_weights=(1, 2))
    with pytest.raises(ValueError, match="not all zero"):
        VideoCallDegradation(0.5, kind_weights=(0,) * 7)
    with pytest.raises(ValueError, match="exposure_range"):
        VideoCallDegradation(0.5, exposure_range=(2.0, 1.0))


def test_exposure_hand_preset_weights_exposure_and_the_hand():
    config = AUGMENTATION_PRESETS["video_call_exposure_hand"]
    layer = build_augmentation(config, 0).layers[-1]
    assert isinstance(layer, VideoCallDegradation)
    weights = dict(zip(VideoCallDegradation.KINDS, layer.kind_weights, strict=True))
    assert weights["exposure"] == weights["occlusion"] == 3 * weights["noise"]
    assert layer.exposure_range[1] > AUGMENTATION_PRESETS["video_call"].exposure_range[1]
