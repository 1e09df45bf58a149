"""Temporal smoothing of per-face class probabilities and a flicker-free shown label.

Everything is driven by the frame time in seconds, not by frame counts, so a webcam that drops
from 30 to 12 fps smooths over the same span of time. The shown label has hysteresis: a new label
must beat the current one by a margin, and a label stays at least ``min_dwell_s`` on screen. When
the smoothed top probability is below ``uncertain_below`` the label is ``"uncertain"``: a clinician
should not see a confident word where the model is guessing. A model whose card carries per-class
thresholds (fitted on PublicTest by ``fer publish --uncertainty-thresholds``) is surer of some
classes than of others; given those, the threshold is the top class's own. The margin never holds
a label whose own probability has fallen below its threshold: it gives way to ``"uncertain"``.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from fer.emotions import UNCERTAIN

METHODS = ("ema", "window", "none")


@dataclass(frozen=True)
class SmoothingConfig:
    """How probabilities are smoothed over time and when the shown label may change.

    Attributes
    ----------
    method
        ``"window"``: mean of the probabilities of the last ``window_s`` seconds;
        ``"ema"``: exponential moving average whose weight halves every ``half_life_s``;
        ``"none"``: raw probabilities.
    uncertain_below
        Smoothed top probability under which the label is ``"uncertain"`` (0 disables it, per-class
        thresholds included).
    class_thresholds
        Use the model's per-class thresholds, when the smoother is given them, in place of
        ``uncertain_below`` (which still applies to classes without one).
    switch_margin
        How much the challenger's smoothed probability must exceed the shown label's (or, when
        leaving ``"uncertain"``, exceed the top class's threshold) before the label changes.
    min_dwell_s
        Shortest time a shown label stays before it may change.
    reset_after_s
        A gap longer than this (face lost, clip restarted) starts the history afresh.
    """

    method: Literal["ema", "window", "none"] = "window"
    window_s: float = 1.0
    half_life_s: float = 0.4
    uncertain_below: float = 0.4
    class_thresholds: bool = True
    switch_margin: float = 0.2
    min_dwell_s: float = 1.0
    reset_after_s: float = 2.0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, not {self.method!r}")
        # NaN passes every comparison below as false: a NaN margin would hold the first label
        # for good, a NaN window would never drop a frame.
        for name in ("window_s", "half_life_s", "uncertain_below", "switch_margin",
                     "min_dwell_s", "reset_after_s"):
            if math.isnan(getattr(self, name)):
                raise ValueError(f"{name} must be a number, got NaN")
        for name in ("window_s", "half_life_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("switch_margin", "min_dwell_s", "reset_after_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)}")
        if not 0.0 <= self.uncertain_below <= 1.0:
            raise ValueError(f"uncertain_below must be in [0, 1], got {self.uncertain_below}")


def frame_time(t_s: float) -> float:
    """``t_s`` as a float; ``ValueError`` for NaN or an infinite time, which compare false with
    every other time and so would never leave a window nor start a history afresh."""
    t_s = float(t_s)
    if not math.isfinite(t_s):
        raise ValueError(f"t_s must be a finite time in seconds, got {t_s}")
    return t_s


@dataclass(frozen=True)
class SmoothedPrediction:
    """The smoother's output for one frame."""

    smoothed: NDArray[np.float32]  # (n_classes,) in the model's class order
    label: str  # a class name or "uncertain"
    confidence: float  # smoothed probability of the shown label (top probability if uncertain)


class VectorSmoother:
    """Smooths a stream of equal-length vectors in time by the config's method and window.

    The probabilities and a face's other signals (action units, head pose) share this, so every
    number shown for a face is smoothed over the same span of time.
    """

    def __init__(self, config: SmoothingConfig | None = None):
        self.config = config or SmoothingConfig()
        self.reset()

    def reset(self) -> None:
        """Forget all history (the next update starts afresh)."""
        self._window: deque[tuple[float, NDArray[np.float64]]] = deque()
        self._ema: NDArray[np.float64] | None = None
        self._last_t: float | None = None

    def update(self, values: NDArray[np.floating], t_s: float) -> NDArray[np.float64]:
        """Add the vector of the frame at ``t_s`` (seconds); returns the smoothed vector.

        A time earlier than the last one, or a gap longer than ``reset_after_s``, starts afresh;
        so does a vector of another length.
        """
        values = np.asarray(values, np.float64).reshape(-1)
        if not np.all(np.isfinite(values)):
            raise ValueError("values to smooth must be finite")
        t_s = frame_time(t_s)
        if self._last_t is not None and (
            t_s < self._last_t
            or t_s - self._last_t > self.config.reset_after_s
            or (self._window and self._window[-1][1].shape != values.shape)
            or (self._ema is not None and self._ema.shape != values.shape)
        ):
            self.reset()
        smoothed = self._smooth(values, t_s)
        self._last_t = t_s
        return smoothed

    def _smooth(self, values: NDArray[np.float64], t_s: float) -> NDArray[np.float64]:
        config = self.config
        if config.method == "none":
            return values
        if config.method == "ema":
            # _last_t is set whenever _ema is (reset clears both); tested for the type checker.
            if self._ema is None or self._last_t is None:
                self._ema = values.copy()
            else:
                # Weight from elapsed time, not per frame: the same half-life at any frame rate.
                alpha = 1.0 - 0.5 ** ((t_s - self._last_t) / config.half_life_s)
                self._ema = self._ema + alpha * (values - self._ema)
            return self._ema
        self._window.append((t_s, values))
        # Compare elapsed time, not shifted times: at very large t_s, t_s - window_s rounds back
        # to t_s. The newest frame always stays, so the window is never empty.
        while len(self._window) > 1 and t_s - self._window[0][0] >= config.window_s:
            self._window.popleft()
        return np.mean([v for _, v in self._window], axis=0)


class ProbabilitySmoother:
    """Smooths one face's probability stream; create one per tracked face.

    ``class_thresholds`` maps class names to the smoothed top probability under which that class
    is shown as ``"uncertain"`` (a model's, :func:`fer.models.inference.class_thresholds`); they
    replace ``config.uncertain_below`` for their classes unless ``config.class_thresholds`` is
    false or ``uncertain_below`` is 0.
    """

    def __init__(
        self,
        classes: Sequence[str],
        config: SmoothingConfig | None = None,
        class_thresholds: Mapping[str, float] | None = None,
    ):
        if len(classes) < 2:
            raise ValueError(f"need at least two classes, got {list(classes)}")
        self.classes = list(classes)
        self.config = config or SmoothingConfig()
        thresholds = dict(class_thresholds or {})
        for name, threshold in thresholds.items():
            if name not in self.classes:
                raise ValueError(f"threshold for {name!r}, which is not one of {self.classes}")
            if not 0.0 <= threshold <= 1.0:
                raise ValueError(f"threshold of {name!r} must be in [0, 1], got {threshold}")
        use = self.config.class_thresholds and self.config.uncertain_below > 0
        self.thresholds = [
            thresholds.get(name, self.config.uncertain_below) if use
            else self.config.uncertain_below
            for name in self.classes
        ]
        self.reset()

    def reset(self) -> None:
        """Forget all history (the next update starts afresh)."""
        self._probabilities = VectorSmoother(self.config)
        self._last_t: float | None = None
        self._label: str | None = None
        self._label_since = 0.0

    def update(self, probs: NDArray[np.floating], t_s: float) -> SmoothedPrediction:
        """Add the probabilities of the frame at time ``t_s`` (seconds) and return the result."""
        probs = np.asarray(probs, np.float64).reshape(-1)
        if probs.shape != (len(self.classes),):
            raise ValueError(f"expected {len(self.classes)} probabilities, got {probs.shape}")
        if not np.all(np.isfinite(probs)):
            raise ValueError("probabilities must be finite")
        t_s = frame_time(t_s)
        if self._last_t is not None and (
            t_s < self._last_t or t_s - self._last_t > self.config.reset_after_s
        ):
            self.reset()
        smoothed = self._probabilities.update(probs, t_s)
        self._last_t = t_s
        label = self._choose_label(smoothed, t_s)
        if label == UNCERTAIN:
            confidence = float(smoothed.max())
        else:
            confidence = float(smoothed[self.classes.index(label)])
        return SmoothedPrediction(smoothed.astype(np.float32), label, confidence)

    def _choose_label(self, smoothed: NDArray[np.float64], t_s: float) -> str:
        config = self.config
        top = int(np.argmax(smoothed))
        top_p = float(smoothed[top])
        threshold = self.thresholds[top]
        # A threshold of 1 is a card's "never a confident word": a saturated softmax (1.0, or
        # a rounding step above it) must not reach it.
        confident = top_p >= threshold and threshold < 1.0
        candidate = self.classes[top] if confident else UNCERTAIN
        current = self._label
        if current is None:
            self._label, self._label_since = candidate, t_s
            return candidate
        if candidate == current or t_s - self._label_since < config.min_dwell_s:
            return current
        if candidate == UNCERTAIN:
            switch = True  # already below the threshold; no margin needed to admit doubt
        elif current == UNCERTAIN:
            # A high class threshold plus the margin could exceed 1 and trap the label in
            # "uncertain"; halfway from the threshold to 1 is then enough.
            switch = top_p >= min(threshold + config.switch_margin, (threshold + 1.0) / 2)
        else:
            current_index = self.classes.index(current)
            current_p = float(smoothed[current_index])
            switch = top_p - current_p >= config.switch_margin
            if not switch and current_p < self.thresholds[current_index]:
                # The margin keeps a label against a close challenger, not below its own
                # threshold: the shown word would claim a confidence the model no longer has.
                candidate, switch = UNCERTAIN, True
        if switch:
            self._label, self._label_since = candidate, t_s
            return candidate
        return current
