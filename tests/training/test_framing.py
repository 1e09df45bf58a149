from pathlib import Path

import numpy as np
import pytest

import fer.training.framing as framing
from fer.config import find_face_landmarker
from fer.data.datasets import load_dataset
from fer.training.config import TrainConfig
from fer.training.loop import training_dataset


def test_mixed_framing_gives_each_face_one_of_its_two_crops_with_its_own_target():
    n = 256
    images = np.zeros((n, 48, 48), np.uint8)
    framed = np.full((n, 48, 48), 255, np.uint8)
    # Row i carries target i, and its two crops carry i in their first pixel, so a mix-up of
    # rows and targets would show.
    images[:, 0, 0] = np.arange(n) % 250
    framed[:, 0, 0] = np.arange(n) % 250
    targets = {"fer2013": np.eye(n, dtype=np.float32)[:, :n]}
    config = TrainConfig(batch_size=64, seed=3)
    batches = list(training_dataset(config, images, targets, 0, framed))
    faces = np.concatenate([batch[0].numpy() for batch in batches])[..., 0]
    rows = np.concatenate([batch[1]["fer2013"].numpy().argmax(axis=1) for batch in batches])
    assert sorted(rows) == list(range(n))
    assert np.array_equal(faces[:, 0, 0], rows % 250)
    from_pipeline = faces[:, 10, 10] == 255
    assert np.all((faces[:, 10, 10] == 0) | from_pipeline)
    assert 0.35 < from_pipeline.mean() < 0.65


def test_framing_is_validated():
    with pytest.raises(ValueError, match="framing"):
        TrainConfig(framing="pipeline-only")
    with pytest.raises(ValueError, match="oversample"):
        TrainConfig(framing="mixed", imbalance="oversample")


def test_pipeline_framed_rejects_other_shapes(tmp_path: Path):
    with pytest.raises(ValueError, match=r"\(N, 48, 48\)"):
        framing.pipeline_framed(np.zeros((3, 64, 64), np.uint8), tmp_path / "x.task")


def test_pipeline_framed_realigns_faces_and_reads_its_cache_back(data_dir, tmp_path, monkeypatch):
    dataset = load_dataset("fer2013", data_dir)
    faces = dataset.images[dataset.splits == "PublicTest"][:40]
    landmarker = find_face_landmarker(data_dir)
    framed, found = framing.pipeline_framed(faces, landmarker, tmp_path)
    assert framed.shape == faces.shape and framed.dtype == np.uint8
    assert found.mean() > 0.75
    # Re-aligned faces differ from the dataset crops; the ones not found are kept as they were.
    assert all(not np.array_equal(a, b) for a, b in zip(framed[found], faces[found], strict=True))
    assert np.array_equal(framed[~found], faces[~found])
    assert len(list(tmp_path.glob("framed-*.npz"))) == 1

    def no_detection(*args, **kwargs):
        raise AssertionError("the cache should have answered")

    monkeypatch.setattr("fer.evaluation.robustness.realigned_crops", no_detection)
    again, found_again = framing.pipeline_framed(faces, landmarker, tmp_path)
    assert np.array_equal(again, framed) and np.array_equal(found_again, found)


def test_damaged_cache_is_rebuilt(data_dir, tmp_path):
    dataset = load_dataset("fer2013", data_dir)
    faces = dataset.images[dataset.splits == "PublicTest"][:4]
    landmarker = find_face_landmarker(data_dir)
    framing.pipeline_framed(faces, landmarker, tmp_path)
    (cache,) = tmp_path.glob("framed-*.npz")
    cache.write_bytes(b"not a zip file")
    framed, _ = framing.pipeline_framed(faces, landmarker, tmp_path)
    assert framed.shape == faces.shape
    with np.load(cache) as rebuilt:
        assert np.array_equal(rebuilt["framed"], framed)


def test_training_with_mixed_framing_and_video_call_degradation_resumes(
    data_dir, tmp_path, monkeypatch
):
    from fer.data.augmentation import AUGMENTATION_PRESETS
    from fer.training.loop import train
    from tests.training.test_loop import _tiny_fer2013

    monkeypatch.setattr("fer.config.CACHE_DIR", tmp_path / "cache")
    fer2013 = _tiny_fer2013()

    def config(epochs: int) -> TrainConfig:
        return TrainConfig(
            architecture="ziggy", epochs=epochs, batch_size=16, framing="mixed",
            augmentation=AUGMENTATION_PRESETS["video_call"],
        )

    assert train(config(1), fer2013, None, tmp_path / "run").epochs_done == 1
    assert len(list((tmp_path / "cache").glob("framed-*.npz"))) == 1
    # The checkpoint holds the degradation layer and loads back to continue.
    assert train(config(2), fer2013, None, tmp_path / "run", resume=True).epochs_done == 2

    # A finished run is not trained again, nor are the crops re-aligned for it.
    def no_realignment(*args, **kwargs):
        raise AssertionError("a finished run re-aligned its training faces")

    monkeypatch.setattr("fer.training.loop.pipeline_framed_rows", no_realignment)
    assert train(config(2), fer2013, None, tmp_path / "run", resume=True).epochs_done == 2
