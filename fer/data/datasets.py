"""Loading FER2013 and FER+ (:mod:`fer.data.ferplus`) into one in-memory form.

Everything returns a :class:`FaceDataset`: uint8 gray faces (N, 48, 48), integer labels in the
order of a :class:`~fer.emotions.ClassSet`, the split of every row and, for FER+, the per-image
vote distribution. Raw files are never modified; parsed FER2013 is cached as ``.npz`` keyed by
checksum.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from fer.config import CACHE_DIR, FER2013_MD5
from fer.data.face_dataset import (
    FACE_SIZE,
    FER2013_N_ROWS,
    FER2013_SPLIT_SIZES,
    FER2013_SPLITS,
    N_PIXELS,
    DataFormatError,
    FaceDataset,
    read_text_lines,
    shortened,
)
from fer.data.ferplus import load_ferplus
from fer.emotions import FER2013, FERPLUS
from fer.files import replacing

# Bump when what the cache holds or how it is checked changes: older caches are rebuilt once.
CACHE_FORMAT_VERSION = 2

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------- FER2013


def file_md5(path: str | Path) -> str:
    """MD5 of a file's content; for ``.gz`` files, of the uncompressed content."""
    path = Path(path)
    digest = hashlib.md5()
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as stream:
            for chunk in iter(lambda: stream.read(1 << 22), b""):
                digest.update(chunk)
    except IsADirectoryError:
        raise DataFormatError(f"{path}: is a folder, not a file") from None
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise DataFormatError(
            f"{path}: the compressed file is truncated or corrupt ({error})"
        ) from None
    return digest.hexdigest()


def parse_fer2013_csv(
    lines: Iterable[str], source: str = "fer2013.csv"
) -> tuple[NDArray[np.uint8], NDArray[np.int64], NDArray[np.str_]]:
    """Parse FER2013's ``emotion,pixels,Usage`` text into images, labels and splits.

    Raises :class:`DataFormatError` naming the first bad row (1-based line number as in an editor).
    """
    iterator = iter(lines)
    header = next(iterator, None)
    if header is None:
        raise DataFormatError(f"{source}: file is empty")
    columns = [column.strip() for column in header.strip().split(",")]
    if columns != ["emotion", "pixels", "Usage"]:
        if "\r" in header.rstrip("\r\n"):
            raise DataFormatError(
                f"{source}: lines end in CR only (old Mac line endings), which are not "
                f"supported; save the file with LF or CRLF line endings. It begins "
                f"{shortened(header)}"
            )
        shown = shortened(header.rstrip("\r\n"))
        raise DataFormatError(f"{source}: header is {shown}, expected 'emotion,pixels,Usage'")
    images: list[NDArray[np.uint8]] = []
    labels: list[int] = []
    splits: list[str] = []
    n_classes = len(FER2013)
    for line_number, line in enumerate(iterator, start=2):
        line = line.strip()
        if not line:
            continue
        parts = line.split(",")
        where = f"{source} line {line_number}"
        if len(parts) != 3:
            raise DataFormatError(f"{where}: expected 3 comma-separated fields, got {len(parts)}")
        label_text, pixel_text, usage = parts
        try:
            label = int(label_text)
        except ValueError:
            raise DataFormatError(f"{where}: emotion {label_text!r} is not an integer") from None
        if not 0 <= label < n_classes:
            raise DataFormatError(f"{where}: emotion {label} is outside 0..{n_classes - 1}")
        usage = usage.strip()
        if usage not in FER2013_SPLITS:
            raise DataFormatError(f"{where}: Usage {usage!r} is not one of {FER2013_SPLITS}")
        tokens = pixel_text.split()
        if len(tokens) != N_PIXELS:
            raise DataFormatError(f"{where}: {len(tokens)} pixel values, expected {N_PIXELS}")
        # Python's int() also reads "1_0" as 10 and other scripts' digits ("٣" as 3): only
        # plain decimal digits are pixel values.
        joined = "".join(tokens)
        try:
            if not (joined.isascii() and joined.isdigit()):
                raise ValueError(joined)
            pixels = np.array(tokens, dtype=np.int32)
        except (ValueError, OverflowError):
            raise DataFormatError(f"{where}: pixel values must be integers in 0..255") from None
        if pixels.min() < 0 or pixels.max() > 255:
            raise DataFormatError(f"{where}: pixel values must lie in 0..255")
        images.append(pixels.astype(np.uint8).reshape(FACE_SIZE, FACE_SIZE))
        labels.append(label)
        splits.append(usage)
    if not images:
        raise DataFormatError(f"{source}: no data rows")
    return np.stack(images), np.array(labels, dtype=np.int64), np.array(splits)


