"""Writing the project's own files and folders so that readers never see half of one.

Model cards, evaluation files and dataset caches are read by other processes (the app, a
second command) while a command rewrites them; a crash or a full disk mid-write must leave the
old file whole, not a truncated one that every later load fails on. A model is a folder of
files that belong together, so it is replaced as a whole (:func:`replacing_folders`), and
models that belong together (the heads of one training run) are replaced all or none, even when
the process stops between two of their swaps.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import secrets
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

logger = logging.getLogger(__name__)


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
# Folders replaced together are swapped one after the other, each whole: a process stopped
# between two swaps would leave some new and some old. So, under the lock and before the first
# swap, this file beside them names each folder and its new version; it is removed after the
# last swap. Only a stopped process leaves it, and whoever takes the lock next settles it.
TOGETHER_JOURNAL = ".replacing-together.json"


class UnsettledReplacementError(OSError):
    """Folders replaced together were left half swapped by a process that stopped, and could
    not be settled; the message names them (``folders``) and what to do."""

    def __init__(self, message: str, folders: list[Path]):
        super().__init__(message)
        self.folders = folders


def previous_version(path: Path) -> Path:
    """Where the version of folder ``path`` being replaced waits during a swap."""
    return Path(path).with_name(f".{Path(path).name}.old")


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
            _write_journal(works, paths)
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
            if together:
                _remove_journal(paths[0].parent)
            raise
        if together:
            try:
                _sync_folder(paths[0].parent)  # the swaps on disk before the journal is gone
                _remove_journal(paths[0].parent)
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
    _settle_together(path.parent)
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


def _write_journal(works: list[Path], paths: list[Path]) -> None:
    """Record, durably, each of ``paths`` and its new version in ``works`` (the lock held)."""
    folders = [
        {"path": path.name, "new": work.name, "identity": _identity(work)}
        for work, path in zip(works, paths, strict=True)
    ]
    with replacing(paths[0].parent / TOGETHER_JOURNAL) as temporary:
        with open(temporary, "w") as handle:
            json.dump({"folders": folders}, handle)
            handle.flush()
            os.fsync(handle.fileno())
    _sync_folder(paths[0].parent)


def _remove_journal(parent: Path) -> None:
    (parent / TOGETHER_JOURNAL).unlink()
    _sync_folder(parent)  # a journal back after a power cut could undo a later replacement


def _settle_together(parent: Path) -> None:
    """Finish the swaps of folders replaced together that a stopped process left in ``parent``
    (the lock held), or undo them when a new version is gone, and say which."""
    journal = parent / TOGETHER_JOURNAL
    for leftover in parent.glob(f".{TOGETHER_JOURNAL}-*.partial"):
        leftover.unlink(missing_ok=True)  # a journal whose writer stopped before any swap
    try:
        text = journal.read_text()
    except FileNotFoundError:
        return
    try:
        folders = [
            (parent / entry["path"], parent / entry["new"], entry["identity"])
            for entry in json.loads(text)["folders"]
        ]
    except (ValueError, KeyError, TypeError) as error:
        raise UnsettledReplacementError(
            f"{journal} cannot be read ({error}); check the folders beside it and delete it",
            [],
        ) from None
    names = ", ".join(str(path) for path, _, _ in folders)
    # A new version is known by its folder's identity, which the renames keep: waiting under
    # its hidden name, in its path's place, or gone.
    complete = all(
        identity in (_identity(path), _identity(work)) for path, work, identity in folders
    )
    try:
        for path, work, identity in folders:
            if complete and _identity(work) == identity:  # not in its place yet
                (work / WRITER_LOCK).unlink(missing_ok=True)
                _swap(work, path)
            elif not complete:
                if _identity(path) == identity:
                    os.replace(path, work)  # deleted with the other leftovers below
                _restore_previous(path)
        _sync_folder(parent)
        _remove_journal(parent)
    except OSError as error:
        raise UnsettledReplacementError(
            f"replacing {names} together stopped between two swaps, and settling it failed "
            f"({error}); it is settled by the next replacement there, or the next load by a "
            f"user who may write to {parent}",
            [path for path, _, _ in folders],
        ) from None
    outcome = (
        "finished it: each holds its new version" if complete
        else "a new version was gone, so it was undone: each holds its version from before"
    )
    logger.warning("replacing %s together had stopped between two swaps; %s", names, outcome)
    for path, _, _ in folders:
        _settle(path)


def _identity(path: Path) -> list[int] | None:
    try:
        status = os.lstat(path)
    except FileNotFoundError:
        return None
    return [status.st_dev, status.st_ino]


def _sync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
