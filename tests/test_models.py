import numpy as np
import pytest

from fer.models import ZOO, build_classifier, zoo_entry
from fer.preprocess import PerFaceStandardization, standardize_faces


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
