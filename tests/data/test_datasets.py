import gzip
from pathlib import Path

import numpy as np
import pytest

from fer.data.datasets import (
    FER2013_SPLIT_SIZES,
    DataFormatError,
    file_md5,
    load_fer2013,
    parse_fer2013_csv,
)
from fer.data.ferplus import (
    ferplus_distribution,
    ferplus_majority,
    load_ferplus,
    read_ferplus_votes,
)
from fer.data.image_folders import load_image_folder
from fer.emotions import FER2013, FERPLUS
from tests.conftest import synthetic_fer2013_csv


def test_parse_synthetic_csv(fer2013_csv: Path, tmp_path: Path):
    dataset = load_fer2013(fer2013_csv, cache_dir=tmp_path / "cache")
    assert dataset.images.shape == (12, 48, 48) and dataset.images.dtype == np.uint8
    assert list(dataset.labels[:4]) == [0, 1, 2, 3]
    assert sorted(set(dataset.splits)) == ["PrivateTest", "PublicTest", "Training"]
    assert len(dataset.split("PublicTest")) == 4
    # The first pixel values survive parsing exactly.
    first_row = fer2013_csv.read_text().splitlines()[1].split(",")[1].split()
    assert dataset.images[0].ravel()[:5].tolist() == [int(v) for v in first_row[:5]]


def test_cache_is_keyed_by_checksum_and_reused(fer2013_csv: Path, tmp_path: Path):
    cache = tmp_path / "cache"
    first = load_fer2013(fer2013_csv, cache_dir=cache)
    cached = list(cache.glob("*.npz"))
    assert [path.name for path in cached] == [f"fer2013-{first.checksum}.npz"]
    again = load_fer2013(fer2013_csv, cache_dir=cache)
    np.testing.assert_array_equal(first.images, again.images)


def test_gzip_and_md5_check(fer2013_csv: Path, tmp_path: Path):
    gz = tmp_path / "fer2013.csv.gz"
    gz.write_bytes(gzip.compress(fer2013_csv.read_bytes()))
    assert file_md5(gz) == file_md5(fer2013_csv)
    dataset = load_fer2013(gz, expected_md5=file_md5(fer2013_csv), cache_dir=None)
    assert len(dataset) == 12
    with pytest.raises(DataFormatError, match="MD5"):
        load_fer2013(gz, expected_md5="0" * 32, cache_dir=tmp_path / "c2")
    assert not (tmp_path / "c2").exists()  # nothing cached for a file that failed the check


@pytest.mark.parametrize(
    ("bad_row", "message"),
    [
        ("9,{pixels},Training", "outside 0..6"),
        ("x,{pixels},Training", "not an integer"),
        ("1,{pixels},Validation", "Usage"),
        ("1,1 2 3,Training", "3 pixel values"),
        ("1,{pixels}", "3 comma-separated"),
        ("1,{bigpixels},Training", "0..255"),
        # int() read these as 10 and 3: malformed values were accepted as other values.
        ("1,1_0 {pixels_but_one},Training", "integers in 0..255"),
        ("1,\u0663 {pixels_but_one},Training", "integers in 0..255"),
        ("1,-0 {pixels_but_one},Training", "integers in 0..255"),
    ],
)
def test_malformed_rows_name_the_line(bad_row: str, message: str):
    good = synthetic_fer2013_csv(n_per_split=1).splitlines()
    pixels = " ".join(["7"] * 2304)
    bad = bad_row.format(pixels=pixels, bigpixels=" ".join(["300"] * 2304),
                         pixels_but_one=" ".join(["7"] * 2303))
    lines = [*good[:3], bad, *good[3:]]
    with pytest.raises(DataFormatError, match=f"line 4.*{message}|{message}") as info:
        parse_fer2013_csv(lines)
    assert "line 4" in str(info.value)


def test_wrong_header_and_empty_file():
    with pytest.raises(DataFormatError, match="header"):
        parse_fer2013_csv(["label,pixels,split", "0,1,Training"])
    with pytest.raises(DataFormatError, match="empty"):
        parse_fer2013_csv([])


