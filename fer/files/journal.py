"""The journal that keeps folders replaced together together: each is swapped whole, one after
the other, so a process stopped between two swaps would leave some new and some old."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from fer.files.versions import WRITER_LOCK, previous_version, restore_previous, swap
from fer.files.writes import replacing, sync_folder

# What it logs went out under this name before the journal had a module of its own.
logger = logging.getLogger("fer.files")

# Under the lock and before the first swap, this file beside the folders names each folder and
# its new version; it is removed after the last swap. Only a stopped process leaves it, and
# whoever takes the lock next settles it.
TOGETHER_JOURNAL = ".replacing-together.json"


class UnsettledReplacementError(OSError):
    """Folders replaced together were left half swapped by a process that stopped, and could
    not be settled; the message names them (``folders``) and what to do."""

    def __init__(self, message: str, folders: list[Path]):
        super().__init__(message)
        self.folders = folders


def write_journal(works: list[Path], paths: list[Path]) -> None:
    """Record, durably, each of ``paths`` and its new version in ``works`` (the lock held)."""
    folders = [
        {"path": path.name, "new": work.name, "identity": _identity(work),
         "replaces": os.path.lexists(path)}
        for work, path in zip(works, paths, strict=True)
    ]
    with replacing(paths[0].parent / TOGETHER_JOURNAL) as temporary:
        with open(temporary, "w") as handle:
            json.dump({"folders": folders}, handle)
            handle.flush()
            os.fsync(handle.fileno())
    sync_folder(paths[0].parent)


def remove_journal(parent: Path) -> None:
    (parent / TOGETHER_JOURNAL).unlink()
    sync_folder(parent)  # a journal back after a power cut could undo a later replacement


def settle_together(parent: Path) -> list[Path]:
    """Finish the swaps of folders replaced together that a stopped process left in ``parent``
    (the lock held), or undo them when a new version is gone, and say which. Returns those
    folders, whose own leftovers are settled next; none when nothing was left, or when every
    new version is in place and only the journal could not be removed (a reader who may not
    write here: it loads them, and the next user who may write removes it)."""
    journal = parent / TOGETHER_JOURNAL
    for leftover in parent.glob(f".{TOGETHER_JOURNAL}-*.partial"):
        leftover.unlink(missing_ok=True)  # a journal whose writer stopped before any swap
    try:
        text = journal.read_text()
    except FileNotFoundError:
        return []
    try:
        folders, replaced = [], set()
        for entry in json.loads(text)["folders"]:
            _check_beside(entry["path"], entry["new"])
            folders.append((parent / entry["path"], parent / entry["new"], entry["identity"]))
            if entry.get("replaces", True):
                replaced.add(parent / entry["path"])
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
    # Only the journal left to remove (it outlived the last swap): a reader who may not write
    # here can still load these folders.
    all_in_place = all(_identity(path) == identity for path, _, identity in folders)
    kept = []
    try:
        for path, work, identity in folders:
            if complete and _identity(work) == identity:  # not in its place yet
                (work / WRITER_LOCK).unlink(missing_ok=True)
                swap(work, path)
            elif not complete:
                if _identity(path) == identity:
                    if path in replaced and not previous_version(path).is_dir():
                        # Its version from before is already gone: taking the new one away
                        # would leave no model at all.
                        kept.append(path)
                        continue
                    os.replace(path, work)  # deleted with the folder's other leftovers next
                restore_previous(path)
        sync_folder(parent)
        remove_journal(parent)
    except OSError as error:
        if all_in_place:
            logger.warning(
                "replacing %s together had finished, but its journal %s could not be removed "
                "(%s); each holds its new version, and the next user who may write to %s "
                "removes it", names, journal, error, parent,
            )
            # Nothing settled: their own leftovers wait for that user too, and settling them
            # would come back here.
            return []
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
    if kept:
        outcome += (
            f", except {', '.join(map(str, kept))}, whose version from before was gone: it "
            "keeps its new version"
        )
    logger.warning("replacing %s together had stopped between two swaps; %s", names, outcome)
    return [path for path, _, _ in folders]


def _check_beside(name: str, new: str) -> None:
    """``ValueError`` unless the journal's ``name`` and ``new`` are a folder beside it and that
    folder's new version. Every loader settles the journal, so a name that leads elsewhere
    (``..``, a separator, an absolute path) would have it rename and delete folders outside
    the one the journal is in."""
    if not (
        isinstance(name, str) and isinstance(new, str) and name not in ("", ".", "..")
        and os.sep not in name and new.startswith(f".{name}.new-") and os.sep not in new
    ):
        raise ValueError(f"it names {name!r} and {new!r}, not a folder beside it and its new "
                         "version")


def _identity(path: Path) -> list[int] | None:
    try:
        status = os.lstat(path)
    except FileNotFoundError:
        return None
    return [status.st_dev, status.st_ino]
