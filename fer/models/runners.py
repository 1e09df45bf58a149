"""The two forms a model runs in: the int8 TFLite file and the reference Keras model.

Both take float32 face batches (B, 48, 48, 1) and return class probabilities, each behind a lock
so that one loaded model can serve several streams (:class:`fer.models.inference.EmotionModel`
chooses which one runs).
"""

from __future__ import annotations

import os
import threading
import zipfile
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from fer.models.cards import InvalidModelError, ModelNotFoundError


def default_threads() -> int:
    """Interpreter threads for batches: ``$FER_THREADS`` if set, else both cores (at most 2).

    Two XNNPACK threads halve int8 time per face for batches on the 2-core machine; single
    faces always run on one thread (see ``TFLiteRunner``).
    """
    configured = os.environ.get("FER_THREADS", "").strip()
    if configured:
        try:
            threads = int(configured)
        except ValueError:
            raise ValueError(f"FER_THREADS must be a whole number, not {configured!r}") from None
        if threads < 1:
            raise ValueError(f"FER_THREADS must be at least 1, not {threads}")
        return threads
    return max(1, min(2, os.cpu_count() or 1))


class _Interpreter:
    """One LiteRT interpreter, resized when the batch size changes (callers hold the lock)."""

    def __init__(self, path: Path, num_threads: int):
        # LiteRT is the maintained home of the TFLite interpreter (tf.lite.Interpreter is
        # deprecated and scheduled for removal from TensorFlow).
        from ai_edge_litert.interpreter import Interpreter

        try:
            self.interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
            self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as error:
            raise InvalidModelError(f"{path} is not a usable TFLite model: {error}") from None
        self.input = self.interpreter.get_input_details()[0]["index"]
        output = self.interpreter.get_output_details()[0]
        self.output = output["index"]
        self.output_size = int(output["shape"][-1])
        self.batch = 1

    def run(self, batch: NDArray[np.float32]) -> NDArray[np.float32]:
        if len(batch) != self.batch:
            self.interpreter.resize_tensor_input(self.input, batch.shape)
            self.interpreter.allocate_tensors()
            self.batch = len(batch)
        self.interpreter.set_tensor(self.input, batch)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output).copy()


class TFLiteRunner:
    """The int8 TFLite model behind a lock.

    Batches of ``PARALLEL_MIN_BATCH`` faces or more run on ``num_threads`` threads; smaller ones
    (the live pipeline's one to four faces) on a single-thread interpreter: waking a second
    thread costs more than it saves on one face, and it would compete with MediaPipe's threads
    in the frame pipeline, whose p95 grew when single faces ran on two threads.

    The exported graph starts after the standardisation layer, so faces are standardised here with
    the NumPy twin of that layer (see fer.training.export.export_tflite_int8).
    """

    PARALLEL_MIN_BATCH = 8

    def __init__(self, path: Path, num_threads: int, preprocess=None):
        from fer.data.preprocess import standardize_faces

        # The peer model (experiments.peer_benchmark.peer) runs through the same runner with its
        # own preprocessing.
        self._preprocess = preprocess or standardize_faces
        self._path = path
        self._num_threads = num_threads
        self._interpreters: dict[int, _Interpreter] = {1: _Interpreter(path, 1)}
        self.output_size = self._interpreters[1].output_size
        self._lock = threading.Lock()

    def __call__(self, batch: NDArray[np.float32]) -> NDArray[np.float32]:
        batch = self._preprocess(batch)
        threads = 1 if len(batch) < self.PARALLEL_MIN_BATCH else self._num_threads
        with self._lock:
            if threads not in self._interpreters:
                self._interpreters[threads] = _Interpreter(self._path, threads)
            probabilities = self._interpreters[threads].run(batch)
        # A fully quantised softmax comes in steps of 1/256; renormalise so rows sum to 1.
        totals = probabilities.sum(axis=1, keepdims=True)
        return np.divide(
            probabilities,
            totals,
            out=np.full_like(probabilities, 1 / probabilities.shape[1]),
            where=totals > 0,
        )


class KerasRunner:
    def __init__(self, path: Path, preprocess=None):
        import keras

        import fer.data.preprocess  # noqa: F401  registers the custom layers for deserialisation

        if not Path(path).is_file():
            raise ModelNotFoundError(f"{path} does not exist")
        try:
            self.model = keras.models.load_model(path, compile=False)
        except (OSError, ValueError, TypeError, zipfile.BadZipFile) as error:
            raise InvalidModelError(f"{path} is not a usable Keras model: {error}") from None
        self.output_size = int(self.model.output_shape[-1])
        # Our models standardise inside the graph; the peer (experiments.peer_benchmark.peer)
        # needs its own step.
        self._preprocess = preprocess
        self._lock = threading.Lock()

    def __call__(self, batch: NDArray[np.float32]) -> NDArray[np.float32]:
        if self._preprocess is not None:
            batch = self._preprocess(batch)
        with self._lock:
            if len(batch) <= 64:
                # Direct call: Model.predict's per-call setup costs milliseconds.
                return np.asarray(self.model(batch, training=False))
            return self.model.predict(batch, batch_size=256, verbose=0)
