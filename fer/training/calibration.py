"""Temperature scaling: make a model's probabilities mean what they say.

Label smoothing and training on FER+ vote distributions leave the softmax under-confident: the
FER+ model said 0.6 where it was right 0.7 of the time (ECE 0.08 on PrivateTest). A clinician
reads those numbers, and the smoother's ``uncertain_below`` threshold acts on them, so published
models divide their logits by one temperature ``T`` fitted on PublicTest, the selection split
(Guo et al., 2017), to the view-averaged probabilities the frame pipeline serves. Accuracy of
one pass cannot change: the argmax of ``z / T`` is the argmax of ``z`` (a view average can
move by a few faces in a thousand).
``T`` is folded into the softmax head's kernel and bias, so the Keras file, its TFLite export
and every caller get calibrated probabilities with no extra step.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from fer.evaluation.metrics import expected_calibration_error
from fer.models.inference import PIPELINE_TTA, rescale_temperature, view_probabilities

# A temperature outside this range means the probabilities are degenerate, not miscalibrated.
TEMPERATURE_BOUNDS = (0.05, 20.0)
# View sets other than the pipeline's that callers use: one pass (``predict``'s default, the
# Live page's "none") and the mirror pair (``fer.evaluation.evaluate --tta``). Each gets a
# temperature of
# its own, fitted on top of the folded head: one folded temperature cannot serve them all (on
# FER2013 the six-view fit made one pass over-confident, ECE 0.032 -> 0.072).
OUTPUT_TEMPERATURE_VIEWS = ("none", "mirror")
MIN_CALIBRATION_FACES = 200  # fewer labelled faces fit the noise (tiny test fixtures)
_EPSILON = 1e-12


def _log_probabilities(probabilities: NDArray) -> NDArray[np.float64]:
    """Log-probabilities as (n_views, N, n_classes): one view for an (N, n_classes) input."""
    probabilities = np.asarray(probabilities, np.float64)
    if probabilities.ndim == 2:
        probabilities = probabilities[None]
    if probabilities.ndim != 3 or probabilities.shape[2] < 2:
        raise ValueError(
            "need probabilities (N, n_classes) or per view (n_views, N, n_classes), "
            f"got shape {probabilities.shape}"
        )
    if probabilities.shape[1] == 0:
        raise ValueError("cannot fit a temperature on no faces")
    if not np.all(np.isfinite(probabilities)) or probabilities.min() < 0:
        raise ValueError("probabilities must be finite and non-negative")
    return np.log(np.clip(probabilities, _EPSILON, 1.0))


def _log_softmax(logits: NDArray[np.float64]) -> NDArray[np.float64]:
    peak = logits.max(axis=-1, keepdims=True)
    return logits - peak - np.log(np.exp(logits - peak).sum(axis=-1, keepdims=True))


def temperature_scaled(probabilities: NDArray, temperature: float) -> NDArray[np.float64]:
    """``softmax(log(p) / T)``: what the model would output with its logits divided by ``T``.

    Per-view probabilities (n_views, N, n_classes) are each scaled, then averaged, as
    :func:`fer.models.inference.predict_in_batches` averages the views of a folded model.
    """
    views = np.exp(_log_probabilities(probabilities))  # checked and clipped, per view
    return np.mean([rescale_temperature(view, temperature) for view in views], axis=0)


def negative_log_likelihood(probabilities: NDArray, labels: NDArray) -> float:
    probabilities = np.asarray(probabilities, np.float64)
    labels = np.asarray(labels)
    picked = probabilities[np.arange(len(labels)), labels]
    return float(-np.mean(np.log(np.clip(picked, _EPSILON, 1.0))))


def fit_temperature(probabilities: NDArray, labels: NDArray) -> float:
    """The temperature minimising the mean negative log-likelihood of ``labels``.

    ``probabilities`` is (N, n_classes), or (n_views, N, n_classes) for test-time views, in which
    case the likelihood is that of the view average of the scaled views (what is served). With
    one view the NLL is convex in ``1 / T``; with several it is unimodal in practice. A
    golden-section search on ``1 / T`` finds the minimum, clipped to :data:`TEMPERATURE_BOUNDS`.
    """
    log_probabilities = _log_probabilities(probabilities)
    n_views, n_faces, n_classes = log_probabilities.shape
    labels = np.asarray(labels)
    if labels.shape != (n_faces,):
        raise ValueError(f"need one label per face: {n_faces} faces, labels {labels.shape}")
    if labels.min() < 0 or labels.max() >= n_classes:
        raise ValueError(f"labels must be in 0..{n_classes - 1}")
    rows = np.arange(n_faces)

    def nll(inverse_temperature: float) -> float:
        # log of the view-averaged probability of each face's label
        per_view = _log_softmax(inverse_temperature * log_probabilities)[:, rows, labels]
        peak = per_view.max(axis=0)
        log_mean = peak + np.log(np.exp(per_view - peak).mean(axis=0))
        return float(-np.mean(log_mean))

    low, high = 1.0 / TEMPERATURE_BOUNDS[1], 1.0 / TEMPERATURE_BOUNDS[0]
    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = high - ratio * (high - low), low + ratio * (high - low)
    nll_a, nll_b = nll(a), nll(b)
    for _ in range(80):  # the bracket shrinks by 0.618 per step: far below float precision
        if nll_a < nll_b:
            high, b, nll_b = b, a, nll_a
            a = high - ratio * (high - low)
            nll_a = nll(a)
        else:
            low, a, nll_a = a, b, nll_b
            b = low + ratio * (high - low)
            nll_b = nll(b)
    return float(np.clip(2.0 / (low + high), *TEMPERATURE_BOUNDS))


def calibration_summary(probabilities: NDArray, labels: NDArray, temperature: float) -> dict:
    """NLL and ECE before and after scaling by ``temperature`` (for a card)."""
    unscaled = temperature_scaled(probabilities, 1.0)
    scaled = temperature_scaled(probabilities, temperature)
    return {
        "nll_before": round(negative_log_likelihood(unscaled, labels), 4),
        "nll_after": round(negative_log_likelihood(scaled, labels), 4),
        "ece_before": round(expected_calibration_error(unscaled, labels)[0], 4),
        "ece_after": round(expected_calibration_error(scaled, labels)[0], 4),
    }


def softmax_head(keras_model):
    """The model's last layer, which must be a Dense softmax head."""
    from keras import activations, layers

    head = keras_model.layers[-1]
    if not isinstance(head, layers.Dense) or head.activation is not activations.softmax:
        raise ValueError(
            f"{keras_model.name}: the last layer {head.name!r} is not a Dense softmax head"
        )
    return head


