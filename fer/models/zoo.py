"""The model zoo: a registry of backbone builders by name.

A backbone maps a raw 48×48×1 face (0..255) to a feature vector; classification heads are added by
:func:`build_classifier` (one head) or by the trainer (one head per label set, shared backbone).
Per-face standardisation is the backbone's first layer so every saved model carries it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import keras
import numpy as np
from keras import layers
from numpy.typing import NDArray

from fer.data.preprocess import INPUT_SHAPE, PerFaceStandardization


@dataclass(frozen=True)
class ZooEntry:
    name: str
    description: str
    build_backbone: Callable[[], keras.Model]
    dropout: float  # applied between the features and each softmax head


def _conv_bn_relu(x, filters: int, name: str, shortcut=None):
    """3×3 conv, batch norm, ReLU; ``shortcut`` (same shape) is added before the ReLU."""
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    if shortcut is not None:
        x = layers.Add(name=f"{name}_add")([x, shortcut])
    return layers.ReLU(name=f"{name}_relu")(x)


def _ziggy_backbone() -> keras.Model:
    # The published lightweight baseline, layer for layer (valid padding as in the original).
    inputs = keras.Input(INPUT_SHAPE, name="face")
    x = PerFaceStandardization(name="standardize")(inputs)
    x = layers.Conv2D(32, 3, activation="relu", name="conv1")(x)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.Conv2D(64, 3, activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(2, name="pool2")(x)
    x = layers.Flatten(name="flatten")(x)
    return keras.Model(inputs, x, name="ziggy_backbone")


def _mycnn_backbone() -> keras.Model:
    inputs = keras.Input(INPUT_SHAPE, name="face")
    x = PerFaceStandardization(name="standardize")(inputs)
    x = layers.Conv2D(32, 3, activation="relu", name="conv1")(x)
    x = layers.Conv2D(64, 3, activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(2, name="pool")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(128, activation="relu", name="dense")(x)
    return keras.Model(inputs, x, name="mycnn_backbone")


def _squeeze_excite(x, name: str, reduction: int = 8):
    """Channel attention (Hu et al., 2018): global pool, bottleneck, sigmoid gate per channel."""
    channels = x.shape[-1]
    gate = layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_se_pool")(x)
    bottleneck = max(8, channels // reduction)
    gate = layers.Dense(bottleneck, activation="relu", name=f"{name}_se_reduce")(gate)
    gate = layers.Dense(channels, activation="sigmoid", name=f"{name}_se_expand")(gate)
    return layers.Multiply(name=f"{name}_se")([x, gate])


def _stacked_conv_backbone(
    name: str,
    stem: int,
    stages: tuple[int, ...],
    convs_per_stage: tuple[int, ...] = (),
    residual: bool = False,
    squeeze_excite: bool = False,
) -> keras.Model:
    """One 3×3 conv at full resolution, then per stage: max-pool 2×2 and 3×3 BN convs; GAP.

    ``convs_per_stage`` gives each stage's number of convs (default two per stage).
    ``residual`` adds each stage's first conv output to its later convs' outputs (an identity
    shortcut, free of parameters); ``squeeze_excite`` gates each stage's output channels.
    """
    convs_per_stage = convs_per_stage or (2,) * len(stages)
    inputs = keras.Input(INPUT_SHAPE, name="face")
    x = PerFaceStandardization(name="standardize")(inputs)
    x = _conv_bn_relu(x, stem, "stem")
    for stage, (filters, convs) in enumerate(zip(stages, convs_per_stage, strict=True), start=1):
        x = layers.MaxPooling2D(2, name=f"pool{stage}")(x)
        for conv in range(convs):
            shortcut = x if residual and conv > 0 else None
            x = _conv_bn_relu(x, filters, f"stage{stage}{chr(ord('a') + conv)}", shortcut)
        if squeeze_excite:
            x = _squeeze_excite(x, f"stage{stage}")
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(inputs, x, name=f"{name}_backbone")


def _fernet_backbone() -> keras.Model:
    # Chosen by measuring training time per image and int8 TFLite latency on a 2-core CPU
    # (experiments/architectures): a single conv at full resolution, then double 3×3 conv
    # stages with batch norm, global average pooling instead of a large dense layer.
    return _stacked_conv_backbone("fernet", 24, (48, 96, 192))


def _fernet4_backbone() -> keras.Model:
    # fernet with a wider first stage and a fourth stage at 3×3, because fernet's training
    # accuracy stayed close to its test accuracy: it was short of capacity. The wider first
    # stage costs latency (experiments/architectures).
    return _stacked_conv_backbone("fernet4", 32, (64, 96, 192, 320))


def _fernet4s_backbone() -> keras.Model:
    # fernet's three stages unchanged plus a fourth at 3×3 (320 filters): capacity where it is
    # cheap (9 positions per filter), so int8 latency stays near fernet's, which fernet4's
    # wider first stage does not (experiments/architectures).
    return _stacked_conv_backbone("fernet4s", 24, (48, 96, 192, 320))


def _fernet4l_backbone() -> keras.Model:
    # fernet4s with one conv instead of two in the 24×24 stage, the most expensive conv of the
    # net: the 3×3 stage's parameters then come at about fernet's int8 latency
    # (experiments/architectures).
    return _stacked_conv_backbone("fernet4l", 24, (48, 96, 192, 320), (1, 2, 2, 2))


def _fernet4r_backbone() -> keras.Model:
    # fernet4l with identity shortcuts around each stage's second conv and squeeze-excite gates
    # on each stage's output: the same convolutions (so about the same multiply-adds), a
    # candidate for more accuracy at fernet4l's latency (experiments/architectures).
    return _stacked_conv_backbone(
        "fernet4r", 24, (48, 96, 192, 320), (1, 2, 2, 2), residual=True, squeeze_excite=True
    )


def _fernetlite_backbone() -> keras.Model:
    # fernet4l at half width, a quarter of its multiply-adds, for CPUs without AVX-512 where
    # fernet4l is compute-bound. It did not ship: still over the latency target there and less
    # accurate than the peer (experiments/README.md, fernetlite_joint).
    return _stacked_conv_backbone("fernetlite", 12, (24, 48, 96, 160), (1, 2, 2, 2))


ZOO: dict[str, ZooEntry] = {
    entry.name: entry
    for entry in (
        ZooEntry(
            "ziggy",
            "Published lightweight baseline: Conv32-Pool-Conv64-Pool-Dropout0.5-Dense softmax",
            _ziggy_backbone,
            dropout=0.5,
        ),
        ZooEntry(
            "mycnn",
            "Two conv layers (32, 64), max-pool, Dense 128, softmax",
            _mycnn_backbone,
            dropout=0.0,
        ),
        ZooEntry(
            "fernet",
            "Project CNN for accuracy per CPU-second: BN conv stages 24-48-96-192, GAP",
            _fernet_backbone,
            dropout=0.4,
        ),
        ZooEntry(
            "fernet4",
            "fernet with four stages (32 stem; 64-96-192-320), GAP; 2.2 M parameters",
            _fernet4_backbone,
            dropout=0.4,
        ),
        ZooEntry(
            "fernet4s",
            "fernet plus a fourth stage at 3x3 (24; 48-96-192-320), GAP; 2.1 M parameters",
            _fernet4s_backbone,
            dropout=0.4,
        ),
        ZooEntry(
            "fernet4l",
            "fernet4s with one conv in the 24x24 stage (24; 48x1-96-192-320), GAP; 2.1 M "
            "parameters at fernet's int8 latency",
            _fernet4l_backbone,
            dropout=0.4,
        ),
        ZooEntry(
            "fernet4r",
            "fernet4l with identity shortcuts and squeeze-excite gates per stage; 2.2 M "
            "parameters",
            _fernet4r_backbone,
            dropout=0.4,
        ),
        ZooEntry(
            "fernetlite",
            "fernet4l at half width (12; 24x1-48-96-160), GAP; 0.53 M parameters; a speed "
            "candidate for CPUs without AVX-512 (not shipped)",
            _fernetlite_backbone,
            dropout=0.4,
        ),
    )
}


def zoo_entry(name: str) -> ZooEntry:
    try:
        return ZOO[name]
    except KeyError:
        raise ValueError(f"Unknown architecture {name!r}; the zoo has {sorted(ZOO)}") from None


def layers_by_name(model: keras.Model) -> dict[str, keras.layers.Layer]:
    """A model's weighted layers by name, the backbone's inner layers included.

    Training models hold the backbone as one nested model (``<arch>_backbone``); inference
    models built by :func:`build_classifier` hold its layers directly. The names match, which is
    how weights move between the two.
    """
    found = {}
    for layer in model.layers:
        inner = layer.layers if layer.name.endswith("_backbone") else [layer]
        found.update({item.name: item for item in inner if item.weights})
    return found


def build_head(features, n_classes: int, dropout: float, name: str):
    """Dropout + softmax head on a feature tensor."""
    if dropout:
        features = layers.Dropout(dropout, name=f"{name}_dropout")(features)
    # float32 softmax even under a mixed-precision policy (the loss takes logs of it).
    return layers.Dense(n_classes, activation="softmax", name=name, dtype="float32")(features)


def build_classifier(architecture: str, n_classes: int, name: str = "probs") -> keras.Model:
    """A single-head classifier: raw face in, class probabilities out."""
    entry = zoo_entry(architecture)
    backbone = entry.build_backbone()
    outputs = build_head(backbone.output, n_classes, entry.dropout, name)
    return keras.Model(backbone.input, outputs, name=architecture)


def batch_norm_layers(model: keras.Model) -> list[layers.BatchNormalization]:
    """The batch-norm layers of an inference model (flat, as :func:`build_classifier` makes)."""
    return [layer for layer in model.layers if isinstance(layer, layers.BatchNormalization)]


def recalibrate_batch_norm(
    model: keras.Model, faces: NDArray[np.uint8], batch_size: int = 512
) -> list[str]:
    """Recompute every batch-norm layer's moving mean and variance on un-augmented ``faces``.

    Training accumulates them over augmented faces (rotated, zoomed, shifted, contrast-changed),
    whose feature statistics differ from those of the plain faces the model sees at inference;
    on the shipped fernet4l models recomputing them raised FER2013 PublicTest accuracy by 1.4
    points (fer soup). The pass runs the model in training mode, so each layer
    normalises with its batch's own statistics, and keeps the size-weighted average of the batch
    means and variances, as SWA's BN update does (Izmailov et al., 2018). The result does not
    depend on the statistics the model had before. ``model`` is an inference model (no
    augmentation layers) whose layers are not nested; ``faces`` is uint8 gray (N, 48, 48).
    Returns the names of the layers updated; no other weight changes.
    """
    import tensorflow as tf

    faces = np.asarray(faces)
    if faces.ndim != 3 or faces.shape[1:] != INPUT_SHAPE[:2] or not len(faces):
        raise ValueError(f"recalibrate_batch_norm needs faces (N, 48, 48); got {faces.shape}")
    norms = batch_norm_layers(model)
    if not norms:
        return []
    probe = keras.Model(model.input, [layer.input for layer in norms])

    @tf.function(reduce_retracing=True)
    def batch_moments(batch):
        inputs = probe(batch, training=True)
        return [tf.nn.moments(tf.cast(x, tf.float32), axes=[0, 1, 2]) for x in inputs]

    # Per layer: sums of batch means and variances, arrays once the first batch is added.
    sums: list[list[float | NDArray[np.float64]]] = [[0.0, 0.0] for _ in norms]
    for start in range(0, len(faces), batch_size):
        batch = faces[start : start + batch_size, :, :, None].astype(np.float32)
        for total, (mean, variance) in zip(sums, batch_moments(batch), strict=True):
            total[0] = total[0] + mean.numpy().astype(np.float64) * len(batch)
            total[1] = total[1] + variance.numpy().astype(np.float64) * len(batch)
    for layer, (mean_sum, variance_sum) in zip(norms, sums, strict=True):
        gamma_beta = layer.get_weights()[:-2]  # gamma and beta, when the layer has them
        layer.set_weights(
            [
                *gamma_beta,
                np.asarray(mean_sum / len(faces), np.float32),
                np.asarray(variance_sum / len(faces), np.float32),
            ]
        )
    return [layer.name for layer in norms]
