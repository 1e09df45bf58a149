"""Input preprocessing and training augmentation as Keras layers.

Both live inside the models (keras-io style), so whatever feeds a model raw uint8 gray faces gets
exactly the preprocessing used in training. Per-face standardisation (zero mean, unit variance per
image) rather than a dataset-wide mean keeps the models from depending on FER2013's particular
brightness and contrast, which matters on webcam crops and other datasets.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops
from numpy.typing import NDArray

from fer.data.augmentation import DEGRADATIONS, AugmentationConfig

INPUT_SHAPE = (48, 48, 1)
MIN_STD = 4.0
PREPROCESSING_DESCRIPTION = {
    "input": "gray face, 48x48, values 0..255 (uint8 through predict; the Keras file also "
    "takes float32 on that scale)",
    "inside_model": "per-face standardisation (x - mean(x)) / max(std(x), 4.0)",
    "face_crop": "eyes level, FER2013-like framing (see fer.realtime.alignment.align_face)",
}


@keras.saving.register_keras_serializable(package="fer")
class PerFaceStandardization(layers.Layer):
    """``(x - mean) / max(std, min_std)`` over each face's pixels (0..255 scale input)."""

    def __init__(self, min_std: float = MIN_STD, **kwargs):
        # float32 whatever the global dtype policy: under mixed-precision training the input would
        # otherwise be cast to bfloat16 first, and training would standardise differently from the
        # float32 NumPy twin (standardize_faces) used in serving.
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        # A floor on the std keeps near-blank crops from being amplified into pure noise.
        self.min_std = float(min_std)

    def call(self, inputs):
        inputs = ops.cast(inputs, "float32")
        mean = ops.mean(inputs, axis=(1, 2, 3), keepdims=True)
        centred = inputs - mean
        std = ops.sqrt(ops.mean(ops.square(centred), axis=(1, 2, 3), keepdims=True))
        return centred / ops.maximum(std, self.min_std)

    def get_config(self):
        return {**super().get_config(), "min_std": self.min_std}


@keras.saving.register_keras_serializable(package="fer")
class VideoCallDegradation(layers.Layer):
    """During training, a share ``rate`` of faces gets one degradation a video call brings.

    Each chosen face gets one of: low resolution (down to 24 or 32 pixels and back), a motion
    blur (horizontal or vertical), an exposure change by a factor drawn log-uniformly from
    ``exposure_range`` with clipping (per-face standardisation undoes a plain scaling, the
    clipped highlights and crushed shadows are what stays), Gaussian sensor noise, or a grey
    ellipse over part of the lower face, as a resting hand. The kinds (``KINDS``) have equal
    chances unless ``kind_weights`` gives one relative chance per kind. Inputs are 0..255 faces
    (B, 48, 48, 1); at inference the layer passes them through.
    """

    KINDS = DEGRADATIONS

    def __init__(
        self,
        rate: float = 0.5,
        seed: int | None = None,
        kind_weights: tuple[float, ...] | list[float] | None = None,
        exposure_range: tuple[float, float] | list[float] = (0.3, 2.2),
        **kwargs,
    ):
        super().__init__(**kwargs)
        weights = tuple(float(weight) for weight in kind_weights or ())
        low, high = (float(bound) for bound in exposure_range)
        # The configuration checks rate, weights and range and names what was wrong.
        AugmentationConfig(
            degradation=rate, degradation_weights=weights, exposure_range=(low, high)
        )
        self.rate = float(rate)
        self.seed = seed
        self.kind_weights = weights or None
        self.exposure_range = (low, high)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def _low_resolution(self, faces, size: int):
        small = ops.image.resize(faces, (size, size), interpolation="area")
        return ops.image.resize(small, INPUT_SHAPE[:2], interpolation="bilinear")

    def _blur(self, faces, horizontal: bool):
        taps = np.array([1, 2, 3, 2, 1], np.float32) / 9.0
        shape = (1, 5, 1, 1) if horizontal else (5, 1, 1, 1)
        kernel = ops.convert_to_tensor(taps.reshape(shape))
        return ops.depthwise_conv(faces, kernel, strides=1, padding="same")

    def _occlusion(self, faces, batch):
        size = INPUT_SHAPE[0]

        def draw(low, high):
            value = keras.random.uniform((batch, 1, 1, 1), low, high, seed=self.seed_generator)
            return value * size

        centre_x, centre_y = draw(0.15, 0.85), draw(0.45, 0.95)
        radius_x, radius_y = draw(0.10, 0.25), draw(0.08, 0.18)
        grid = ops.arange(size, dtype="float32") + 0.5
        columns = ops.reshape(grid, (1, 1, size, 1))
        rows = ops.reshape(grid, (1, size, 1, 1))
        inside = (
            ops.square((columns - centre_x) / radius_x) + ops.square((rows - centre_y) / radius_y)
        ) <= 1.0
        grey = keras.random.uniform((batch, 1, 1, 1), 40.0, 220.0, seed=self.seed_generator)
        return ops.where(inside, grey, faces)

    def call(self, inputs, training=None):
        if not training or self.rate == 0.0:
            return inputs
        faces = ops.cast(inputs, "float32")
        batch = ops.shape(faces)[0]
        low, high = self.exposure_range
        log_exposure = keras.random.uniform(
            (batch, 1, 1, 1), np.log(low), np.log(high), seed=self.seed_generator
        )
        sigma = keras.random.uniform((batch, 1, 1, 1), 3.0, 12.0, seed=self.seed_generator)
        noise = keras.random.normal(ops.shape(faces), seed=self.seed_generator) * sigma
        candidates = ops.stack(
            [
                self._low_resolution(faces, 24),
                self._low_resolution(faces, 32),
                self._blur(faces, horizontal=True),
                self._blur(faces, horizontal=False),
                faces * ops.exp(log_exposure),
                faces + noise,
                self._occlusion(faces, batch),
            ],
            axis=1,
        )
        kinds = len(self.KINDS)
        if self.kind_weights is None:
            kind = keras.random.randint((batch,), 0, kinds, seed=self.seed_generator)
        else:
            # A zero weight must mean never: a very negative logit instead of log(0).
            logits = np.log(np.maximum(np.array(self.kind_weights, np.float32), 1e-30))
            tiled = ops.tile(ops.convert_to_tensor(logits[None, :]), (batch, 1))
            kind = ops.reshape(
                keras.random.categorical(tiled, 1, seed=self.seed_generator), (batch,)
            )
        choice = ops.reshape(ops.one_hot(kind, kinds), (batch, kinds, 1, 1, 1))
        degraded = ops.clip(ops.sum(candidates * choice, axis=1), 0.0, 255.0)
        chosen = keras.random.uniform((batch, 1, 1, 1), seed=self.seed_generator) < self.rate
        return ops.where(chosen, degraded, faces)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "rate": self.rate,
            "seed": self.seed,
            "kind_weights": list(self.kind_weights) if self.kind_weights else None,
            "exposure_range": list(self.exposure_range),
        }


