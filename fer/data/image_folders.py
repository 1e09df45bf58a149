"""Face datasets stored as image files, one sub-folder per label (CK+48, Kaggle's FER2013
folders)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from fer.data.datasets import FACE_SIZE, DataFormatError, FaceDataset
from fer.emotions import FER2013, ClassSet, canonical_label

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".pgm")
# A picture far beyond any camera's resolution is a decompression bomb, not a face; uploads and
# image folders share the bound.
MAX_IMAGE_PIXELS = 40_000_000
# Below this many pixels a side, no detector finds a face; frames and uploads are refused.
MIN_FRAME_SIDE = 8
# MediaPipe's bundled OpenCV aborts the whole process (an assertion, not an exception) on a side
# of 32,767 pixels or more, however few pixels the frame holds; frames and uploads stay well below.
MAX_FRAME_SIDE = 16_384


def image_size(path: Path) -> tuple[int, int]:
    """``(width, height)`` from the file's header, without decoding its pixels."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return image.size
    except Image.DecompressionBombError:
        # Pillow refuses to even open the very largest pictures; they are too large here too.
        raise DataFormatError(
            f"{path}: the picture is larger than the {MAX_IMAGE_PIXELS:,} pixels a face image "
            "may have"
        ) from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise DataFormatError(
            f"{path}: not a readable image (corrupt or not an image file)"
        ) from None


def read_face_image(path: str | Path, size: int = FACE_SIZE) -> NDArray[np.uint8]:
    """Read an image file as a ``size``×``size`` gray face.

    Folders, unreadable files and pictures over :data:`MAX_IMAGE_PIXELS` raise
    :class:`DataFormatError` naming the file; the size is checked before any pixel is decoded.
    """
    import cv2  # local import keeps `import fer.data.image_folders` light until an image is read

    path = Path(path)
    if path.is_dir():
        raise DataFormatError(f"{path}: is a folder, not an image file")
    width, height = image_size(path)
    if width * height > MAX_IMAGE_PIXELS:
        raise DataFormatError(
            f"{path}: the picture ({width}×{height}) is larger than the {MAX_IMAGE_PIXELS:,} "
            "pixels a face image may have"
        )
    buffer = np.fromfile(path, dtype=np.uint8)
    gray = cv2.imdecode(buffer, cv2.IMREAD_GRAYSCALE) if buffer.size else None
    if gray is None:
        raise DataFormatError(f"{path}: not a readable image (corrupt or not an image file)")
    if gray.shape != (size, size):
        gray = cv2.resize(gray, (size, size), interpolation=cv2.INTER_AREA)
    # IMREAD_GRAYSCALE decodes to 8 bits and resizing keeps the depth: no conversion happens.
    return np.asarray(gray, dtype=np.uint8)


def load_image_folder(
    root: str | Path,
    class_set: ClassSet = FER2013,
    split_name: str = "all",
    label_map: dict[str, str] | None = None,
) -> FaceDataset:
    """Load ``root/<label>/*.png`` (e.g. CK+48) into a dataset in ``class_set``'s order.

    Folder names are mapped through ``label_map`` (if given) and then the usual spellings
    (``happiness`` → ``happy``). A folder naming no emotion, or one outside ``class_set``, raises
    :class:`DataFormatError` naming it. Hidden folders and files (``.ipynb_checkpoints``,
    macOS's ``._*``) and ``__MACOSX`` are left out: tools leave them beside the data.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"Image folder not found: {root}")
    images: list[NDArray[np.uint8]] = []
    labels: list[int] = []
    folders = sorted(path for path in root.iterdir() if path.is_dir() and not _is_hidden(path))
    if not folders:
        raise DataFormatError(f"{root}: expected one sub-folder per label, found none")
    for folder in folders:
        label = _folder_label(folder, class_set, label_map or {})
        files = sorted(
            path
            for path in folder.iterdir()
            if path.suffix.lower() in IMAGE_SUFFIXES and not _is_hidden(path)
        )
        for file in files:
            images.append(read_face_image(file))
            labels.append(label)
    if not images:
        raise DataFormatError(f"{root}: no images with suffix {IMAGE_SUFFIXES}")
    n_images = len(images)
    return FaceDataset(
        images=np.stack(images),
        labels=np.array(labels, dtype=np.int64),
        splits=np.full(n_images, split_name),
        class_set=class_set,
        source=str(root),
    )


def _is_hidden(path: Path) -> bool:
    return path.name.startswith(".") or path.name == "__MACOSX"


def _folder_label(folder: Path, class_set: ClassSet, label_map: dict[str, str]) -> int:
    """The index in ``class_set`` of the emotion a label folder is named after."""
    name = label_map.get(folder.name, folder.name)
    try:
        emotion = canonical_label(name)
    except ValueError:
        raise DataFormatError(
            f"{folder}: the folder name {name!r} does not name an emotion; expected one of "
            f"{list(class_set.names)} (or a usual spelling of one)"
        ) from None
    if emotion not in class_set.names:
        raise DataFormatError(
            f"{folder}: {emotion!r} is not a class of {class_set.key!r} {list(class_set.names)}"
        )
    return class_set.index(emotion)


def load_kaggle_folders(root: str | Path, class_set: ClassSet = FER2013) -> FaceDataset:
    """Kaggle's image-folder FER2013 (``train/<emotion>/*.jpg``, ``test/<emotion>/*.jpg``).

    ``train`` becomes ``Training`` and ``test`` becomes ``PrivateTest`` (that layout merges the two
    test splits, so model selection needs a hold-out taken from ``Training``).
    """
    root = Path(root)
    parts = []
    for folder, split_name in (("train", "Training"), ("test", "PrivateTest")):
        if (root / folder).is_dir():
            parts.append(load_image_folder(root / folder, class_set, split_name))
    if not parts:
        raise DataFormatError(f"{root}: expected 'train/' and/or 'test/' sub-folders")
    return FaceDataset(
        images=np.concatenate([part.images for part in parts]),
        labels=np.concatenate([part.labels for part in parts]),
        splits=np.concatenate([part.splits for part in parts]),
        class_set=class_set,
        source=str(root),
    )
