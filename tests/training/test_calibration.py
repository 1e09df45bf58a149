"""Temperature scaling (fer.training.calibration): the fit, folding it into a head, and the card
record."""

import numpy as np
import pytest

from fer.data.datasets import FaceDataset
from fer.emotions import class_set
from fer.training.calibration import (
    MIN_CALIBRATION_FACES,
    calibrate_on_split,
    fit_temperature,
    fold_temperature,
    negative_log_likelihood,
    temperature_scaled,
    unfold_temperature,
)


def _softmax(logits):
    logits = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)


def _outputs_and_labels(true_temperature: float, n: int = 20000, seed: int = 0):
    """Model outputs softmax(z) whose labels really follow softmax(z / true_temperature)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, 2.0, (n, 7))
    truth = _softmax(logits / true_temperature)
    labels = np.array([rng.choice(7, p=row) for row in truth])
    return _softmax(logits), labels


@pytest.mark.parametrize("true_temperature", [0.6, 1.0, 2.5])
def test_fit_recovers_the_temperature_that_generated_the_labels(true_temperature):
    probabilities, labels = _outputs_and_labels(true_temperature)
    fitted = fit_temperature(probabilities, labels)
    assert fitted == pytest.approx(true_temperature, rel=0.06)
    # The fitted temperature is no worse than the truth on the data it saw, and better than 1
    # wherever the truth is far from 1.
    nll = {t: negative_log_likelihood(temperature_scaled(probabilities, t), labels)
           for t in (1.0, fitted, true_temperature)}
    assert nll[fitted] <= nll[true_temperature] + 1e-9
    if abs(true_temperature - 1.0) > 0.3:
        assert nll[fitted] < nll[1.0] - 0.01


def test_fit_on_views_targets_the_view_average():
    """Noisy views are each over-confident, their average is not: the fit is on the average."""
    rng = np.random.default_rng(1)
    logits = rng.normal(0.0, 2.0, (20000, 7))
    labels = np.array([rng.choice(7, p=row) for row in _softmax(logits / 0.6)])
    views = np.stack([_softmax(logits + rng.normal(0.0, 1.5, logits.shape)) for _ in range(6)])
    fitted, one_view = fit_temperature(views, labels), fit_temperature(views[0], labels)
    assert fitted < 1.0 < one_view

    def served_nll(temperature):
        return negative_log_likelihood(temperature_scaled(views, temperature), labels)

    assert served_nll(fitted) < min(served_nll(fitted * 1.05), served_nll(fitted / 1.05))
    assert served_nll(fitted) < served_nll(one_view)
    # One view in a stack is the same fit as that view alone.
    assert fit_temperature(views[:1], labels) == pytest.approx(one_view)


def test_scaling_keeps_every_argmax_and_rows_sum_to_one():
    probabilities, _ = _outputs_and_labels(1.0, n=500)
    for temperature in (0.3, 0.66, 4.0):
        scaled = temperature_scaled(probabilities, temperature)
        np.testing.assert_array_equal(scaled.argmax(axis=1), probabilities.argmax(axis=1))
        np.testing.assert_allclose(scaled.sum(axis=1), 1.0, rtol=1e-12)
    # T < 1 sharpens, T > 1 flattens.
    assert temperature_scaled(probabilities, 0.5).max(axis=1).mean() > probabilities.max(
        axis=1
    ).mean() > temperature_scaled(probabilities, 2.0).max(axis=1).mean()


def test_bad_inputs_are_refused():
    probabilities, labels = _outputs_and_labels(1.0, n=50)
    with pytest.raises(ValueError, match="one label per face"):
        fit_temperature(probabilities, labels[:-1])
    with pytest.raises(ValueError, match="labels must be in"):
        fit_temperature(probabilities, np.full(50, 7))
    with pytest.raises(ValueError, match="shape"):
        fit_temperature(probabilities[0], labels[:1])
    with pytest.raises(ValueError, match="finite"):
        fit_temperature(np.full((2, 7), np.nan), labels[:2])
    with pytest.raises(ValueError, match="no faces"):
        fit_temperature(np.zeros((0, 7)), np.zeros(0, int))
    with pytest.raises(ValueError, match="positive"):
        temperature_scaled(probabilities, 0.0)


def _tiny_classifier(seed: int = 0):
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((48, 48, 1))
    x = keras.layers.Rescaling(1 / 255)(keras.layers.AveragePooling2D(8)(inputs))
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(16, activation="relu")(x)
    outputs = keras.layers.Dense(7, activation="softmax", name="head")(x)
    return keras.Model(inputs, outputs)


def test_folding_divides_the_head_logits_by_the_temperature():
    model = _tiny_classifier()
    faces = np.random.default_rng(1).integers(0, 256, (32, 48, 48, 1)).astype(np.float32)
    before = np.asarray(model(faces))
    fold_temperature(model, 0.5)
    after = np.asarray(model(faces))
    np.testing.assert_allclose(after, temperature_scaled(before, 0.5), rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="outside"):
        fold_temperature(model, 100.0)


def test_unfolding_gives_back_the_head_the_temperature_was_fitted_on():
    model = _tiny_classifier()
    faces = np.random.default_rng(1).integers(0, 256, (32, 48, 48, 1)).astype(np.float32)
    before = np.asarray(model(faces))
    fold_temperature(model, 0.5)
    unfold_temperature(model, 0.5)
    np.testing.assert_allclose(np.asarray(model(faces)), before, rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="not a finite positive number"):
        unfold_temperature(model, 0.0)


def test_folding_needs_a_softmax_head():
    import keras

    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(3, name="logits")(inputs))
    with pytest.raises(ValueError, match="not a Dense softmax head"):
        fold_temperature(model, 2.0)


def _dataset(n_public: int, seed: int = 0) -> FaceDataset:
    rng = np.random.default_rng(seed)
    n = 20 + n_public
    return FaceDataset(
        images=rng.integers(0, 256, (n, 48, 48), dtype=np.uint8),
        labels=rng.integers(0, 7, n),
        splits=np.array(["Training"] * 20 + ["PublicTest"] * n_public),
        class_set=class_set("fer2013"),
        source="synthetic",
    )


def test_calibrating_on_a_split_folds_the_fit_and_records_it():
    model = _tiny_classifier()
    # Sharpen the head so random faces get over-confident predictions: the fit must flatten.
    fold_temperature(model, 0.2)
    dataset = _dataset(MIN_CALIBRATION_FACES)
    public = dataset.split("PublicTest")
    faces = public.images[..., None].astype(np.float32)
    before = np.asarray(model(faces))
    record = calibrate_on_split(model, dataset, previous_temperature=2.0)
    assert record["this_fit"] > 1.0
    assert record["temperature"] == pytest.approx(2.0 * record["this_fit"], rel=1e-3)
    assert "mirror+zoom views" in record["fitted_on"]
    assert record["PublicTest_before_after"]["nll_after"] < (
        record["PublicTest_before_after"]["nll_before"]
    )
    assert set(record["PublicTest_one_pass_before_after"]) == {
        "nll_before", "nll_after", "ece_before", "ece_after"
    }
    # One pass and the mirror pair: their own temperatures, fitted on the folded head's outputs.
    assert set(record["output_temperatures"]) == {"none", "mirror"}
    after = np.asarray(model(faces))
    own = fit_temperature(after, public.labels)
    assert record["output_temperatures"]["none"] == pytest.approx(own, abs=1e-4)
    fit = record["output_temperature_fits"]["none"]
    assert fit["nll_after"] <= fit["nll_before"]
    np.testing.assert_array_equal(after.argmax(axis=1), before.argmax(axis=1))
    np.testing.assert_allclose(
        after, temperature_scaled(before, record["this_fit"]), rtol=2e-3, atol=1e-5
    )


def test_too_few_faces_leave_the_model_unchanged():
    model = _tiny_classifier()
    weights = [w.copy() for w in model.get_weights()]
    record = calibrate_on_split(model, _dataset(MIN_CALIBRATION_FACES - 1))
    assert record["fitted_on"] is None and "fewer than" in record["note"]
    assert record["temperature"] == 1.0
    for ours, original in zip(model.get_weights(), weights, strict=True):
        np.testing.assert_array_equal(ours, original)


def test_calibration_note_reads_the_card(tmp_path):
    import json

    from fer.evaluation.reports import calibration_note

    card = {"name": "m", "calibration": {
        "temperature": 0.5465,
        "fitted_on": "PublicTest (3199 faces, mirror+zoom views averaged)",
        "PublicTest_before_after": {"ece_before": 0.1227, "ece_after": 0.0107},
    }}
    (tmp_path / "card.json").write_text(json.dumps(card))
    note = calibration_note(tmp_path)
    assert "temperature of 0.5465" in note and "ECE 0.123 → 0.011" in note
    assert "can be less well calibrated" in note
    card["calibration"]["output_temperatures"] = {"none": 1.2345, "mirror": 0.9}
    (tmp_path / "card.json").write_text(json.dumps(card))
    note = calibration_note(tmp_path)
    assert "own temperatures (one pass 1.234, the mirror pair 0.9)" in note
    card["calibration"] = {"temperature": 1.0, "fitted_on": None, "note": "not fitted: few"}
    (tmp_path / "card.json").write_text(json.dumps(card))
    assert "no temperature was fitted (not fitted: few)" in calibration_note(tmp_path)
    (tmp_path / "card.json").write_text("{broken")
    assert "could not be read" in calibration_note(tmp_path)
