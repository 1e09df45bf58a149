"""The parsed-FER2013 cache is used only when it was written for this very CSV, in this format,
and holds a well-formed FER2013; any other cache is rebuilt from the CSV, with a warning, instead
of being handed on under the CSV's genuine checksum."""

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

import fer.data.datasets as datasets
from fer.data.datasets import file_md5, load_fer2013
from tests.conftest import synthetic_fer2013_csv

Arrays = dict[str, NDArray]


@pytest.fixture
def csv_path(tmp_path: Path) -> Path:
    path = tmp_path / "fer2013.csv"
    path.write_text(synthetic_fer2013_csv(n_per_split=2))
    return path


def _cache_file(cache_dir: Path) -> Path:
    (path,) = cache_dir.glob("fer2013-*.npz")
    return path


def _read(path: Path) -> Arrays:
    with np.load(path) as cached:
        return {name: cached[name] for name in cached.files}


def _with_digest(arrays: Arrays) -> Arrays:
    """As a buggy writer would store them: the digest made over the bad arrays themselves."""
    digest = datasets._content_digest(arrays["images"], arrays["labels"], arrays["splits"])
    return {**arrays, "content_sha256": np.array(digest)}


def _other_csv_cache(arrays: Arrays) -> Arrays:
    return {**arrays, "source_md5": np.array("0" * 32)}


TAMPERINGS: dict[str, Callable[[Arrays], Arrays]] = {
    "labels out of range": lambda a: _with_digest({**a, "labels": np.full_like(a["labels"], 9)}),
    "negative labels": lambda a: _with_digest({**a, "labels": -a["labels"] - 1}),
    "float labels": lambda a: _with_digest({**a, "labels": a["labels"].astype(np.float64)}),
    "2-D labels": lambda a: _with_digest({**a, "labels": a["labels"][:, None]}),
    "unknown split": lambda a: _with_digest({**a, "splits": np.full(len(a["splits"]), "junk")}),
    "float images": lambda a: _with_digest({**a, "images": a["images"].astype(np.float32)}),
    "flat images": lambda a: _with_digest({**a, "images": a["images"].reshape(-1, 2304)}),
    "fewer labels": lambda a: {**a, "labels": a["labels"][:-1]},
    "no rows": lambda a: _with_digest(
        {**a, **{n: a[n][:0] for n in ("images", "labels", "splits")}}
    ),
    "reversed rows, digest kept": lambda a: {
        **a,
        **{name: a[name][::-1] for name in ("images", "labels", "splits")},
    },
    "fewer rows, digest kept": lambda a: {
        **a,
        **{name: a[name][:-2] for name in ("images", "labels", "splits")},
    },
    "another CSV's cache": _other_csv_cache,
    "older cache format": lambda a: {**a, "format_version": np.array(1)},
    "written by the old code": lambda a: {n: a[n] for n in ("images", "labels", "splits")},
    "no images": lambda a: {k: v for k, v in a.items() if k != "images"},
}


@pytest.mark.parametrize("tampering", TAMPERINGS)
def test_an_untrusted_cache_is_rebuilt_from_the_csv(
    csv_path: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, tampering: str
):
    cache_dir = tmp_path / "cache"
    expected = load_fer2013(csv_path, cache_dir=cache_dir)
    cache_file = _cache_file(cache_dir)
    np.savez(cache_file, **TAMPERINGS[tampering](_read(cache_file)))

    with caplog.at_level(logging.WARNING, logger="fer.data.datasets"):
        loaded = load_fer2013(csv_path, cache_dir=cache_dir)
    np.testing.assert_array_equal(loaded.images, expected.images)
    np.testing.assert_array_equal(loaded.labels, expected.labels)
    np.testing.assert_array_equal(loaded.splits, expected.splits)
    assert loaded.labels.dtype == np.int64
    assert f"{cache_file} not used, rebuilt from the CSV" in caplog.text

    # Rebuilt once: the next load trusts the new cache and says nothing.
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="fer.data.datasets"):
        again = load_fer2013(csv_path, cache_dir=cache_dir)
    assert caplog.text == ""
    np.testing.assert_array_equal(again.images, expected.images)
    assert [path.name for path in cache_dir.iterdir()] == [cache_file.name]


def test_the_cache_records_its_source_and_format(csv_path: Path, tmp_path: Path):
    load_fer2013(csv_path, cache_dir=tmp_path / "cache")
    arrays = _read(_cache_file(tmp_path / "cache"))
    assert str(arrays["source_md5"]) == file_md5(csv_path)
    assert int(arrays["format_version"]) == datasets.CACHE_FORMAT_VERSION


def test_the_known_fer2013_checksum_also_needs_its_row_and_split_counts(
    csv_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
):
    """A cache short of rows, digest and all, cannot pass as the real FER2013 (here: a small CSV
    standing in for it, with its counts)."""
    monkeypatch.setattr(datasets, "FER2013_MD5", file_md5(csv_path))
    monkeypatch.setattr(datasets, "FER2013_N_ROWS", 6)
    monkeypatch.setattr(
        datasets, "FER2013_SPLIT_SIZES", {"Training": 2, "PublicTest": 2, "PrivateTest": 2}
    )
    cache_dir = tmp_path / "cache"
    expected = load_fer2013(csv_path, cache_dir=cache_dir)
    cache_file = _cache_file(cache_dir)
    arrays = _read(cache_file)
    keep = np.array([0, 1, 2, 3, 4])  # one PrivateTest row lost
    shorter = {**arrays, **{n: arrays[n][keep] for n in ("images", "labels", "splits")}}
    np.savez(cache_file, **_with_digest(shorter))
    with caplog.at_level(logging.WARNING, logger="fer.data.datasets"):
        loaded = load_fer2013(csv_path, cache_dir=cache_dir)
    assert len(loaded) == len(expected) == 6
    assert "FER2013 has 6" in caplog.text
    moved = {**arrays, "splits": np.array(["Training"] * 3 + ["PublicTest"] + ["PrivateTest"] * 2)}
    np.savez(cache_file, **_with_digest(moved))
    np.testing.assert_array_equal(
        load_fer2013(csv_path, cache_dir=cache_dir).splits, expected.splits
    )


def test_a_rebuild_replaces_the_cache_whole(
    csv_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """While the CSV is parsed and the new cache written, the old file stays whole at its name
    (a training process reading it meanwhile never meets a missing or half-written cache)."""
    cache_dir = tmp_path / "cache"
    load_fer2013(csv_path, cache_dir=cache_dir)
    cache_file = _cache_file(cache_dir)
    np.savez(cache_file, **TAMPERINGS["written by the old code"](_read(cache_file)))
    old_bytes = cache_file.read_bytes()
    real_savez, written_to = np.savez, []

    def savez_checking_the_old_file(file, *args, **kwargs):
        assert cache_file.read_bytes() == old_bytes
        written_to.append(Path(file))
        real_savez(file, *args, **kwargs)

    monkeypatch.setattr(np, "savez", savez_checking_the_old_file)
    load_fer2013(csv_path, cache_dir=cache_dir)
    assert len(written_to) == 1 and written_to[0].parent == cache_dir
    assert written_to[0] != cache_file and not written_to[0].exists()
    assert int(_read(cache_file)["format_version"]) == datasets.CACHE_FORMAT_VERSION