def save_npz_atomically(path: Path, compressed: bool = False, **arrays: NDArray) -> None:
    """``np.savez`` to ``path``, all or nothing (:func:`fer.files.replacing`): an interrupted
    run never leaves a half cache, and two processes writing the same cache at once each
    replace it whole."""
    with replacing(path, suffix=".npz") as temporary:
        (np.savez_compressed if compressed else np.savez)(temporary, **arrays)  # type: ignore[arg-type]


def _content_digest(
    images: NDArray[np.uint8], labels: NDArray[np.integer], splits: NDArray[np.str_]
) -> str:
    """SHA-256 over the cached arrays, so that rows edited, dropped or reordered after the cache
    was written are noticed even when the stored checksum and version were kept."""
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(images, dtype=np.uint8).tobytes())
    digest.update(np.ascontiguousarray(labels, dtype="<i8").tobytes())
    digest.update("\n".join(splits.tolist()).encode())
    return digest.hexdigest()


def _stored_text(arrays: dict[str, NDArray], name: str) -> str | None:
    value = arrays.get(name)
    if value is None or value.shape != () or value.dtype.kind != "U":
        return None
    return str(value)


def _check_cache(
    arrays: dict[str, NDArray], checksum: str
) -> tuple[NDArray[np.uint8], NDArray[np.int64], NDArray[np.str_]]:
    """The images, labels and splits of a cache written for the CSV of MD5 ``checksum``;
    ``ValueError`` saying why a cache cannot be trusted."""
    version = arrays.get("format_version")
    if version is None or version.shape != () or version.dtype.kind not in "iu":
        raise ValueError("no cache format version (written by an older version of fer)")
    if int(version) != CACHE_FORMAT_VERSION:
        raise ValueError(f"cache format {int(version)}, expected {CACHE_FORMAT_VERSION}")
    stored_md5 = _stored_text(arrays, "source_md5")
    if stored_md5 != checksum:
        raise ValueError(f"made from a CSV of MD5 {stored_md5}, not {checksum}")
    missing = [name for name in ("images", "labels", "splits") if name not in arrays]
    if missing:
        raise ValueError(f"no {', '.join(missing)} array")
    images, labels, splits = arrays["images"], arrays["labels"], arrays["splits"]
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (FACE_SIZE, FACE_SIZE):
        raise ValueError(f"images of shape {images.shape} and type {images.dtype}")
    if len(images) == 0:
        raise ValueError("no rows")
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise ValueError(f"labels of shape {labels.shape} and type {labels.dtype}")
    if splits.ndim != 1 or splits.dtype.kind != "U":
        raise ValueError(f"splits of shape {splits.shape} and type {splits.dtype}")
    if not len(images) == len(labels) == len(splits):
        raise ValueError(f"{len(images)} images, {len(labels)} labels and {len(splits)} splits")
    n_classes = len(FER2013)
    if labels.min() < 0 or labels.max() >= n_classes:
        raise ValueError(f"labels outside 0..{n_classes - 1}")
    split_names, split_counts = np.unique(splits, return_counts=True)
    unknown = sorted(set(split_names.tolist()) - set(FER2013_SPLITS))
    if unknown:
        raise ValueError(f"splits {unknown} are not among {FER2013_SPLITS}")
    if checksum == FER2013_MD5:
        counts = dict(zip(split_names.tolist(), split_counts.tolist(), strict=True))
        if len(images) != FER2013_N_ROWS or counts != FER2013_SPLIT_SIZES:
            raise ValueError(
                f"{len(images)} rows split {counts}; FER2013 has {FER2013_N_ROWS} split "
                f"{FER2013_SPLIT_SIZES}"
            )
    if _stored_text(arrays, "content_sha256") != _content_digest(images, labels, splits):
        raise ValueError("the arrays were changed after the cache was written")
    return images, labels.astype(np.int64), splits


