"""Property tests of the dataset parsers: whatever text a file holds, the answer is a valid
dataset or a ``DataFormatError`` naming the problem, never another exception."""

from __future__ import annotations

import gzip
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fer.data.datasets import (
    DataFormatError,
    load_fer2013,
    parse_fer2013_csv,
)
from fer.data.ferplus import read_ferplus_votes
from tests.conftest import synthetic_fer2013_csv

QUICK = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
VALID_FER2013 = synthetic_fer2013_csv(n_per_split=1)
VALID_FERPLUS = (
    "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF\n"
    "Training,fer0000000.png,4,0,0,1,3,2,0,0,0,0\n"
    "PublicTest,,0,0,0,0,0,0,0,0,0,10\n"
)
# Characters that break CSV structure or number parsing.
NASTY = st.sampled_from(
    list(",;\n\r\t \"'-+.e0123456789x\x00\x0b\u00e9\u0663\u2028\ufeff") + ["nan", "inf", "1e999"]
)


@st.composite
def mutated(draw, text: str) -> str:
    """``text`` with a few characters replaced, inserted or deleted, or cut short."""
    characters = list(text)
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, max(len(characters) - 1, 0)))
        kind = draw(st.sampled_from(["replace", "insert", "delete", "truncate"]))
        if kind == "truncate":
            characters = characters[:position]
        elif kind == "delete" and characters:
            del characters[position]
        elif kind == "insert":
            characters.insert(position, draw(NASTY))
        elif characters:
            characters[position] = draw(NASTY)
    return "".join(characters)


def check_fer2013(lines) -> None:
    try:
        images, labels, splits = parse_fer2013_csv(lines)
    except DataFormatError as error:
        assert "fer2013.csv" in str(error)
        return
    assert images.dtype == np.uint8 and images.shape[1:] == (48, 48)
    assert len(images) == len(labels) == len(splits)
    assert labels.min() >= 0 and labels.max() <= 6


@QUICK
@given(st.text())
def test_any_text_parses_or_raises_a_data_format_error(text):
    check_fer2013(text.splitlines(keepends=True))


@QUICK
@given(mutated(VALID_FER2013))
def test_a_damaged_fer2013_csv_parses_or_raises_a_data_format_error(text):
    check_fer2013(text.splitlines(keepends=True))


@QUICK
@given(st.one_of(st.binary(max_size=300), mutated(VALID_FER2013).map(str.encode)))
def test_any_file_content_loads_or_raises_a_data_format_error(content):
    for name, data in (("fer2013.csv", content), ("fer2013.csv.gz", gzip.compress(content)),
                       ("broken.csv.gz", gzip.compress(content)[: len(content) // 2 + 5])):
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / name
            path.write_bytes(data)
            try:
                dataset = load_fer2013(path, cache_dir=None)
            except DataFormatError:
                continue
            assert dataset.images.shape[1:] == (48, 48)


@QUICK
@given(st.one_of(mutated(VALID_FERPLUS).map(str.encode), st.binary(max_size=200)))
def test_a_damaged_ferplus_file_reads_or_raises_a_data_format_error(content):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fer2013new.csv"
        path.write_bytes(content)
        try:
            votes = read_ferplus_votes(path)
        except DataFormatError as error:
            assert "fer2013new.csv" in str(error)
            return
    assert votes.votes.shape[1] == 10
    assert np.isfinite(votes.votes).all() and (votes.votes >= 0).all()
    assert len(votes.votes) == len(votes.has_image) == len(votes.usage)