def fold_temperature(keras_model, temperature: float) -> None:
    """Divide the softmax head's logits by ``temperature``, in place (kernel and bias scaled)."""
    if not TEMPERATURE_BOUNDS[0] <= temperature <= TEMPERATURE_BOUNDS[1]:
        raise ValueError(f"temperature {temperature} is outside {TEMPERATURE_BOUNDS}")
    head = softmax_head(keras_model)
    head.set_weights([weight / temperature for weight in head.get_weights()])


def unfold_temperature(keras_model, temperature: float) -> None:
    """Undo :func:`fold_temperature`: multiply the softmax head's logits by ``temperature``,
    in place, giving back the head the temperature was fitted on.

    Any finite positive ``temperature``: a product of several fits may lie outside
    :data:`TEMPERATURE_BOUNDS`.
    """
    if not math.isfinite(temperature) or temperature <= 0:
        raise ValueError(f"temperature {temperature} is not a finite positive number")
    head = softmax_head(keras_model)
    head.set_weights([weight * temperature for weight in head.get_weights()])


def fit_output_temperatures(
    run, n_classes: int, part, split: str = "PublicTest", views=OUTPUT_TEMPERATURE_VIEWS
) -> dict:
    """Per view set, the temperature for the averaged output of ``run`` on ``part``'s faces.

    ``run`` maps (B, 48, 48, 1) float32 faces to probabilities (the folded head's); ``part`` is
    the labelled split named ``split``. Returns the calibration record's
    ``output_temperatures`` (applied by :class:`fer.models.inference.EmotionModel` to those view
    sets'
    outputs), per view set NLL and ECE before and after, and where they were fitted. Fewer than
    :data:`MIN_CALIBRATION_FACES` labelled faces are a ``ValueError``.
    """
    if len(part.labels) < MIN_CALIBRATION_FACES:
        raise ValueError(
            f"{split} has {len(part.labels)} labelled faces (fewer than {MIN_CALIBRATION_FACES})"
        )
    temperatures, fits = {}, {}
    for view_set in views:
        averaged = view_probabilities(run, n_classes, part.images, 256, view_set).mean(axis=0)
        temperature = round(fit_temperature(averaged, part.labels), 4)
        temperatures[view_set] = temperature
        fits[view_set] = calibration_summary(averaged, part.labels, temperature)
    return {
        "output_temperatures": temperatures,
        "output_temperature_fits": fits,
        "output_temperatures_fitted_on": f"{split}, on the folded head's outputs (Keras model)",
    }


