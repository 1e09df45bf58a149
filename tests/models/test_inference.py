import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fer.models.cards import ModelNotFoundError
from fer.models.inference import load_model, validate_faces


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory) -> Path:
    """An untrained ziggy with a card and an int8 export: enough to test the API's plumbing."""
    from fer.emotions import FER2013
    from fer.models.zoo import build_classifier
    from fer.training.export import export_tflite_int8

    model_dir = tmp_path_factory.mktemp("models") / "tiny"
    model_dir.mkdir()
    model = build_classifier("ziggy", 7)
    model.save(model_dir / "model.keras")
    (model_dir / "card.json").write_text(
        json.dumps({"name": "tiny", "label_set": "fer2013", "classes": list(FER2013.names)})
    )
    faces = np.random.default_rng(0).integers(0, 256, (20, 48, 48), dtype=np.uint8)
    export_tflite_int8(model, faces, model_dir / "model_int8.tflite")
    return model_dir


@pytest.mark.parametrize(
    ("faces", "message"),
    [
        (np.zeros((48, 48), np.float32), "uint8"),
        (np.zeros((2, 64, 64), np.uint8), r"shape \(N, 48, 48\)"),
        (np.zeros((2, 48, 48, 3), np.uint8), "shape"),
        ([[0] * 48] * 48, "numpy array"),
    ],
)
def test_predict_input_validation(faces, message):
    with pytest.raises(ValueError, match=message):
        validate_faces(faces)


def test_one_face_and_batches_have_the_contracted_shape(tiny_model_dir: Path):
    for backend in ("keras", "tflite"):
        model = load_model(tiny_model_dir, backend=backend)
        assert model.classes[0] == "angry" and len(model.classes) == 7
        faces = np.random.default_rng(1).integers(0, 256, (5, 48, 48), dtype=np.uint8)
        batch = model.predict(faces)
        assert batch.shape == (5, 7) and batch.dtype == np.float32
        np.testing.assert_allclose(batch.sum(axis=1), 1.0, atol=1e-3)
        assert model.predict(faces[0]).shape == (1, 7)
        assert model.predict(faces[:0]).shape == (0, 7)
        with pytest.raises(ValueError):
            model.predict(faces.astype(np.float64))


def test_thread_count_follows_fer_threads_and_gives_the_same_probabilities(
    tiny_model_dir: Path, monkeypatch
):
    from fer.models.runners import default_threads

    monkeypatch.setenv("FER_THREADS", "1")
    assert default_threads() == 1
    one = load_model(tiny_model_dir, backend="tflite")
    assert one.num_threads == 1
    monkeypatch.delenv("FER_THREADS")
    assert default_threads() == min(2, os.cpu_count() or 1)
    two = load_model(tiny_model_dir, backend="tflite", num_threads=2)
    assert two.num_threads == 2
    faces = np.random.default_rng(3).integers(0, 256, (16, 48, 48), dtype=np.uint8)
    two.predict(faces[:2])
    assert set(two._run._interpreters) == {1}  # small batches stay on one thread
    np.testing.assert_allclose(one.predict(faces), two.predict(faces), atol=1e-6)
    assert set(two._run._interpreters) == {1, 2}
    for bad in ("zero", "0"):
        monkeypatch.setenv("FER_THREADS", bad)
        with pytest.raises(ValueError, match="FER_THREADS"):
            default_threads()


def test_flip_tta_averages_a_face_with_its_mirror_image(tiny_model_dir: Path):
    model = load_model(tiny_model_dir, backend="tflite")
    faces = np.random.default_rng(4).integers(0, 256, (3, 48, 48), dtype=np.uint8)
    expected = (model.predict(faces) + model.predict(faces[:, :, ::-1].copy())) / 2.0
    averaged = model.predict(faces, tta=True)
    assert averaged.shape == (3, 7)
    np.testing.assert_allclose(averaged, expected, atol=1e-6)
    np.testing.assert_allclose(model.predict(faces[0], tta=True), expected[:1], atol=1e-6)


