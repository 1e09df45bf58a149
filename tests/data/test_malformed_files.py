"""Damaged and hostile dataset files: each is a DataFormatError (a ValueError) naming the file
and, where there is one, the line; nothing else escapes, and a damaged cache is rebuilt."""

import gzip
from pathlib import Path

import numpy as np
import pytest

from fer.data.datasets import DataFormatError, load_fer2013, parse_fer2013_csv
from fer.data.ferplus import read_ferplus_votes
from fer.data.image_folders import read_face_image
from tests.conftest import synthetic_fer2013_csv

FERPLUS_HEADER = (
    "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF"
)


def test_a_pixel_value_too_large_for_any_integer_type_is_named():
    lines = synthetic_fer2013_csv(1).splitlines()
    emotion, pixels, usage = lines[2].split(",")
    lines[2] = ",".join([emotion, " ".join(["1e20"] + pixels.split()[1:]), usage])
    with pytest.raises(DataFormatError, match="line 3: pixel values"):
        parse_fer2013_csv(lines)
    lines[2] = ",".join([emotion, " ".join(["9" * 30] + pixels.split()[1:]), usage])
    with pytest.raises(DataFormatError, match="line 3: pixel values"):
        parse_fer2013_csv(lines)


def test_truncated_and_corrupt_gzip_files_are_named(tmp_path: Path):
    complete = gzip.compress(synthetic_fer2013_csv(2).encode())
    truncated = tmp_path / "truncated.csv.gz"
    truncated.write_bytes(complete[: len(complete) // 2])
    with pytest.raises(DataFormatError, match="truncated.csv.gz.*truncated or corrupt"):
        load_fer2013(truncated, cache_dir=None)
    corrupt = tmp_path / "corrupt.csv.gz"
    corrupt.write_bytes(b"\x1f\x8b" + b"not really gzip" * 10)
    with pytest.raises(DataFormatError, match="corrupt.csv.gz"):
        load_fer2013(corrupt, cache_dir=None)


def test_text_that_is_not_utf8_names_the_file_and_line(tmp_path: Path):
    path = tmp_path / "fer2013.csv"
    valid = synthetic_fer2013_csv(1).encode()
    path.write_bytes(valid + b"0,\xff\xfe broken,Training\n")
    with pytest.raises(DataFormatError, match=r"fer2013.csv line \d+: not UTF-8"):
        load_fer2013(path, cache_dir=None)
    votes = tmp_path / "fer2013new.csv"
    votes.write_bytes(FERPLUS_HEADER.encode() + b"\nTraining,fer0.png,\xff,0,0,0,0,0,0,0,0,0\n")
    with pytest.raises(DataFormatError, match="fer2013new.csv line 2: not UTF-8"):
        read_ferplus_votes(votes)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e39", "-1"])
def test_non_finite_ferplus_votes_are_refused(tmp_path: Path, value: str):
    """1e39 is finite as read but infinite as the float32 it is kept as; it was accepted, and
    its row then dropped without a word as having no majority."""
    path = tmp_path / "fer2013new.csv"
    path.write_text(f"{FERPLUS_HEADER}\nTraining,fer0.png,{value},0,0,0,0,0,0,0,0,0\n")
    with pytest.raises(DataFormatError, match="line 2: vote counts must be finite"):
        read_ferplus_votes(path)


def test_a_damaged_cache_is_rebuilt_instead_of_failing_every_start(tmp_path: Path):
    csv_path = tmp_path / "fer2013.csv"
    csv_path.write_text(synthetic_fer2013_csv(2))
    cache_dir = tmp_path / "cache"
    first = load_fer2013(csv_path, cache_dir=cache_dir)
    (cache_file,) = cache_dir.glob("fer2013-*.npz")
    cache_file.write_bytes(cache_file.read_bytes()[:100])  # a crash mid-write
    second = load_fer2013(csv_path, cache_dir=cache_dir)
    np.testing.assert_array_equal(first.images, second.images)
    np.testing.assert_array_equal(first.labels, second.labels)
    with np.load(cache_file) as rebuilt:  # the cache was written again, whole
        assert rebuilt["images"].shape == first.images.shape


def test_folders_named_like_files_are_named(tmp_path: Path):
    folder = tmp_path / "x.png"
    folder.mkdir()
    with pytest.raises(DataFormatError, match="x.png: is a folder"):
        read_face_image(folder)
    with pytest.raises(DataFormatError, match="is a folder"):
        read_ferplus_votes(folder)


def test_a_huge_picture_is_refused_before_it_is_decoded(tmp_path: Path):
    from PIL import Image

    path = tmp_path / "huge.png"
    # A 20000×20000 PNG of one colour compresses to a few hundred kilobytes.
    Image.new("L", (20_000, 20_000)).save(path, optimize=False, compress_level=9)
    with pytest.raises(DataFormatError, match="huge.png: the picture is larger than"):
        read_face_image(path)
    Image.new("L", (8_000, 6_000)).save(path)  # under Pillow's own limit, over ours
    with pytest.raises(DataFormatError, match=r"huge.png: the picture \(8000×6000\) is larger"):
        read_face_image(path)


def _write_face(path: Path) -> None:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((48, 48), 100, np.uint8))


def test_hidden_folders_and_files_beside_the_label_folders_are_left_out(tmp_path: Path):
    from fer.data.image_folders import load_image_folder

    _write_face(tmp_path / "happy" / "a.png")
    _write_face(tmp_path / ".ipynb_checkpoints" / "a-checkpoint.png")
    _write_face(tmp_path / "__MACOSX" / "happy" / "._a.png")
    (tmp_path / "happy" / "._a.png").write_bytes(b"\x00\x05\x16\x07 AppleDouble")
    dataset = load_image_folder(tmp_path)
    assert len(dataset) == 1 and dataset.class_names[dataset.labels[0]] == "happy"


@pytest.mark.parametrize(
    ("folder", "message"),
    [("bored", "'bored' does not name an emotion"), ("contempt", "'contempt' is not a class")],
)
def test_a_label_folder_outside_the_class_set_is_named(tmp_path: Path, folder: str, message: str):
    from fer.data.image_folders import load_image_folder

    _write_face(tmp_path / "happy" / "a.png")
    _write_face(tmp_path / folder / "a.png")
    with pytest.raises(DataFormatError, match=message) as info:
        load_image_folder(tmp_path)  # FER2013's seven classes: no contempt
    assert str(info.value).startswith(f"{tmp_path / folder}: ")


def test_cr_only_line_endings_are_named_in_a_short_message(tmp_path: Path):
    """With CR-only line endings the whole file is one "line"; the message once quoted all of it
    (1.4 million characters for 200 rows)."""
    path = tmp_path / "fer2013.csv"
    path.write_bytes(synthetic_fer2013_csv(n_per_split=20).replace("\n", "\r").encode())
    with pytest.raises(DataFormatError, match="fer2013.csv: lines end in CR only") as info:
        load_fer2013(path, cache_dir=None)
    assert "not supported" in str(info.value) and len(str(info.value)) < 500
    long_header = "emotion;pixels;Usage;" + "x" * 10_000
    with pytest.raises(DataFormatError, match="header is") as info:
        parse_fer2013_csv([long_header, "0,1,Training"])
    assert len(str(info.value)) < 500 and "10,021 characters" in str(info.value)
    votes = tmp_path / "fer2013new.csv"
    votes.write_text(long_header.replace(";", ",") + "\n")
    with pytest.raises(DataFormatError, match="header is") as info:
        read_ferplus_votes(votes)
    assert len(str(info.value)) < 500


def test_a_byte_order_mark_from_a_spreadsheet_is_not_part_of_the_header(tmp_path: Path):
    """Saved as "CSV UTF-8" by a spreadsheet, both files were refused with a header that read
    as the expected one: 'header is '\\ufeffUsage,Image name,...', expected ['Usage', ...]'."""
    votes = tmp_path / "fer2013new.csv"
    votes.write_text(f"\ufeff{FERPLUS_HEADER}\nTraining,fer0.png,4,6,0,0,0,0,0,0,0,0\n")
    table = read_ferplus_votes(votes)
    assert table.votes[0, :2].tolist() == [4, 6] and table.usage.tolist() == ["Training"]
    faces = tmp_path / "fer2013.csv"
    faces.write_text("\ufeff" + synthetic_fer2013_csv(n_per_split=2))
    assert len(load_fer2013(faces, cache_dir=None)) == 6
    # Only at the very start: elsewhere it is still a character of the row.
    votes.write_text(f"{FERPLUS_HEADER}\n\ufeffTraining,fer0.png,4,6,0,0,0,0,0,0,0,0\n")
    with pytest.raises(DataFormatError, match=r"line 2: Usage '\\ufeffTraining'"):
        read_ferplus_votes(votes)
