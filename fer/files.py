"""Writing the project's own files and folders so that readers never see half of one.

Model cards, evaluation files and dataset caches are read by other processes (the app, a
second command) while a command rewrites them; a crash or a full disk mid-write must leave the
old file whole, not a truncated one that every later load fails on. A model is a folder of
files that belong together, so it is replaced as a whole (:func:`replacing_folders`).
"""

from __future__ import annotations

import fcntl
import os
import re
import secrets
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
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


# Beside a folder NAME that is being replaced whole, all hidden so that listings skip them:
#   .NAME.new-XXXXXXXX   a new version being written; its writer holds WRITER_LOCK inside it
#   .NAME.old            the version being replaced, between the two renames of a swap
#   .NAME.gone-XXXXXXXX  a replaced version, being deleted
# A process that stops at any point leaves a state the next replacement (or a reader, through
# restore_interrupted_replacement) can tell apart and settle.
WRITER_LOCK = ".being-written"
_HIDDEN_SIBLING = re.compile(r"\.(?P<name>.+)\.(?P<kind>new|gone)-[0-9a-f]{8}")


def previous_version(path: Path) -> Path:
    """Where the version of folder ``path`` being replaced waits during a swap."""
    return Path(path).with_name(f".{Path(path).name}.old")


def restore_interrupted_replacement(path: Path) -> bool:
    """Put back the previous version of folder ``path`` when a replacement stopped between the
    two renames of its swap (``path`` missing, its previous version whole beside it); True if
    it did. ``OSError`` when the rename back fails."""
    path = _followed(Path(path))
    try:
        if os.path.lexists(path) or not previous_version(path).is_dir():
            return False  # the usual case, seen without waiting for the lock
    except (OSError, ValueError):  # a name no folder can have: nothing to put back
        return False
    with exclusive(path.parent):  # a swap in progress finishes first
        return _restore_previous(path)


@contextmanager
def replacing_folder(path: Path, copy_current: bool = False) -> Iterator[Path]:
    """A new hidden folder beside ``path`` to write a whole folder into (starting from a copy of
    ``path``'s contents with ``copy_current``). On a clean exit it takes ``path``'s place, so
    that a reader finds the old version or the new one, never a mix; on an error it is removed
    and ``path`` is untouched. See :func:`replacing_folders`."""
    with replacing_folders([path], copy_current) as works:
        yield works[0]


@contextmanager
def replacing_folders(
    paths: list[Path],
    copy_current: bool = False,
    before_swap: Callable[[Path], None] | None = None,
) -> Iterator[list[Path]]:
    """:func:`replacing_folder` for several folders, all or none: on a clean exit every new
    folder takes its path's place, and when one cannot, those already swapped are swapped back.
    ``before_swap(path)``, when given, runs for each path while the folders are locked, just
    before any is swapped; what it raises stops the replacement with every path untouched.

    Leftovers of a replacement that a process stopped in the middle of are settled first: a
    previous version waiting beside a missing folder is put back, and versions that no live
    process is writing are deleted. A path that is a link keeps it: the folder it names is
    replaced.
    """
    paths = [_followed(Path(path)) for path in paths]
    with ExitStack() as stack:
        works = [stack.enter_context(_new_version(path, copy_current)) for path in paths]
        yield works
        _swap_in(works, paths, before_swap)


def _followed(path: Path) -> Path:
    """``path``, or the folder it is a link to. Swapped itself, the link would become a copy
    of the folder, and the link set aside could not be renamed over the empty folder that marks
    a version for deletion."""
    return Path(os.path.realpath(path)) if os.path.islink(path) else path


@contextmanager
def _new_version(path: Path, copy_current: bool) -> Iterator[Path]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with exclusive(path.parent):
        _settle(path)
        work = _hidden_sibling(path, "new")
        os.chmod(work, 0o755)
        writer = os.open(work / WRITER_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(writer, fcntl.LOCK_EX)  # held until this process is done or gone
    try:
        if copy_current and path.is_dir():
            ignore = shutil.ignore_patterns(".staged-*", WRITER_LOCK)
            shutil.copytree(path, work, symlinks=True, dirs_exist_ok=True, ignore=ignore)
        yield work
    finally:
        os.close(writer)
        shutil.rmtree(work, ignore_errors=True)  # already gone when it was swapped in


def _swap_in(
    works: list[Path], paths: list[Path], before_swap: Callable[[Path], None] | None
) -> None:
    with ExitStack() as locks:
        for parent in sorted({path.parent for path in paths}, key=str):
            locks.enter_context(exclusive(parent))
        for path in paths:
            _settle(path)  # a replacement that stopped while this one was written
            if before_swap is not None:
                before_swap(path)
        swapped: list[tuple[Path, Path]] = []
        try:
            for work, path in zip(works, paths, strict=True):
                (work / WRITER_LOCK).unlink()
                _swap(work, path)
                swapped.append((work, path))
        except BaseException:
            for work, path in reversed(swapped):
                os.replace(path, work)
                _restore_previous(path)
            raise
        gone = []
        for path in paths:
            try:
                gone.append(_set_aside_previous(path))
            except OSError:  # the new versions are in place; the next replacement deletes it
                pass
    for folder in gone:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)


def _swap(work: Path, path: Path) -> None:
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


def _restore_previous(path: Path) -> bool:
    if os.path.lexists(path) or not previous_version(path).is_dir():
        return False
    os.replace(previous_version(path), path)
    return True


def _settle(path: Path) -> None:
    """Undo or finish what a stopped replacement of ``path`` left (the parent's lock held)."""
    _restore_previous(path)
    gone = _set_aside_previous(path)  # still there: the swap was done, only not the deletion
    if gone is not None:
        shutil.rmtree(gone, ignore_errors=True)
    for entry in path.parent.iterdir():
        match = _HIDDEN_SIBLING.fullmatch(entry.name)
        if match is None or match["name"] != path.name or not entry.is_dir():
            continue
        if match["kind"] == "gone" or not _being_written(entry):
            shutil.rmtree(entry, ignore_errors=True)


def _being_written(work: Path) -> bool:
    try:
        writer = os.open(work / WRITER_LOCK, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(writer, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(writer)
    return False


def _set_aside_previous(path: Path) -> Path | None:
    """Move the previous version of ``path``, if any, to a name that marks it for deletion (a
    folder deleted half-way under its own name would be put back as if it were whole)."""
    if os.path.islink(previous_version(path)):  # set aside by a swap of the link itself
        previous_version(path).unlink()  # the folder it names is not this one's to delete
        return None
    if not previous_version(path).is_dir():
        return None
    aside = _hidden_sibling(path, "gone")
    os.replace(previous_version(path), aside)  # an empty folder's name: the rename replaces it
    return aside


def _hidden_sibling(path: Path, kind: str) -> Path:
    while True:
        sibling = path.with_name(f".{path.name}.{kind}-{secrets.token_hex(4)}")
        try:
            os.mkdir(sibling)
        except FileExistsError:
            continue
        return sibling
