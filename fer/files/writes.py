"""Writing one file all or nothing, locking a folder for a read-modify-write, and making a
folder's renames durable."""

from __future__ import annotations

import fcntl
import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def replacing(path: Path, suffix: str = "", private: bool = False) -> Iterator[Path]:
    """A temporary path of its own beside ``path``: write it inside the ``with`` block; on a
    clean exit it replaces ``path`` whole, on an error it is removed and ``path`` is untouched.

    Each call gets its own temporary name, so two processes writing one file at once each
    replace it whole instead of one failing on the other's temporary file. The file keeps the
    permissions of the one it replaces; a new one is readable by its owner only when
    ``private`` (patient data), by everyone otherwise (cards, caches).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{path.name}-", suffix=suffix or ".partial", dir=path.parent
    )
    os.close(handle)  # made 0600
    if path.is_file():
        os.chmod(temporary, stat.S_IMODE(path.stat().st_mode))
    elif not private:
        os.chmod(temporary, 0o644)
    try:
        yield Path(temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_text_atomically(path: Path, text: str) -> None:
    """``path.write_text(text)``, all or nothing (see :func:`replacing`)."""
    with replacing(path) as temporary:
        temporary.write_text(text)


def write_bytes_atomically(path: Path, data: bytes, private: bool = False) -> None:
    """``path.write_bytes(data)``, all or nothing (see :func:`replacing`)."""
    with replacing(path, private=private) as temporary:
        temporary.write_bytes(data)


@contextmanager
def exclusive(directory: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``directory`` (other processes' ``exclusive`` calls wait), for
    a read-modify-write of a file in it that two commands may run at once."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # closing releases the lock


def sync_folder(folder: Path) -> None:
    """Make the renames and removals in ``folder`` durable (``fsync`` of the folder)."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
