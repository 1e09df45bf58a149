"""A published model's folder: the names a model may have, where it goes, and writing it whole.

A new model is written into a hidden folder beside its destination that takes the
destination's name only when complete (:func:`new_model_dir`); a step that changes a published
model works on a copy of its files that replaces them only when the step succeeded
(:func:`staged_model_dir`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def check_model_name(name: str) -> str:
    """``name`` if it can name a model folder (``ValueError`` naming the problem otherwise)."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError("a model name must not be empty")
    if name != name.strip() or name.startswith(".") or any(c in name for c in "/\\\0"):
        raise ValueError(
            f"{name!r} cannot name a model: no '/', no leading '.' or spaces (it becomes a "
            "folder name)"
        )
    if not name.isprintable():
        raise ValueError(f"{name!r} cannot name a model: it holds control characters")
    return name


def check_model_destinations(
    output_dir: Path, names: list[str], replace: bool = False
) -> list[Path]:
    """The folders ``output_dir/NAME`` the models ``names`` will be published to, checked
    before any work: names valid and distinct, ``output_dir`` a folder (or creatable), and no
    existing model overwritten unless ``replace``. ``ValueError`` names what was wrong."""
    for name in names:
        check_model_name(name)
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"each model needs its own name; repeated: {', '.join(repeated)}")
    output_dir = Path(output_dir)
    for ancestor in (output_dir, *output_dir.parents):
        if ancestor.exists():
            if not ancestor.is_dir():
                raise ValueError(f"the output folder {output_dir} cannot be made: {ancestor} "
                                 "is a file")
            break
    targets = [output_dir / name for name in names]
    for target in targets:
        if target.exists() and not target.is_dir():
            raise ValueError(f"{target} is a file, not a model folder")
        if target.is_dir() and any(target.iterdir()) and not replace:
            raise ValueError(
                f"{target} holds a model already; choose another name, or pass --replace to "
                "overwrite it"
            )
    return targets


@contextmanager
def new_model_dir(output_dir: Path, replace: bool = False) -> Iterator[Path]:
    """A hidden folder beside ``output_dir`` to write a whole model into. On a clean exit it
    becomes ``output_dir`` (an existing model there is replaced only when ``replace``); on an
    error it is removed, so no half-written model is left and none is overwritten."""
    output_dir = Path(output_dir)
    check_model_destinations(output_dir.parent, [output_dir.name], replace)
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}-", dir=output_dir.parent))
    try:
        os.chmod(work, 0o755)
        yield work
        check_model_destinations(output_dir.parent, [output_dir.name], replace)
        if output_dir.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}-old-", dir=output_dir.parent))
            os.replace(output_dir, old)  # an empty folder's name: the rename replaces it
            os.replace(work, output_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(work, output_dir)
    finally:
        shutil.rmtree(work, ignore_errors=True)


@contextmanager
def staged_model_dir(model_dir: Path) -> Iterator[Path]:
    """A working copy of ``model_dir``'s files, in a hidden folder inside it. The files changed
    there replace the model's only when the whole step succeeded: a step that fails half-way
    (an export, an evaluation) leaves the model, card and evaluation as they were, instead of a
    new model file beside an old card."""
    work = Path(tempfile.mkdtemp(prefix=".staged-", dir=model_dir))
    try:
        for path in model_dir.iterdir():
            if path.is_file():
                shutil.copy2(path, work / path.name)
        try:
            yield work
        except (ValueError, FileNotFoundError) as error:
            raise _naming_the_model(error, work, model_dir) from None
        for path in work.iterdir():
            os.replace(path, model_dir / path.name)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _naming_the_model(error: Exception, work: Path, model_dir: Path) -> Exception:
    """``error`` with the working copy's paths in its message shown as the model's own: the
    user knows the model folder, not the hidden copy that is gone when the message is read."""
    message = str(error)
    if str(work) not in message:
        return error
    try:
        return type(error)(message.replace(str(work), str(model_dir)))
    except TypeError:  # an error class that takes more than a message
        return error

