"""FER+ (Barsoum et al., 2016): ten annotators' votes per FER2013 image, read from
``fer2013new.csv`` and turned into the majority-vote protocol's labels and vote distributions."""

from __future__ import annotations

import csv
import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from fer.data.face_dataset import (
    FER2013_N_ROWS,
    FER2013_SPLITS,
    DataFormatError,
    FaceDataset,
    read_text_lines,
    shortened,
)
from fer.emotions import FER2013, FERPLUS

FERPLUS_VOTE_COLUMNS = (*FERPLUS.names, "unknown", "NF")
# Known FER+ quirk: the votes of these FER2013 rows describe other images; no protocol uses them.
FERPLUS_MISALIGNED_ROWS = (5274, 33200)
FLOAT32_MAX = float(np.finfo(np.float32).max)  # the votes are kept as float32


@dataclass
class FerPlusVotes:
    """The FER+ vote table aligned with FER2013 rows."""

    votes: NDArray[np.float32]  # (N, 10): 8 emotions in FERPLUS order, unknown, NF
    has_image: NDArray[np.bool_]  # False where FER+ left 'Image name' empty (not a face)
    usage: NDArray[np.str_]


def read_ferplus_votes(path: str | Path) -> FerPlusVotes:
    """Parse ``fer2013new.csv``; malformed rows raise :class:`DataFormatError` naming the line."""
    path = Path(path)
    expected = ["Usage", "Image name", *_FERPLUS_HEADER_VOTES]
    votes: list[list[float]] = []
    has_image: list[bool] = []
    usage: list[str] = []
    reader = csv.reader(read_text_lines(path))
    try:
        header = next(reader, None)
        if header is None:
            raise DataFormatError(f"{path.name}: file is empty")
        if [column.strip() for column in header] != expected:
            raise DataFormatError(
                f"{path.name}: header is {shortened(','.join(header))}, expected {expected}"
            )
        for line_number, row in enumerate(reader, start=2):
            if not row:
                continue
            where = f"{path.name} line {line_number}"
            if len(row) != len(expected):
                raise DataFormatError(f"{where}: {len(row)} fields, expected {len(expected)}")
            if row[0] not in FER2013_SPLITS:
                raise DataFormatError(f"{where}: Usage {row[0]!r} is not one of {FER2013_SPLITS}")
            try:
                counts = [float(value) for value in row[2:]]
            except ValueError:
                raise DataFormatError(f"{where}: vote counts must be numbers") from None
            # Checked as stored: a count beyond float32's range (1e39) is finite as read but
            # infinite in the table, where it would silently drop its row as having no majority.
            if not all(count >= 0 and math.isfinite(count) and count <= FLOAT32_MAX
                       for count in counts):
                raise DataFormatError(
                    f"{where}: vote counts must be finite (at most {FLOAT32_MAX:.1e}) and not "
                    "negative"
                )
            votes.append(counts)
            has_image.append(bool(row[1].strip()))
            usage.append(row[0])
    except csv.Error as error:
        raise DataFormatError(f"{path.name} line {reader.line_num}: {error}") from None
    if not votes:
        raise DataFormatError(f"{path.name}: no data rows")
    return FerPlusVotes(np.array(votes, np.float32), np.array(has_image), np.array(usage))


# Header spelling of fer2013new.csv, in column order (maps to FERPLUS names + unknown + NF).
_FERPLUS_HEADER_VOTES = (
    "neutral",
    "happiness",
    "surprise",
    "sadness",
    "anger",
    "disgust",
    "fear",
    "contempt",
    "unknown",
    "NF",
)


def ferplus_majority(votes: NDArray[np.float32]) -> NDArray[np.int64]:
    """FER+ majority labels as in Barsoum et al.'s reference code, ``-1`` where the row is dropped.

    Single votes are discarded as outliers; the top class must hold more than half of the remaining
    votes; rows whose majority is ``unknown`` or ``NF`` (or that have no majority) are dropped.
    """
    votes = np.asarray(votes, dtype=np.float32)
    if votes.ndim != 2 or votes.shape[1] != len(FERPLUS_VOTE_COLUMNS):
        raise ValueError(f"votes must be (N, {len(FERPLUS_VOTE_COLUMNS)}), got {votes.shape}")
    kept = np.where(votes <= 1.0, 0.0, votes)
    totals = kept.sum(axis=1)
    top = kept.argmax(axis=1)
    top_votes = kept.max(axis=1)
    has_majority = (totals > 0) & (top_votes > 0.5 * totals)
    is_emotion = top < len(FERPLUS)
    return np.where(has_majority & is_emotion, top, -1).astype(np.int64)


def ferplus_distribution(votes: NDArray[np.float32]) -> NDArray[np.float32]:
    """Per-image vote distribution over the 8 FER+ emotions (unknown and NF removed)."""
    emotion_votes = np.asarray(votes, dtype=np.float32)[:, : len(FERPLUS)]
    totals = emotion_votes.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        distribution = np.where(totals > 0, emotion_votes / totals, 0.0)
    return distribution.astype(np.float32)


def load_ferplus(fer2013: FaceDataset, votes_path: str | Path) -> FaceDataset:
    """FER+ under its majority-vote protocol: FER2013 images, relabelled, dropped rows removed."""
    if fer2013.class_set != FER2013 or len(fer2013) != FER2013_N_ROWS:
        raise ValueError("load_ferplus needs the full FER2013 dataset (35,887 rows) in file order")
    table = read_ferplus_votes(votes_path)
    if len(table.votes) != len(fer2013):
        raise DataFormatError(
            f"{Path(votes_path).name} has {len(table.votes)} rows; FER2013 has {len(fer2013)}"
        )
    mismatched = np.flatnonzero(table.usage != fer2013.splits)
    if mismatched.size:
        raise DataFormatError(
            f"{Path(votes_path).name}: Usage differs from FER2013 at row {mismatched[0]}"
        )
    majority = ferplus_majority(table.votes)
    keep = (majority >= 0) & table.has_image
    keep[list(FERPLUS_MISALIGNED_ROWS)] = False
    index = np.flatnonzero(keep)
    checksum = hashlib.sha256(Path(votes_path).read_bytes()).hexdigest()
    return FaceDataset(
        images=fer2013.images[index],
        labels=majority[index],
        splits=fer2013.splits[index],
        class_set=FERPLUS,
        source="ferplus",
        checksum=f"fer2013:{fer2013.checksum} ferplus:{checksum}",
        soft_labels=ferplus_distribution(table.votes[index]),
        row_ids=fer2013.row_ids[index],
    )
