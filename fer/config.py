"""Project paths and environment lookups.

Paths are constants derived from the package location so that notebooks, pages and CLIs agree on
where models and caches live. Environment variables are only read by the helpers below, which the
edges (CLIs, app, tests) call explicitly.
"""

from __future__ import annotations

import functools
import os
import platform
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Literal, overload

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MODELS_DIR = PROJECT_ROOT / "models"
LOCAL_DATA_DIR = PROJECT_ROOT / "data"
CACHE_DIR = LOCAL_DATA_DIR / "cache"
DEFAULT_SESSION_DB = LOCAL_DATA_DIR / "sessions.db"
# Written by fer.training.compare (``fer compare``), read by the Evaluation page and notebook 03.
STRATEGY_COMPARISON_DIR = PROJECT_ROOT / "experiments" / "strategy_comparison"

DATA_DIR_ENV = "FER_DATA_DIR"
# The clinic's retention period in days, read by the app's daily purge and `fer sessions purge`.
RETENTION_DAYS_ENV = "FER_RETENTION_DAYS"

FER2013_CSV_NAMES = ("fer2013.csv", "fer2013.csv.gz")
FERPLUS_CSV_NAME = "fer2013new.csv"
FACE_LANDMARKER_NAME = "face_landmarker.task"
FER2013_MD5 = "f8428a1edbd21e88f42c73edd2a14f95"

DATA_HELP = (
    "Set FER_DATA_DIR to a folder holding fer2013.csv (or fer2013.csv.gz, from Kaggle's "
    "'Challenges in Representation Learning: Facial Expression Recognition Challenge'), "
    "fer2013new.csv (github.com/microsoft/FERPlus) and face_landmarker.task (MediaPipe's "
    "face_landmarker/float16/1 model). See README.md, section 'Data'."
)


class DataNotFoundError(FileNotFoundError):
    """A dataset or asset the caller asked for is not where the configuration says."""


@overload
def data_dir_from_env(required: Literal[True] = ...) -> Path: ...
@overload
def data_dir_from_env(required: bool) -> Path | None: ...


def data_dir_from_env(required: bool = True) -> Path | None:
    """Return ``$FER_DATA_DIR`` as a path, or raise a helpful error when it is unset or missing."""
    value = os.environ.get(DATA_DIR_ENV)
    if not value:
        if required:
            raise DataNotFoundError(f"{DATA_DIR_ENV} is not set. {DATA_HELP}")
        return None
    path = Path(value).expanduser().resolve()
    if not path.is_dir():
        if required:
            raise DataNotFoundError(f"{DATA_DIR_ENV}={value} is not a directory. {DATA_HELP}")
        return None
    return path


def plain_whole_number(text: str) -> int | None:
    """``text`` (stripped) as a whole number when it is ASCII digits only, else None: Python's
    ``int`` also takes ``+30``, ``1_0`` and other scripts' digits, which a setting that deletes
    or logs out must not read as a number nobody typed."""
    text = text.strip()
    return int(text) if re.fullmatch(r"[0-9]+", text) else None


def retention_days_from_env(environ: Mapping[str, str] | None = None) -> int | None:
    """``$FER_RETENTION_DAYS`` (from ``environ``, default ``os.environ``) as a whole number of
    days; None when unset or blank.

    Only ASCII digits count: the app and the command line must read one value the same way,
    and Python's ``int`` also takes ``+30``, ``1_0`` and other scripts' digits. ``ValueError``
    naming the variable otherwise, or for 0.
    """
    environ = os.environ if environ is None else environ
    text = environ.get(RETENTION_DAYS_ENV, "").strip()
    if not text:
        return None
    days = plain_whole_number(text)
    if days is None:
        raise ValueError(
            f"{RETENTION_DAYS_ENV} must be a whole number of days in the digits 0-9, got {text!r}"
        )
    if days < 1:
        raise ValueError(f"{RETENTION_DAYS_ENV} must be at least 1 day, got {text!r}")
    return days


