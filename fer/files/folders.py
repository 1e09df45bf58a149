"""Replacing a folder whole, or several all or none, so that a reader finds the old version or
the new one, never a mix; and settling what a process stopped in the middle of that left."""

from __future__ import annotations

import fcntl
import os
import re
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from fer.files.journal import (
    TOGETHER_JOURNAL,
    UnsettledReplacementError,
    remove_journal,
    settle_together,
    write_journal,
)
from fer.files.versions import WRITER_LOCK, previous_version, restore_previous, swap
from fer.files.writes import exclusive, sync_folder

# The hidden versions beside a folder (their layout: fer.files.versions).
_HIDDEN_SIBLING = re.compile(r"\.(?P<name>.+)\.(?P<kind>new|gone)-[0-9a-f]{8}")


def restore_interrupted_replacement(path: Path) -> bool:
    """Put back the previous version of folder ``path`` when a replacement stopped between the
    two renames of its swap (``path`` missing, its previous version whole beside it); True if
    it did. Folders replaced together that a stopped process left half swapped beside it are
    settled first (:func:`replacing_folders`). ``OSError`` when a rename back fails, an
    :class:`UnsettledReplacementError` when ``path`` is one of those that could not be settled."""
    path = _followed(Path(path))
    try:
        if not os.path.lexists(path.parent / TOGETHER_JOURNAL) and (
            os.path.lexists(path) or not previous_version(path).is_dir()
        ):
            return False  # the usual case, seen without waiting for the lock
    except (OSError, ValueError):  # a name no folder can have: nothing to put back
        return False
    with exclusive(path.parent):  # a swap in progress finishes first
        try:
            _settle_together(path.parent)
        except UnsettledReplacementError as error:
            if path in error.folders:
                raise
            # Other folders' replacement: this one was not part of it.
        return restore_previous(path)


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
    A process stopped between two swaps leaves a journal that the next replacement or reader
    there settles (the outcome is logged): it finishes the swaps, or undoes them when a new
    version is gone. The folders must share one parent, where the journal is written.
    ``before_swap(path)``, when given, runs for each path while the folders are locked, just
    before any is swapped; what it raises stops the replacement with every path untouched.

    Leftovers of a replacement that a process stopped in the middle of are settled first: a
    previous version waiting beside a missing folder is put back, and versions that no live
    process is writing are deleted. A path that is a link keeps it: the folder it names is
    replaced.
    """
    paths = [_followed(Path(path)) for path in paths]
    if len({path.parent for path in paths}) > 1:
        raise ValueError(
            "folders replaced together must share a parent folder: "
            + ", ".join(str(path) for path in paths)
        )
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
        together = len(paths) > 1  # one folder's swap is settled without a journal
        if together:
            write_journal(works, paths)
        swapped: list[tuple[Path, Path]] = []
        try:
            for work, path in zip(works, paths, strict=True):
                (work / WRITER_LOCK).unlink()
                swap(work, path)
                swapped.append((work, path))
        except BaseException:
            for work, path in reversed(swapped):
                os.replace(path, work)
                restore_previous(path)
            if together:
                remove_journal(paths[0].parent)
            raise
        if together:
            try:
                sync_folder(paths[0].parent)  # the swaps on disk before the journal is gone
                remove_journal(paths[0].parent)
            except OSError:  # the new versions are in place; the next lock holder removes it
                pass
        gone = []
        for path in paths:
            try:
                gone.append(_set_aside_previous(path))
            except OSError:  # the new versions are in place; the next replacement deletes it
                pass
    for folder in gone:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)


def _settle(path: Path) -> None:
    """Undo or finish what a stopped replacement of ``path`` left (the parent's lock held)."""
    _settle_together(path.parent)
    restore_previous(path)
    gone = _set_aside_previous(path)  # still there: the swap was done, only not the deletion
    if gone is not None:
        shutil.rmtree(gone, ignore_errors=True)
    for entry in path.parent.iterdir():
        match = _HIDDEN_SIBLING.fullmatch(entry.name)
        if match is None or match["name"] != path.name or not entry.is_dir():
            continue
        if match["kind"] == "gone" or not _being_written(entry):
            shutil.rmtree(entry, ignore_errors=True)


def _settle_together(parent: Path) -> None:
    """Settle what folders replaced together left in ``parent`` when a process stopped between
    their swaps (the lock held): their journal, then each one's own leftovers."""
    for path in settle_together(parent):
        _settle(path)


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
