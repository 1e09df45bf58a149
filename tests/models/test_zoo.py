import numpy as np
import pytest

from fer.data.preprocess import PerFaceStandardization, standardize_faces
from fer.models.zoo import ZOO, build_classifier, zoo_entry


@pytest.mark.parametrize("architecture", sorted(ZOO))
@pytest.mark.parametrize("n_classes", [7, 8])
def test_each_zoo_model_builds_with_the_right_output(architecture, n_classes):
    model = build_classifier(architecture, n_classes)
    assert model.input_shape == (None, 48, 48, 1)
    assert model.output_shape == (None, n_classes)
    faces = np.random.default_rng(0).integers(0, 256, (2, 48, 48, 1)).astype(np.float32)
    probabilities = np.asarray(model(faces, training=False))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_ziggy_matches_the_published_layer_sequence():
    model = build_classifier("ziggy", 7)
    kinds = [type(layer).__name__ for layer in model.layers[2:]]
    assert kinds == [
        "Conv2D",
        "MaxPooling2D",
        "Conv2D",
        "MaxPooling2D",
        "Flatten",
        "Dropout",
        "Dense",
    ]
    assert [model.get_layer(name).filters for name in ("conv1", "conv2")] == [32, 64]


def test_mycnn_has_two_convs_and_dense_128():
    model = build_classifier("mycnn", 7)
    assert model.get_layer("dense").units == 128
    assert [model.get_layer(name).filters for name in ("conv1", "conv2")] == [32, 64]


def test_unknown_architecture():
    with pytest.raises(ValueError, match="zoo has"):
        zoo_entry("resnet152")


def test_standardisation_layer_and_numpy_twin_agree():
    faces = np.random.default_rng(1).integers(0, 256, (3, 48, 48, 1)).astype(np.float32)
    faces[2] = 128.0  # a blank face: the std floor keeps it finite
    layer_output = np.asarray(PerFaceStandardization()(faces))
    np.testing.assert_allclose(layer_output, standardize_faces(faces), atol=1e-4)
    assert np.isfinite(layer_output).all()
    np.testing.assert_allclose(layer_output[0].mean(), 0.0, atol=1e-4)
    np.testing.assert_allclose(layer_output[0].std(), 1.0, atol=1e-3)
    # Brightness and contrast changes do not change what the network sees.
    np.testing.assert_allclose(
        standardize_faces(faces[:1] * 0.5 + 40), standardize_faces(faces[:1]), atol=1e-4
    )


@pytest.mark.parametrize(
    ("architecture", "widths"),
    [("fernet4", [64, 96, 192, 320]), ("fernet4s", [48, 96, 192, 320])],
)
def test_four_stage_fernets_go_down_to_3x3(architecture, widths):
    backbone = zoo_entry(architecture).build_backbone()
    found = [backbone.get_layer(f"stage{stage}b_conv").filters for stage in (1, 2, 3, 4)]
    assert found == widths
    assert backbone.get_layer("stage4b_conv").output.shape[1:3] == (3, 3)


def test_fernet4l_has_one_conv_at_24x24_and_fernet4s_widths_elsewhere():
    lean = zoo_entry("fernet4l").build_backbone()
    full = zoo_entry("fernet4s").build_backbone()
    lean_convs = [layer.name for layer in lean.layers if layer.name.endswith("_conv")]
    full_convs = [layer.name for layer in full.layers if layer.name.endswith("_conv")]
    assert set(full_convs) - set(lean_convs) == {"stage1b_conv"}
    assert lean.get_layer("stage1a_conv").output.shape[1:3] == (24, 24)
    assert lean.get_layer("stage4b_conv").filters == 320


def multiply_adds_per_face(backbone) -> int:
    """3×3 conv multiply-adds of one 48×48 face, from the layer shapes."""
    total = 0
    for layer in backbone.layers:
        if layer.name.endswith("_conv"):
            height, width, filters = layer.output.shape[1:]
            total += 9 * layer.input.shape[-1] * filters * height * width
    return total