def minutes_from_env(
    name: str,
    default: float,
    low: float,
    high: float,
    *,
    low_inclusive: bool = True,
    environ: Mapping[str, str] | None = None,
) -> float:
    """``$name`` (from ``environ``, default ``os.environ``) as minutes; ``default`` when unset or
    blank.

    Read like :func:`retention_days_from_env`: ASCII digits only, with at most one decimal point
    (``0.5``), because ``float`` also takes ``inf``, ``1e400``, ``+15``, ``1_5`` and other
    scripts' digits, and an infinite time-out is none. The value must lie from ``low`` (more
    than ``low`` when not ``low_inclusive``) to ``high``. ``ValueError`` naming the variable
    and the allowed range otherwise.
    """
    environ = os.environ if environ is None else environ
    text = environ.get(name, "").strip()
    if not text:
        return default
    minutes = float(text) if re.fullmatch(r"[0-9]+(\.[0-9]+)?", text) else None
    if minutes is None or not (low <= minutes if low_inclusive else low < minutes) or (
        minutes > high
    ):
        span = f"between {low:g} and {high:g}" if low_inclusive else (
            f"more than {low:g} and at most {high:g}"
        )
        raise ValueError(
            f"{name} must be a number of minutes {span}, in the digits 0-9 with at most one "
            f"decimal point, got {text!r}"
        )
    return minutes


def find_fer2013_csv(data_dir: Path) -> Path:
    """Locate FER2013's CSV (plain or gzipped) inside ``data_dir``."""
    for name in FER2013_CSV_NAMES:
        candidate = Path(data_dir) / name
        if candidate.is_file():
            return candidate
    raise DataNotFoundError(f"No {' or '.join(FER2013_CSV_NAMES)} in {data_dir}. {DATA_HELP}")


def find_ferplus_csv(data_dir: Path) -> Path:
    candidate = Path(data_dir) / FERPLUS_CSV_NAME
    if not candidate.is_file():
        raise DataNotFoundError(f"No {FERPLUS_CSV_NAME} in {data_dir}. {DATA_HELP}")
    return candidate


def find_face_landmarker(data_dir: Path | None) -> Path | None:
    """Return the MediaPipe face landmarker bundle in ``data_dir`` if it is there."""
    if data_dir is None:
        return None
    candidate = Path(data_dir) / FACE_LANDMARKER_NAME
    return candidate if candidate.is_file() else None


def landmarker_search_dirs() -> tuple[Path, ...]:
    """Folders searched for ``face_landmarker.task`` when no path is given, in order.

    ``$FER_DATA_DIR`` (where the README tells users to put the bundle) when it names a folder,
    then the clone's ``data/``.
    """
    data_dir = data_dir_from_env(required=False)
    return (LOCAL_DATA_DIR,) if data_dir is None else (data_dir, LOCAL_DATA_DIR)


def find_landmarker_bundle() -> Path | None:
    """The face landmarker bundle from the first of :func:`landmarker_search_dirs` holding it.

    This is what ``EmotionRecognizer(landmarker_path=None)`` opens: the public API is an edge
    for library users, so its default reads ``$FER_DATA_DIR`` through this one function rather
    than each caller doing it. ``None`` when no folder holds the bundle.
    """
    for folder in landmarker_search_dirs():
        found = find_face_landmarker(folder)
        if found is not None:
            return found
    return None


@functools.cache  # the CPU does not change while the process runs
def _cpuinfo() -> tuple[str, str]:
    """(CPU model name, widest x86 vector extension) read from /proc/cpuinfo."""
    model, vector = platform.processor() or "cpu", ""
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        cpuinfo = []
    for line in cpuinfo:
        key, _, value = (part.strip() for part in line.partition(":"))
        if key == "model name":
            model = value
        elif key == "flags":
            flags = set(value.split())
            vector = next(
                (
                    name
                    for name in ("avx512", "avx2", "avx")
                    if name in flags or f"{name}f" in flags
                ),
                "no avx",
            )
    return model, vector


def cpu_vector_extension() -> str:
    """'avx512', 'avx2', 'avx', 'no avx', or '' where /proc/cpuinfo has no flags (not Linux x86).

    Latency depends on it more than on anything else here: the same int8 model runs several
    times slower without AVX-512 (docs/results.md, latency per CPU class).
    """
    return _cpuinfo()[1]


def machine_description() -> str:
    """The CPU that timed a run, for cards and benchmarks, e.g. 'x86_64, AMD EPYC, avx512, 2 cores'

    Machines of the same kind differ in training speed and, with or without AVX-512, several
    times over in int8 latency, so a time means little without this.
    """
    model, vector = _cpuinfo()
    parts = [platform.machine(), model, vector, f"{os.cpu_count()} cores"]
    return ", ".join(part for part in parts if part)
