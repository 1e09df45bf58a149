"""The ``--landmarker`` option that `fer analyze` and `fer bench --video` share."""

from __future__ import annotations

from pathlib import Path


def check_landmarker(path: Path) -> None:
    """A landmarker named on the command line must be one MediaPipe opens: a mistyped path or a
    damaged bundle would otherwise fall back to the Haar detector with only a note, answering
    another question than the one asked. ``ValueError`` naming it."""
    from fer.realtime.faces import LandmarkerDetector

    if not path.exists():
        raise ValueError(f"--landmarker {path} does not exist")
    if not path.is_file():
        raise ValueError(f"--landmarker {path} is not a file")
    LandmarkerDetector(path, mode="image").close()  # names a file that is no bundle