def standardize_faces(faces: NDArray, min_std: float = MIN_STD) -> NDArray[np.float32]:
    """NumPy twin of :class:`PerFaceStandardization` for (N, 48, 48, 1) faces.

    The int8 TFLite export starts after the standardisation layer (a quantised division by a
    per-face std can hit zero), so its runner standardises with this function first.
    """
    faces = np.asarray(faces, dtype=np.float32)
    centred = faces - faces.mean(axis=(1, 2, 3), keepdims=True)
    std = np.sqrt(np.square(centred).mean(axis=(1, 2, 3), keepdims=True))
    return (centred / np.maximum(std, min_std)).astype(np.float32)


def build_augmentation(config: AugmentationConfig, seed: int) -> keras.Sequential:
    """A Sequential of Keras preprocessing layers; they only act when ``training=True``."""
    steps: list[layers.Layer] = []
    if config.horizontal_flip:
        steps.append(layers.RandomFlip("horizontal", seed=seed))
    if config.rotation_degrees:
        steps.append(
            layers.RandomRotation(config.rotation_degrees / 360.0, fill_mode="reflect", seed=seed)
        )
    if config.zoom:
        steps.append(layers.RandomZoom(config.zoom, config.zoom, fill_mode="reflect", seed=seed))
    if config.translation:
        steps.append(
            layers.RandomTranslation(
                config.translation, config.translation, fill_mode="reflect", seed=seed
            )
        )
    if config.contrast:
        steps.append(layers.RandomContrast(config.contrast, value_range=(0, 255), seed=seed))
    if config.brightness:
        steps.append(layers.RandomBrightness(config.brightness, value_range=(0, 255), seed=seed))
    if config.degradation:
        steps.append(
            VideoCallDegradation(
                config.degradation,
                seed=seed,
                kind_weights=config.degradation_weights or None,
                exposure_range=config.exposure_range,
            )
        )
    return keras.Sequential(steps, name="augmentation")


def mixup_batch(images, targets: dict, alpha: float, generator):
    """Mixup (Zhang et al., 2018) of one training batch: each face blends with a shuffled partner.

    ``images`` (B, 48, 48, 1) float, ``targets`` a dict of (B, classes) target rows per head,
    ``generator`` a ``tf.random.Generator``. Each row draws its own ``lam ~ Beta(alpha, alpha)``
    and keeps the larger share (``max(lam, 1 - lam)``), so a face stays mostly itself. Targets mix
    with the same weights; a head's all-zero row (no label) therefore scales its partner's target
    down rather than inventing one, so unlabelled partners only shrink that head's loss.
    """
    import tensorflow as tf

    batch = tf.shape(images)[0]
    # Beta(a, a) as the ratio of two Gamma(a, 1) draws; the generator supplies their seeds so
    # the run stays reproducible for a given --seed.
    seeds = generator.make_seeds(2)
    left = tf.random.stateless_gamma([batch], seeds[:, 0], alpha)
    right = tf.random.stateless_gamma([batch], seeds[:, 1], alpha)
    lam = left / (left + right)
    lam = tf.maximum(lam, 1.0 - lam)
    partner = tf.argsort(generator.uniform([batch]))
    image_lam = tf.reshape(lam, [-1, 1, 1, 1])
    mixed_images = image_lam * images + (1.0 - image_lam) * tf.gather(images, partner)
    target_lam = tf.reshape(lam, [-1, 1])
    mixed_targets = {
        key: target_lam * rows + (1.0 - target_lam) * tf.gather(rows, partner)
        for key, rows in targets.items()
    }
    return mixed_images, mixed_targets
