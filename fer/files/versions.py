"""The versions of a folder kept beside it while it is replaced, and the swap between them."""

from __future__ import annotations

import os
from pathlib import Path

# Beside a folder NAME that is being replaced whole, all hidden so that listings skip them:
#   .NAME.new-XXXXXXXX   a new version being written; its writer holds WRITER_LOCK inside it
#   .NAME.old            the version being replaced, between the two renames of a swap
#   .NAME.gone-XXXXXXXX  a replaced version, being deleted
# A process that stops at any point leaves a state the next replacement (or a reader, through
# restore_interrupted_replacement) can tell apart and settle.
WRITER_LOCK = ".being-written"


def previous_version(path: Path) -> Path:
    """Where the version of folder ``path`` being replaced waits during a swap."""
    return Path(path).with_name(f".{Path(path).name}.old")


def swap(work: Path, path: Path) -> None:
    """``work`` takes ``path``'s place; the old ``path`` waits as its previous version."""
    had_one = os.path.lexists(path)
    if had_one:
        os.replace(path, previous_version(path))
    try:
        os.replace(work, path)
    except BaseException:
        if had_one:
            os.replace(previous_version(path), path)
        raise


def restore_previous(path: Path) -> bool:
    """Put the previous version of folder ``path`` back when ``path`` is missing; True if it
    did."""
    if os.path.lexists(path) or not previous_version(path).is_dir():
        return False
    os.replace(previous_version(path), path)
    return True
