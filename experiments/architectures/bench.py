"""Measure candidate architectures for accuracy per CPU-second: training ms/image and int8 latency.

    python -m experiments.architectures.bench [NAME ...]

Prints, for each zoo architecture (default: all), the training time per image (batch 128, random
data, both cores) with the projected FER2013 epoch time, and the single-face / batched latency of
its int8 TFLite export (one thread). These figures chose ``fernet``'s widths; re-run them on your
machine before trusting them there.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

N_TRAINING_IMAGES = 28_709


def training_ms_per_image(architecture: str, n_batches: int = 20, batch: int = 128) -> float:
    from fer.models.zoo import build_classifier

    model = build_classifier(architecture, 7)
    model.compile("adam", "sparse_categorical_crossentropy", jit_compile=False)
    rng = np.random.default_rng(0)
    faces = rng.integers(0, 256, (batch * n_batches, 48, 48, 1)).astype(np.float32)
    labels = rng.integers(0, 7, len(faces))
    model.fit(faces[: 2 * batch], labels[: 2 * batch], batch_size=batch, verbose=0)
    started = time.perf_counter()
    model.fit(faces, labels, batch_size=batch, verbose=0)
    return (time.perf_counter() - started) / len(faces) * 1e3


def int8_latency_ms(architecture: str, tmp_dir: Path) -> tuple[float, float]:
    from ai_edge_litert.interpreter import Interpreter

    from fer.models.zoo import build_classifier
    from fer.training.export import export_tflite_int8

    faces = np.random.default_rng(1).integers(0, 256, (64, 48, 48), dtype=np.uint8)
    path = tmp_dir / f"{architecture}.tflite"
    export_tflite_int8(build_classifier(architecture, 7), faces, path)
    interpreter = Interpreter(model_path=str(path), num_threads=1)
    interpreter.allocate_tensors()
    input_index = interpreter.get_input_details()[0]["index"]
    output_index = interpreter.get_output_details()[0]["index"]

    def median_ms(batch: np.ndarray, repeats: int) -> float:
        interpreter.resize_tensor_input(input_index, batch.shape)
        interpreter.allocate_tensors()
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            interpreter.set_tensor(input_index, batch)
            interpreter.invoke()
            interpreter.get_tensor(output_index)
            times.append(time.perf_counter() - started)
        return float(np.median(times)) * 1e3 / len(batch)

    standardized = np.random.default_rng(2).standard_normal((64, 48, 48, 1)).astype(np.float32)
    return median_ms(standardized[:1], 300), median_ms(standardized, 30)


def main() -> int:
    import argparse
    import tempfile

    from fer.models.zoo import ZOO, build_classifier

    parser = argparse.ArgumentParser(
        prog="python -m experiments.architectures.bench", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help="zoo architectures (default: all)"
    )
    names = parser.parse_args().names or sorted(ZOO)
    print(
        f"{'model':<8}{'params':>10}{'train ms/img':>14}{'epoch s':>9}{'int8 1 face':>13}"
        f"{'int8 batch':>12}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            parameters = build_classifier(name, 7).count_params()
            train_ms = training_ms_per_image(name)
            single_ms, batch_ms = int8_latency_ms(name, Path(tmp))
            epoch_s = train_ms * N_TRAINING_IMAGES / 1e3
            print(
                f"{name:<8}{parameters:>10,}{train_ms:>14.2f}{epoch_s:>9.0f}"
                f"{single_ms:>12.3f}ms{batch_ms:>10.3f}ms",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
