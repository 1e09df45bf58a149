"""A published model's folder: the names a model may have, where it goes, and writing it whole.

A new model is written into a hidden folder beside its destination that takes the
destination's name only when complete (:func:`new_model_dir`); a step that changes a published
model works on a copy of it that replaces the whole folder only when the step succeeded
(:func:`staged_model_dir`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fer.files import replacing_folder, replacing_folders
from fer.models.cards import restore_interrupted_publication


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


_WHEN_TAKEN = ", or pass --replace to overwrite it"


def check_model_destinations(
    output_dir: Path,
    names: list[str],
    replace: bool = False,
    when_taken: str = _WHEN_TAKEN,
) -> list[Path]:
    """The folders ``output_dir/NAME`` the models ``names`` will be published to, checked
    before any work: names valid and distinct, ``output_dir`` a folder (or creatable), and no
    existing model overwritten unless ``replace``. ``ValueError`` names what was wrong; for a
    name taken already, ``when_taken`` ends the message (the caller's way out besides another
    name, if it has one)."""
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
        restore_interrupted_publication(target)  # a model to keep, unless replaced
        _refuse_a_model(target, replace, when_taken)
    return targets


def _refuse_a_model(
    target: Path, replace: bool, when_taken: str = _WHEN_TAKEN, meanwhile: str = ""
) -> None:
    """``ValueError`` when ``target`` is a file, or (unless ``replace``) holds a model already;
    ``meanwhile`` says when that model came."""
    if target.exists() and not target.is_dir():
        raise ValueError(f"{target} is a file, not a model folder")
    if target.is_dir() and any(target.iterdir()) and not replace:
        raise ValueError(
            f"{target} holds a model already{meanwhile}; choose another name{when_taken}"
        )


@contextmanager
def new_model_dir(output_dir: Path, replace: bool = False) -> Iterator[Path]:
    """A hidden folder beside ``output_dir`` to write a whole model into. On a clean exit it
    becomes ``output_dir`` (an existing model there is replaced only when ``replace``); on an
    error it is removed, so no half-written model is left and none is overwritten
    (:func:`fer.files.replacing_folder`)."""
    with new_model_dirs([output_dir], replace) as works:
        yield works[0]


@contextmanager
def new_model_dirs(output_dirs: list[Path], replace: bool = False) -> Iterator[list[Path]]:
    """:func:`new_model_dir` for models published together (the heads of one training run):
    they all appear, or replace the models there, or none does."""
    output_dirs = [Path(output_dir) for output_dir in output_dirs]
    for output_dir in output_dirs:
        check_model_destinations(output_dir.parent, [output_dir.name], replace)
    # Checked again under the folders' lock: another command may have published there while
    # this one was writing.
    def published_meanwhile(target: Path) -> None:
        _refuse_a_model(target, False, meanwhile=" (published while this one was being written)")

    before_swap = None if replace else published_meanwhile
    with replacing_folders(output_dirs, before_swap=before_swap) as works:
        yield works


@contextmanager
def staged_model_dir(model_dir: Path) -> Iterator[Path]:
    """A working copy of the model ``model_dir``, in a hidden folder beside it, that replaces
    the whole model only when the step changing it succeeded: a step that fails half-way (an
    export, an evaluation), or a process that stops, leaves the model, card and evaluation as
    they were, never a new model file beside an old card (:func:`fer.files.replacing_folder`)."""
    model_dir = Path(model_dir)
    with replacing_folder(model_dir, copy_current=True) as work:
        try:
            yield work
        except (ValueError, FileNotFoundError) as error:
            raise _naming_the_model(error, work, model_dir) from None


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