def _read_cache(
    cache_path: Path, checksum: str
) -> tuple[NDArray[np.uint8], NDArray[np.int64], NDArray[np.str_]] | None:
    """The cached arrays, or ``None`` when there is no cache or it cannot be trusted.

    A cache is only used when it was written in this format for this very CSV and holds a
    well-formed FER2013; anything else (a crash mid-write on an older version, a cache from
    another CSV or an older version, edited arrays) is logged and the CSV is parsed again. The
    file is not deleted: the rebuilt cache replaces it whole, so a process reading it meanwhile
    never finds it missing or half written.
    """
    if not cache_path.is_file():
        return None
    try:
        with np.load(cache_path) as cached:
            arrays = {name: cached[name] for name in cached.files}
        return _check_cache(arrays, checksum)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        logger.warning("Dataset cache %s not used, rebuilt from the CSV: %s", cache_path, error)
        return None


def _write_cache(
    cache_path: Path,
    checksum: str,
    images: NDArray[np.uint8],
    labels: NDArray[np.int64],
    splits: NDArray[np.str_],
) -> None:
    save_npz_atomically(
        cache_path,
        images=images,
        labels=labels,
        splits=splits,
        format_version=np.array(CACHE_FORMAT_VERSION, dtype=np.int64),
        source_md5=np.array(checksum),
        content_sha256=np.array(_content_digest(images, labels, splits)),
    )


def load_fer2013(
    path: str | Path,
    expected_md5: str | None = None,
    cache_dir: Path | None = CACHE_DIR,
) -> FaceDataset:
    """Load Kaggle's ``fer2013.csv`` (or ``.csv.gz``), using an ``.npz`` cache keyed by MD5.

    ``expected_md5`` (of the uncompressed CSV) is checked when given; a mismatch raises
    :class:`DataFormatError` before anything is cached. The cache holds the MD5 it was made from,
    its format version and a digest of its arrays; one that does not match them, or does not
    hold a well-formed FER2013, is rebuilt from the CSV (see :func:`_read_cache`).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"FER2013 CSV not found: {path}")
    checksum = file_md5(path)
    if expected_md5 is not None and checksum != expected_md5:
        raise DataFormatError(
            f"{path}: MD5 {checksum} differs from the expected {expected_md5}; "
            "the file is not the original Kaggle fer2013.csv (or it is damaged)."
        )
    cache_path = None if cache_dir is None else Path(cache_dir) / f"fer2013-{checksum}.npz"
    cached = None if cache_path is None else _read_cache(cache_path, checksum)
    if cached is not None:
        images, labels, splits = cached
    else:
        images, labels, splits = parse_fer2013_csv(read_text_lines(path), source=path.name)
        if cache_path is not None:
            _write_cache(cache_path, checksum, images, labels, splits)
    return FaceDataset(images, labels, splits.astype(str), FER2013, "fer2013", checksum)


def load_dataset(key: str, data_dir: Path, cache_dir: Path | None = CACHE_DIR) -> FaceDataset:
    """Load a dataset by class-set key from ``data_dir`` (``fer2013`` or ``ferplus``)."""
    from fer.config import find_fer2013_csv, find_ferplus_csv

    fer2013 = load_fer2013(
        find_fer2013_csv(data_dir), expected_md5=FER2013_MD5, cache_dir=cache_dir
    )
    if key == FER2013.key:
        return fer2013
    if key == FERPLUS.key:
        return load_ferplus(fer2013, find_ferplus_csv(data_dir))
    raise ValueError(f"Unknown dataset {key!r}; choose 'fer2013' or 'ferplus'")
