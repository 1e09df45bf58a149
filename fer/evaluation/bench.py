"""Model latency: load time and ``predict`` time per face, one face per call and batched.

Median over repeated runs (ms per face), on real FER2013 faces when a data folder is given, else
on random faces (latency does not depend on pixel values). The frame pipeline's latency on a video
is :mod:`fer.evaluation.bench_video`; both run from ``fer bench``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

# The batch size whose figure the cards keep and the README's table shows.
RECORDED_BATCH_SIZE = 64


def batched_figure(batch_size: int) -> str:
    """The result's key of the median ms per face on batches of ``batch_size``."""
    return f"batched_{batch_size}_ms_per_face_median"


def _benchmark_faces(n_faces: int, seed: int) -> NDArray[np.uint8]:
    from fer.config import data_dir_from_env

    data_dir = data_dir_from_env(required=False)
    if data_dir is not None:
        from fer.data.datasets import load_dataset

        faces = load_dataset("fer2013", data_dir).split("PrivateTest").images
        if n_faces > len(faces):
            raise ValueError(
                f"a batch of {n_faces} faces (--batch-size) is more than the {len(faces)} "
                "FER2013 PrivateTest faces there are to time it on"
            )
        return faces[np.random.default_rng(seed).choice(len(faces), n_faces, replace=False)]
    # Latency does not depend on pixel values; random faces keep the benchmark usable without data.
    return np.random.default_rng(seed).integers(0, 256, (n_faces, 48, 48), dtype=np.uint8)


def benchmark_model(
    name: str,
    backend: str = "auto",
    repeats: int = 200,
    batch_size: int = 64,
    seed: int = 0,
    num_threads: int | None = None,
    tta: str = "none",
) -> dict:
    """Load time and median ms/face for one face per call and for batches of ``batch_size``.

    ``tta`` times predictions averaged over test-time views (``predict(..., tta=...)``), e.g.
    ``"mirror+zoom"`` as the frame pipeline makes them.
    """
    faces = _benchmark_faces(max(batch_size, RECORDED_BATCH_SIZE), seed)
    started = time.perf_counter()
    from fer.models.inference import load_model

    model = load_model(name, backend=backend, num_threads=num_threads)
    model.predict(faces[0])  # the first call allocates; it is load cost, not per-face cost
    load_ms = (time.perf_counter() - started) * 1e3
    return {
        "model": model.name,
        "backend": model.backend,
        # Single faces always run on one thread; batches on ``batch_threads``
        # (fer.models.inference).
        "batch_threads": model.num_threads,
        "load_ms_incl_first_call": round(load_ms, 1),
        "tta": tta,
        **time_predict(model, faces, repeats, batch_size, tta),
        "repeats": repeats,
        "faces": "FER2013 PrivateTest" if len(faces) and _has_data() else "random uint8",
    }


def time_predict(
    model, faces: NDArray[np.uint8], repeats: int, batch_size: int, tta: str = "none"
) -> dict:
    """Median (and p95) ms of ``model.predict`` on one face, and ms per face on batches."""
    model.predict(faces[0], tta=tta)
    single = []
    for index in range(repeats):
        face = faces[index % len(faces)]
        tick = time.perf_counter()
        model.predict(face, tta=tta)
        single.append(time.perf_counter() - tick)
    batch = faces[:batch_size]
    model.predict(batch, tta=tta)
    batched = []
    for _ in range(max(10, repeats // 10)):
        tick = time.perf_counter()
        model.predict(batch, tta=tta)
        batched.append((time.perf_counter() - tick) / batch_size)
    return {
        "single_face_ms_median": round(float(np.median(single)) * 1e3, 4),
        "single_face_ms_p95": round(float(np.percentile(single, 95)) * 1e3, 4),
        batched_figure(batch_size): round(float(np.median(batched)) * 1e3, 4),
    }


def _has_data() -> bool:
    from fer.config import data_dir_from_env

    return data_dir_from_env(required=False) is not None


def benchmark_key(backend: str, threads: int, vector_extension: str) -> str:
    """The card's ``benchmark`` entry for one backend, thread count and CPU class.

    One entry per CPU class (``fer.config.cpu_vector_extension``): an AVX2-only machine runs the
    same file several times slower than an AVX-512 one, and its figures must not replace the
    other's.
    """
    key = backend + (f"_{threads}_threads" if threads else "")
    vector = vector_extension.replace(" ", "_")
    return key + (f"_{vector}" if vector else "")


def check_recordable(model_name: str, batch_size: int) -> None:
    """Refuse, before any timing, a ``--record`` whose figures the card could not keep: a batch
    size other than the table's, or a model whose card or evaluation file is damaged (its
    MODEL_CARD.md could not be regenerated). ``ValueError`` naming the option or the file."""
    from fer.evaluation.model_card import model_card_text
    from fer.models.cards import read_card, resolve_model_dir

    if batch_size != RECORDED_BATCH_SIZE:
        raise ValueError(
            f"--record keeps the batch-{RECORDED_BATCH_SIZE} figure the results table shows; "
            f"drop --batch-size {batch_size} or --record"
        )
    model_dir = resolve_model_dir(model_name)
    model_card_text(model_dir)
    _benchmark_records(read_card(model_dir), model_dir)


def _benchmark_records(card: dict, model_dir: Path) -> dict:
    """The card's latency records; ``ValueError`` naming the card when they are not a mapping."""
    from fer.models.cards import CARD_FILE

    records = card.get("benchmark", {})
    if not isinstance(records, dict):
        raise ValueError(f"{model_dir / CARD_FILE} benchmark is not a mapping")
    return records


def record_in_card(model_name: str, result: dict, command: str) -> None:
    """Write ``result`` into the model's card under its backend, thread count and CPU class,
    and regenerate the model's MODEL_CARD.md, which shows latency. Both texts are made before
    either is written, so a damaged evaluation file leaves the card as it was."""
    from fer.config import cpu_vector_extension, machine_description
    from fer.evaluation.model_card import MODEL_CARD_FILE, model_card_text
    from fer.files import write_text_atomically
    from fer.models.cards import CARD_FILE, read_card, resolve_model_dir

    model_dir = resolve_model_dir(model_name)
    card = read_card(model_dir)
    key = benchmark_key(result["backend"], result["batch_threads"], cpu_vector_extension())
    card["benchmark"] = {
        **_benchmark_records(card, model_dir),
        key: {**result, "command": command, "machine": machine_description()},
    }
    text = model_card_text(model_dir, card)
    write_text_atomically(model_dir / CARD_FILE, json.dumps(card, indent=1))
    write_text_atomically(model_dir / MODEL_CARD_FILE, text)