def keras_runner(keras_model):
    """``run(batch)`` for :func:`fer.models.inference.view_probabilities` on a Keras model."""

    def run(batch):
        return np.asarray(keras_model(batch, training=False))

    return run


def calibrate_on_split(
    keras_model,
    dataset,
    split: str = "PublicTest",
    previous_temperature: float = 1.0,
    views: str = PIPELINE_TTA,
) -> dict:
    """Fit a temperature on ``split`` of ``dataset`` and fold it into ``keras_model``'s head.

    The fit is on the probabilities the frame pipeline serves: the average over the test-time
    ``views`` (:data:`fer.models.inference.PIPELINE_TTA`), since averaging views itself flattens
    the
    probabilities. Returns the card's ``calibration`` record, with NLL and ECE before and after
    for those views and for one pass. For a head that already holds a temperature
    (``previous_temperature``, from its card) the fit is on its current outputs and the record's
    ``temperature`` is the product: the temperature relative to the uncalibrated head. With
    fewer than :data:`MIN_CALIBRATION_FACES` labelled faces the model is left as it is and the
    record says why.
    """
    part = dataset.split(split)
    if len(part.labels) < MIN_CALIBRATION_FACES:
        return {
            "temperature": previous_temperature,
            "fitted_on": None,
            "note": f"not fitted: {split} has {len(part.labels)} labelled faces "
            f"(fewer than {MIN_CALIBRATION_FACES})",
        }
    n_classes = int(keras_model.output.shape[-1])
    run = keras_runner(keras_model)
    per_view = view_probabilities(run, n_classes, part.images, 256, views)
    temperature = fit_temperature(per_view, part.labels)
    # The untransformed view is first (zoom factor 1.0, unmirrored): the one-pass prediction.
    one_pass = per_view[0]
    fold_temperature(keras_model, temperature)
    return {
        "temperature": round(previous_temperature * temperature, 4),
        "this_fit": round(temperature, 4),
        "fitted_on": f"{split} ({len(part.labels)} faces, {views} views averaged as the frame "
        "pipeline serves them; mean negative log-likelihood of the labels, Keras model)",
        f"{split}_before_after": calibration_summary(per_view, part.labels, temperature),
        f"{split}_one_pass_before_after": calibration_summary(
            one_pass, part.labels, temperature
        ),
        "method": "logits divided by one temperature, folded into the softmax head "
        "(fer.training.calibration); accuracy is unchanged",
        **fit_output_temperatures(run, n_classes, part, split),
    }
