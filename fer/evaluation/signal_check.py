"""Do the per-face signals behave as their definitions say, on labelled faces?

Dataset faces are enlarged, re-detected and re-aligned as the pipeline sees live faces; the
landmarker's blendshapes give the action units, the model's probabilities give valence and
arousal. Averaged per true class, a sound mapping puts happy faces highest in valence and AU12
(lip corner puller), angry and sad faces above happy ones in AU4 (brow lowerer), and surprised
faces highest in AU26 (jaw drop) and AU1+AU2 (brow raisers). The table is descriptive: it checks
the signals' direction, not their accuracy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from fer.data.datasets import FaceDataset
from fer.realtime.signals import action_units, valence_arousal

# Faces are padded so the landmarker sees context around a 48-pixel crop.
PAD = 48
COLUMNS = ("faces", "found", "valence", "arousal", "AU12", "AU4", "AU26", "AU1+AU2", "AU6", "AU15")


def sample_rows(dataset: FaceDataset, split: str, per_class: int, seed: int) -> np.ndarray:
    """Up to ``per_class`` row indices of each class in ``split``, drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    rows = []
    for label in range(len(dataset.class_set)):
        candidates = np.flatnonzero((dataset.splits == split) & (dataset.labels == label))
        take = min(per_class, len(candidates))
        rows.append(np.sort(rng.choice(candidates, take, replace=False)))
    return np.concatenate(rows)


def signal_table(
    model,
    dataset: FaceDataset,
    landmarker_path: Path,
    split: str = "PublicTest",
    per_class: int = 100,
    seed: int = 0,
    progress=None,
) -> pd.DataFrame:
    """Mean signals per true class over a seeded sample of ``split``; one row per class.

    ``model`` is an :class:`~fer.models.inference.EmotionModel` of ``dataset``'s class set.
    ``progress`` wraps the iteration over faces (e.g. ``tqdm``) when given.
    """
    import cv2

    from fer.realtime.alignment import align_detected, enlarge_dataset_face
    from fer.realtime.faces import LandmarkerDetector

    if list(model.classes) != list(dataset.class_names):
        raise ValueError(
            f"the model's classes {list(model.classes)} are not the dataset's "
            f"{list(dataset.class_names)}"
        )
    rows = sample_rows(dataset, split, per_class, seed)
    detector = LandmarkerDetector(landmarker_path, max_faces=1, mode="image")
    records = []
    try:
        for row in progress(rows) if progress else rows:
            big = enlarge_dataset_face(dataset.images[row], PAD)
            faces = detector.detect(np.asarray(cv2.cvtColor(big, cv2.COLOR_GRAY2BGR), np.uint8))
            record = {"class": dataset.class_names[dataset.labels[row]], "found": bool(faces)}
            if faces and faces[0].blendshapes is not None:
                probabilities = model.predict(align_detected(big, faces[0]))[0]
                valence, arousal = valence_arousal(probabilities, model.classes)
                record["valence"], record["arousal"] = valence, arousal
                units = action_units(faces[0].blendshapes)
                record.update({au: units[au] for au in ("AU12", "AU4", "AU26", "AU6", "AU15")})
                record["AU1+AU2"] = (units["AU1"] + units["AU2"]) / 2
            records.append(record)
    finally:
        detector.close()
    frame = pd.DataFrame(records)
    table = frame.groupby("class", sort=False).agg(
        faces=("found", "size"), found=("found", "sum"),
        **{name: (name, "mean") for name in COLUMNS[2:]},
    )
    return table.reindex(list(dataset.class_names)).round(3)


def markdown(table: pd.DataFrame) -> str:
    """The table as Markdown (for docs and the command line)."""
    header = "| class | " + " | ".join(table.columns) + " |"
    rule = "|---" * (len(table.columns) + 1) + "|"
    lines = [header, rule]
    for name, row in table.iterrows():
        cells = [f"{int(v)}" if column in ("faces", "found") else f"{v:.3f}"
                 for column, v in row.items()]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