def test_fernetlite_is_fernet4l_at_half_width_and_a_quarter_of_its_compute():
    lite = zoo_entry("fernetlite").build_backbone()
    lean = zoo_entry("fernet4l").build_backbone()
    lite_convs = [layer.name for layer in lite.layers if layer.name.endswith("_conv")]
    assert lite_convs == [layer.name for layer in lean.layers if layer.name.endswith("_conv")]
    for name in lite_convs:
        assert lite.get_layer(name).filters * 2 == lean.get_layer(name).filters
    assert multiply_adds_per_face(lean) == pytest.approx(55.6e6, rel=0.01)
    assert multiply_adds_per_face(lite) / multiply_adds_per_face(lean) == pytest.approx(
        0.25, abs=0.01
    )


def _moving_statistics(model):
    import keras

    return {
        layer.name: [w.copy() for w in layer.get_weights()]
        for layer in model.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    }


def test_recalibrate_batch_norm_uses_the_faces_statistics_and_nothing_else():
    import keras

    from fer.models.zoo import recalibrate_batch_norm

    model = build_classifier("fernet", 7)
    faces = np.random.default_rng(1).integers(0, 256, (40, 48, 48)).astype(np.uint8)
    before = {
        layer.name: [w.copy() for w in layer.get_weights()]
        for layer in model.layers
        if layer.weights and not isinstance(layer, keras.layers.BatchNormalization)
    }
    # Batches of 16, 16 and 8: the average must weight them by size.
    updated = recalibrate_batch_norm(model, faces, batch_size=16)
    assert updated[0] == "stem_bn" and len(updated) == len(_moving_statistics(model))

    # The first batch-norm layer's input does not depend on any other: its moving mean is the
    # mean over all faces, its variance the size-weighted mean of the batches' variances.
    stem_input = np.asarray(
        keras.Model(model.input, model.get_layer("stem_bn").input)(
            faces[..., None].astype(np.float32)
        ),
        np.float64,
    ).reshape(40, -1, 24)
    batch_variances = [
        stem_input[rows].reshape(-1, 24).var(axis=0)
        for rows in (slice(0, 16), slice(16, 32), slice(32, 40))
    ]
    expected_variance = (
        16 * batch_variances[0] + 16 * batch_variances[1] + 8 * batch_variances[2]
    ) / 40
    _, _, moving_mean, moving_variance = model.get_layer("stem_bn").get_weights()
    np.testing.assert_allclose(
        moving_mean, stem_input.reshape(-1, 24).mean(axis=0), rtol=1e-4, atol=1e-4
    )
    np.testing.assert_allclose(moving_variance, expected_variance, rtol=1e-3, atol=1e-4)

    # Gamma, beta and every other layer keep their weights.
    for name, weights in before.items():
        for ours, theirs in zip(model.get_layer(name).get_weights(), weights, strict=True):
            np.testing.assert_array_equal(ours, theirs)

    # The statistics the model had before do not matter: spoil them and recalibrate again.
    recalibrated = _moving_statistics(model)
    for layer in updated:
        gamma, beta, mean, variance = model.get_layer(layer).get_weights()
        model.get_layer(layer).set_weights([gamma, beta, mean + 5.0, variance * 9.0])
    recalibrate_batch_norm(model, faces, batch_size=16)
    for name, weights in _moving_statistics(model).items():
        for ours, theirs in zip(weights, recalibrated[name], strict=True):
            np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)


def test_recalibrate_batch_norm_checks_faces_and_skips_models_without_it():
    from fer.models.zoo import recalibrate_batch_norm

    faces = np.zeros((4, 48, 48), np.uint8)
    assert recalibrate_batch_norm(build_classifier("ziggy", 7), faces) == []
    with pytest.raises(ValueError, match="48, 48"):
        recalibrate_batch_norm(build_classifier("fernet", 7), np.zeros((4, 32, 32), np.uint8))
    with pytest.raises(ValueError, match="48, 48"):
        recalibrate_batch_norm(build_classifier("fernet", 7), np.zeros((0, 48, 48), np.uint8))