def test_ferplus_majority_follows_the_reference_protocol():
    votes = np.array(
        [
            # neutral happy surprise sad angry disgust fear contempt unknown NF
            [6, 1, 0, 0, 3, 0, 0, 0, 0, 0],  # single happy vote removed; 6/9 neutral -> neutral
            [4, 4, 0, 0, 2, 0, 0, 0, 0, 0],  # 4/10 is no majority -> dropped
            [0, 0, 0, 0, 0, 0, 0, 0, 2, 8],  # NF majority -> dropped
            [0, 0, 0, 0, 0, 0, 0, 0, 7, 3],  # unknown majority -> dropped
            [0, 0, 0, 0, 0, 0, 0, 6, 4, 0],  # contempt 6/10 -> contempt
            [1, 1, 1, 1, 1, 1, 1, 1, 1, 1],  # all single votes -> nothing left -> dropped
            [5, 0, 5, 0, 0, 0, 0, 0, 0, 0],  # tie at exactly half -> dropped
        ],
        dtype=np.float32,
    )
    assert ferplus_majority(votes).tolist() == [0, -1, -1, -1, 7, -1, -1]
    distribution = ferplus_distribution(votes)
    np.testing.assert_allclose(distribution[0], [0.6, 0.1, 0, 0, 0.3, 0, 0, 0])
    np.testing.assert_allclose(distribution[2], np.zeros(8))
    with pytest.raises(ValueError, match="votes must be"):
        ferplus_majority(votes[:, :8])


def test_ferplus_votes_malformed(tmp_path: Path):
    header = "Usage,Image name," + ",".join(
        ["neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt",
         "unknown", "NF"]
    )
    path = tmp_path / "fer2013new.csv"
    path.write_text(
        f"{header}\nTraining,fer0.png,4,0,0,1,3,2,0,0,0,0\nTraining,fer1.png,a,0,0,0,0,0,0,0,0,0\n"
    )
    with pytest.raises(DataFormatError, match="line 3"):
        read_ferplus_votes(path)
    path.write_text(f"{header}\nTraining,fer0.png,4,0,0\n")
    with pytest.raises(DataFormatError, match="line 2: 5 fields"):
        read_ferplus_votes(path)


def test_image_folder_loader_maps_names_and_rejects_corrupt_files(tmp_path: Path):
    import cv2

    for folder in ("happiness", "Anger"):
        (tmp_path / folder).mkdir()
        cv2.imwrite(str(tmp_path / folder / "a.png"), np.full((64, 64), 100, np.uint8))
    dataset = load_image_folder(tmp_path, FERPLUS)
    assert dataset.images.shape == (2, 48, 48)
    assert [FERPLUS.names[label] for label in dataset.labels] == ["angry", "happy"]
    (tmp_path / "happiness" / "broken.png").write_bytes(b"not an image")
    with pytest.raises(DataFormatError, match="broken.png"):
        load_image_folder(tmp_path, FERPLUS)
    (tmp_path / "happiness" / "broken.png").unlink()
    (tmp_path / "bored").mkdir()
    with pytest.raises(ValueError, match="bored"):
        load_image_folder(tmp_path, FER2013)


@pytest.mark.data
def test_real_fer2013_checksum_and_split_counts(data_dir: Path):
    from fer.config import FER2013_MD5
    from fer.data.datasets import load_dataset

    dataset = load_dataset("fer2013", data_dir)
    assert dataset.checksum == FER2013_MD5
    assert {split: int((dataset.splits == split).sum()) for split in FER2013_SPLIT_SIZES} == (
        FER2013_SPLIT_SIZES
    )


@pytest.mark.data
def test_real_ferplus_protocol(data_dir: Path):
    from fer.data.datasets import load_dataset

    fer2013 = load_dataset("fer2013", data_dir)
    ferplus = load_ferplus(fer2013, data_dir / "fer2013new.csv")
    assert ferplus.class_set is FERPLUS
    assert 30_000 < len(ferplus) < len(fer2013)
    assert (ferplus.labels >= 0).all()
    np.testing.assert_allclose(ferplus.soft_labels.sum(axis=1), 1.0, atol=1e-5)
    # The majority label is the arg-max of the vote distribution.
    assert (ferplus.soft_labels.argmax(axis=1) == ferplus.labels).mean() > 0.99


def test_two_first_loads_at_once_both_get_the_data(fer2013_csv: Path, tmp_path: Path):
    """A shared temporary name for the cache once made one of two first loads fail with
    FileNotFoundError (6 of 10 trials), which read as a missing dataset."""
    import threading

    from fer.data.datasets import load_fer2013

    def load(cache_dir: Path, results: list, errors: list) -> None:
        try:
            results.append(load_fer2013(fer2013_csv, cache_dir=cache_dir))
        except Exception as error:  # collected: a thread's exception would vanish
            errors.append(error)

    for trial in range(5):
        cache_dir, results, errors = tmp_path / f"cache{trial}", [], []
        threads = [
            threading.Thread(target=load, args=(cache_dir, results, errors)) for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == [] and len(results) == 2
        assert [p.suffix for p in cache_dir.iterdir()] == [".npz"]  # no temporary left
        np.testing.assert_array_equal(load_fer2013(fer2013_csv, cache_dir=cache_dir).images,
                                      results[0].images)