def test_mirror_zoom_tta_averages_six_views(tiny_model_dir: Path):
    from fer.models.inference import TTA_ZOOMS, zoom_faces

    model = load_model(tiny_model_dir, backend="tflite")
    faces = np.random.default_rng(5).integers(0, 256, (3, 48, 48), dtype=np.uint8)
    views = [zoom_faces(faces, factor) for factor in TTA_ZOOMS["mirror+zoom"]]
    views += [view[:, :, ::-1].copy() for view in views]
    expected = np.mean([model.predict(view) for view in views], axis=0)
    np.testing.assert_allclose(model.predict(faces, tta="mirror+zoom"), expected, atol=1e-6)
    assert model.predict(faces, tta="none").shape == (3, 7)
    mirrored = model.predict(faces, tta=True)
    np.testing.assert_array_equal(model.predict(faces, tta="mirror"), mirrored)
    with pytest.raises(ValueError, match="tta must be"):
        model.predict(faces, tta="ten-crop")


def test_output_temperatures_rescale_their_own_view_sets_only(tiny_model_dir: Path, tmp_path):
    import shutil

    from fer.models.inference import rescale_temperature
    from fer.training.calibration import temperature_scaled

    faces = np.random.default_rng(6).integers(0, 256, (4, 48, 48), dtype=np.uint8)
    plain = load_model(tiny_model_dir, backend="tflite")
    assert plain.output_temperatures == {}
    copy = tmp_path / "tempered"
    shutil.copytree(tiny_model_dir, copy)
    card = json.loads((copy / "card.json").read_text())
    card["calibration"] = {"output_temperatures": {"none": 0.5, "mirror": 2.0}}
    (copy / "card.json").write_text(json.dumps(card))
    tempered = load_model(copy, backend="tflite")
    for tta, temperature in (("none", 0.5), (False, 0.5), ("mirror", 2.0), (True, 2.0)):
        expected = rescale_temperature(plain.predict(faces, tta=tta), temperature)
        np.testing.assert_allclose(tempered.predict(faces, tta=tta), expected, atol=1e-6)
    # The pipeline's six views are calibrated by the folded head: no extra rescaling.
    np.testing.assert_array_equal(
        tempered.predict(faces, tta="mirror+zoom"), plain.predict(faces, tta="mirror+zoom")
    )
    one_pass = tempered.predict(faces)
    np.testing.assert_allclose(one_pass.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(one_pass.argmax(axis=1), plain.predict(faces).argmax(axis=1))
    # Sharpening: the top probability grows; same map as fer.training.calibration's for one view.
    assert (one_pass.max(axis=1) >= plain.predict(faces).max(axis=1) - 1e-6).all()
    np.testing.assert_allclose(
        one_pass, temperature_scaled(plain.predict(faces), 0.5), atol=1e-5
    )
    assert tempered.predict(np.zeros((0, 48, 48), np.uint8)).shape == (0, 7)
    for damaged, message in (({"mirror+zoom": 1.2}, "unknown view set"),
                             ({"ten-crop": 1.2}, "unknown view set"),
                             ({"none": 0}, "not a positive number"),
                             ({"none": "hot"}, "not a positive number")):
        card["calibration"] = {"output_temperatures": damaged}
        (copy / "card.json").write_text(json.dumps(card))
        with pytest.raises(ValueError, match=message):
            load_model(copy, backend="tflite")
    with pytest.raises(ValueError, match="positive"):
        rescale_temperature(one_pass, -1.0)


def test_zoom_keeps_the_centre_and_magnifies_about_it():
    from fer.models.inference import zoom_faces

    face = np.zeros((1, 48, 48), np.uint8)
    face[0, 20:28, 20:28] = 255  # an 8-pixel square at the centre
    assert zoom_faces(face, 1.0) is face
    zoomed = zoom_faces(face, 1.5)
    assert zoomed.shape == face.shape and zoomed.dtype == np.uint8
    assert zoomed[0, 24, 24] == 255 and zoomed[0, 17, 24] > 0  # grew past the old edge
    assert (zoomed[0] > 127).sum() == pytest.approx(1.5**2 * 64, rel=0.2)


def test_int8_export_tracks_the_keras_model(tiny_model_dir: Path):
    faces = np.random.default_rng(2).integers(0, 256, (32, 48, 48), dtype=np.uint8)
    reference = load_model(tiny_model_dir, backend="keras").predict(faces)
    exported = load_model(tiny_model_dir, backend="tflite").predict(faces)
    assert np.abs(reference - exported).max() < 0.05


def test_unknown_model_name_is_a_clear_error():
    with pytest.raises(ModelNotFoundError, match="No model 'nope'"):
        load_model("nope")


def test_import_fer_is_cheap_and_names_resolve():
    code = (
        "import sys, fer; heavy = [m for m in ('tensorflow', 'keras', 'mediapipe', 'cv2', "
        "'streamlit') if m in sys.modules]; print(heavy); print(sorted(fer.__all__))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert output[0] == "[]"
    import fer

    for name in fer.__all__:
        assert getattr(fer, name) is not None
    with pytest.raises(AttributeError):
        fer.not_a_name  # noqa: B018


def test_bench_cli_reports_latency_and_records_it_in_the_card(
    tiny_model_dir: Path, capsys, monkeypatch
):
    from fer.cli import main as fer_main
    from fer.config import cpu_vector_extension
    from fer.evaluation.bench import benchmark_key

    arguments = [str(tiny_model_dir), "--repeats", "20", "--batch-size", "8", "--threads", "1"]
    assert fer_main(["bench", *arguments]) == 0
    printed = capsys.readouterr().out
    assert "single_face_ms_median" in printed and "batched_8_ms_per_face_median" in printed
    card_before = json.loads((tiny_model_dir / "card.json").read_text())
    assert "benchmark" not in card_before
    model = str(tiny_model_dir)
    assert fer_main(["bench", model, "--repeats", "20", "--threads", "2", "--record"]) == 0
    recorded = json.loads((tiny_model_dir / "card.json").read_text())["benchmark"]
    entry = recorded[benchmark_key("tflite", 2, cpu_vector_extension())]
    assert entry["batch_threads"] == 2 and entry["single_face_ms_median"] > 0
    assert entry["command"].endswith("--repeats 20 --threads 2")
    assert cpu_vector_extension() in entry["machine"]
    # A machine of another CPU class adds its own entry instead of replacing this one.
    monkeypatch.setattr("fer.config.cpu_vector_extension", lambda: "avx9")
    assert fer_main(["bench", model, "--repeats", "5", "--threads", "2", "--record"]) == 0
    both = json.loads((tiny_model_dir / "card.json").read_text())["benchmark"]
    assert both["tflite_2_threads_avx9"]["batch_threads"] == 2
    assert both[next(iter(recorded))] == entry
    assert fer_main(["bench", "no-such-model"]) == 2


def test_bench_cli_times_test_time_views_without_recording_them(
    tiny_model_dir: Path, capsys
):
    from fer.cli import main as fer_main

    arguments = [str(tiny_model_dir), "--repeats", "10", "--batch-size", "4", "--tta", "--json"]
    card_before = (tiny_model_dir / "card.json").read_text()
    assert fer_main(["bench", *arguments]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["tta"] == "mirror" and result["single_face_ms_median"] > 0
    # The cards keep the plain figures only.
    assert fer_main(["bench", *arguments, "--record"]) == 2
    assert (tiny_model_dir / "card.json").read_text() == card_before


def test_benchmark_keys_name_backend_threads_and_cpu_class():
    from fer.evaluation.bench import benchmark_key

    assert benchmark_key("tflite", 2, "avx512") == "tflite_2_threads_avx512"
    assert benchmark_key("tflite", 1, "no avx") == "tflite_1_threads_no_avx"
    assert benchmark_key("keras", 0, "") == "keras"


def test_export_modes_and_their_errors(tmp_path: Path):
    from fer.models.zoo import build_classifier
    from fer.training.export import QUANTIZATION_MODES, export_tflite_int8

    model = build_classifier("ziggy", 7)
    faces = np.random.default_rng(5).integers(0, 256, (8, 48, 48), dtype=np.uint8)
    assert export_tflite_int8(model, None, tmp_path / "d.tflite") == QUANTIZATION_MODES["dynamic"]
    assert export_tflite_int8(model, faces, tmp_path / "f.tflite", "full").startswith(
        "int8 weights and"
    )
    with pytest.raises(ValueError, match="calibration"):
        export_tflite_int8(model, None, tmp_path / "x.tflite", "full")
    with pytest.raises(ValueError, match="mode"):
        export_tflite_int8(model, faces, tmp_path / "x.tflite", "float")


def test_report_keys_and_labels_say_which_test_time_views():
    from fer.evaluation.evaluation_file import views_key
    from fer.evaluation.reports import report_key, report_label
    from fer.models.inference import tta_label

    assert [views_key(v) for v in (False, None, "none", True, "mirror", "mirror+zoom")] == [
        "none", "none", "none", "mirror", "mirror", "mirror+zoom"
    ]
    zoom = {"split": "PublicTest", "tta": "mirror+zoom", "backend": "keras"}
    assert report_key(zoom) == "PublicTest/mirror+zoom/keras"
    assert report_label(zoom) == "PublicTest +TTA mirror+zoom (keras)"
    assert report_label({"split": "PrivateTest", "tta": True, "backend": "tflite"}) == (
        "PrivateTest +TTA"
    )
    assert [tta_label(v) for v in (False, True, "mirror", "mirror+zoom")] == [
        "", " +TTA", " +TTA", " +TTA mirror+zoom"
    ]
    with pytest.raises(ValueError, match="tta must be"):
        views_key("ten-crop")


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True, "64"])
def test_predict_refuses_a_batch_size_that_is_not_a_positive_whole_number(batch_size):
    from fer.models.inference import view_probabilities

    faces = np.zeros((3, 48, 48), np.uint8)
    with pytest.raises(ValueError, match="batch_size"):
        view_probabilities(lambda batch: np.ones((len(batch), 7)), 7, faces, batch_size, False)


@pytest.mark.parametrize("tta", [False, "mirror+zoom"])
def test_many_faces_are_converted_one_batch_at_a_time(tta):
    """100k faces used to become one float32 array four times the input's size at once."""
    import tracemalloc

    from fer.models.inference import view_probabilities

    faces = np.random.default_rng(0).integers(0, 256, (20_000, 48, 48), dtype=np.uint8)
    batch_rows: list[int] = []

    def run(batch):
        batch_rows.append(len(batch))
        return np.full((len(batch), 7), 1 / 7, np.float32)

    tracemalloc.start()
    probabilities = view_probabilities(run, 7, faces, 256, tta)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert probabilities.shape[1:] == (20_000, 7)
    assert max(batch_rows) <= 256
    # The output plus a few batches, far below the float32 copy of every face and view.
    assert peak < probabilities.nbytes + 64 * 2**20 < faces.nbytes * 4


def test_module_level_predict_loads_each_model_once_and_matches_the_method(monkeypatch):
    import fer
    import fer.models.inference as inference

    loads = []
    real_load_model = inference.load_model

    def counting_load_model(*args, **kwargs):
        loads.append(args)
        return real_load_model(*args, **kwargs)

    monkeypatch.setattr(inference, "load_model", counting_load_model)
    monkeypatch.setattr(inference, "_PREDICT_MODELS", {})
    faces = np.random.default_rng(0).integers(0, 256, (3, 48, 48), dtype=np.uint8)
    first = fer.predict(faces, "fer2013")
    again = fer.predict(faces[0], "fer2013", tta="mirror")
    assert len(loads) == 1 and first.shape == (3, 7) and again.shape == (1, 7)
    model = real_load_model("fer2013")
    np.testing.assert_allclose(first, model.predict(faces), atol=1e-6)
    np.testing.assert_allclose(fer.predict(faces, model), first, atol=1e-6)
    with pytest.raises(ValueError, match="a model is named by a string or a path"):
        fer.predict(faces, None)


@pytest.mark.parametrize("tta", ["none", "mirror", "mirror+zoom"])
def test_a_recorded_label_gives_back_its_views(tta):
    from types import SimpleNamespace

    from fer.models.cards import recorded_model_label, recorded_views

    model = SimpleNamespace(name="ferplus", card={"version": "2"})
    assert recorded_views(recorded_model_label(model, tta)) == tta
