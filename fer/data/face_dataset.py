"""The in-memory form every dataset loads into (:class:`FaceDataset`), and what the FER2013 and
FER+ readers share: FER2013's splits, the error for a malformed file, reading text safely."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from fer.emotions import ClassSet

FACE_SIZE = 48
N_PIXELS = FACE_SIZE * FACE_SIZE
FER2013_SPLITS = ("Training", "PublicTest", "PrivateTest")
FER2013_SPLIT_SIZES = {"Training": 28_709, "PublicTest": 3_589, "PrivateTest": 3_589}
FER2013_N_ROWS = 35_887


class DataFormatError(ValueError):
    """A dataset file does not have the expected structure; the message names the row or file."""


@dataclass
class FaceDataset:
    """Faces with labels; every array has one row per face."""

    images: NDArray[np.uint8]  # (N, 48, 48)
    labels: NDArray[np.int64]  # (N,) index into class_set.names
    splits: NDArray[np.str_]  # (N,) e.g. "Training"
    class_set: ClassSet
    source: str
    checksum: str = ""
    soft_labels: NDArray[np.float32] | None = None  # (N, n_classes) vote distribution
    row_ids: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))

    def __post_init__(self) -> None:
        n_rows = len(self.images)
        if self.row_ids.size == 0:
            self.row_ids = np.arange(n_rows, dtype=np.int64)
        for name in ("labels", "splits", "row_ids"):
            if len(getattr(self, name)) != n_rows:
                raise ValueError(f"{name} has {len(getattr(self, name))} rows, images {n_rows}")
        if self.soft_labels is not None and self.soft_labels.shape != (
            n_rows,
            len(self.class_set),
        ):
            raise ValueError(f"soft_labels shape {self.soft_labels.shape} does not fit the data")

    def __len__(self) -> int:
        return len(self.images)

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.class_set.names

    def split(self, name: str) -> FaceDataset:
        """The rows of one split (``Training``, ``PublicTest``, ``PrivateTest``, ...)."""
        mask = self.splits == name
        if not mask.any():
            raise ValueError(f"Split {name!r} is empty; splits here: {sorted(set(self.splits))}")
        return self.select(mask)

    def select(self, mask_or_index: NDArray) -> FaceDataset:
        soft = None if self.soft_labels is None else self.soft_labels[mask_or_index]
        return FaceDataset(
            images=self.images[mask_or_index],
            labels=self.labels[mask_or_index],
            splits=self.splits[mask_or_index],
            class_set=self.class_set,
            source=self.source,
            checksum=self.checksum,
            soft_labels=soft,
            row_ids=self.row_ids[mask_or_index],
        )

    def class_counts(self) -> NDArray[np.int64]:
        return np.bincount(self.labels, minlength=len(self.class_set))


def read_text_lines(path: Path) -> Iterator[str]:
    """The lines of a UTF-8 text file (or of its ``.gz``), decoded one line at a time.

    Decoding line by line lets a bad byte be reported with its line number; a truncated or
    corrupt ``.gz`` and a folder in place of the file are :class:`DataFormatError` too. A byte
    order mark opening the file is dropped: spreadsheets save "CSV UTF-8" with one, and it would
    otherwise become part of the first column's name.
    """
    if path.is_dir():
        raise DataFormatError(f"{path}: is a folder, not a file")
    opener = gzip.open if path.suffix == ".gz" else open
    line_number = 0
    try:
        with opener(path, "rb") as stream:
            for line_number, raw in enumerate(stream, start=1):
                try:
                    line = raw.decode("utf-8-sig" if line_number == 1 else "utf-8")
                except UnicodeDecodeError:
                    raise DataFormatError(
                        f"{path.name} line {line_number}: not UTF-8 text (a binary or wrongly "
                        "encoded file?)"
                    ) from None
                yield line
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise DataFormatError(
            f"{path.name} after line {line_number}: the compressed file is truncated or corrupt "
            f"({error})"
        ) from None


def shortened(text: str, n_chars: int = 200) -> str:
    """``repr`` of the start of ``text``, for an error message that must stay readable when a
    "line" is a whole file."""
    if len(text) <= n_chars:
        return repr(text)
    return f"{text[:n_chars]!r}… ({len(text):,} characters)"
