import os
import platform

import pytest

from fer import config
from fer.config import machine_description


def test_machine_description_names_the_architecture_and_cores():
    description = machine_description()
    assert description.startswith(platform.machine())
    assert description.endswith(f"{os.cpu_count()} cores")


def test_landmarker_bundle_comes_from_fer_data_dir_first(monkeypatch, tmp_path):
    user_data, clone_data = tmp_path / "user", tmp_path / "clone"
    user_data.mkdir()
    clone_data.mkdir()
    monkeypatch.setattr(config, "LOCAL_DATA_DIR", clone_data)
    monkeypatch.setenv(config.DATA_DIR_ENV, str(user_data))
    assert config.landmarker_search_dirs() == (user_data.resolve(), clone_data)
    assert config.find_landmarker_bundle() is None

    (clone_data / config.FACE_LANDMARKER_NAME).write_bytes(b"clone")
    assert config.find_landmarker_bundle() == clone_data / config.FACE_LANDMARKER_NAME
    (user_data / config.FACE_LANDMARKER_NAME).write_bytes(b"user")
    assert config.find_landmarker_bundle() == user_data.resolve() / config.FACE_LANDMARKER_NAME


def test_landmarker_bundle_without_fer_data_dir_looks_in_the_clone(monkeypatch, tmp_path):
    monkeypatch.setattr(config, "LOCAL_DATA_DIR", tmp_path)
    monkeypatch.delenv(config.DATA_DIR_ENV, raising=False)
    assert config.landmarker_search_dirs() == (tmp_path,)
    assert config.find_landmarker_bundle() is None
    (tmp_path / config.FACE_LANDMARKER_NAME).write_bytes(b"clone")
    assert config.find_landmarker_bundle() == tmp_path / config.FACE_LANDMARKER_NAME
    # A FER_DATA_DIR that names no folder is skipped, not an error, for this optional asset.
    monkeypatch.setenv(config.DATA_DIR_ENV, str(tmp_path / "missing"))
    assert config.landmarker_search_dirs() == (tmp_path,)


@pytest.mark.parametrize("text", ["1_0", "+30", "²", "٣٠", "3 0", "0", "-3", "thirty"])
def test_a_retention_period_other_than_ascii_digits_is_refused(text):
    with pytest.raises(ValueError, match="FER_RETENTION_DAYS"):
        config.retention_days_from_env({config.RETENTION_DAYS_ENV: text})


def test_the_retention_period_is_read_as_days():
    assert config.retention_days_from_env({config.RETENTION_DAYS_ENV: " 30 "}) == 30
    assert config.retention_days_from_env({config.RETENTION_DAYS_ENV: ""}) is None
    assert config.retention_days_from_env({}) is None


MINUTES = "FER_SOME_MINUTES"


@pytest.mark.parametrize(
    "text",
    ["inf", "Infinity", "nan", "1e400", "1e2", "1_5", "+15", "-5", "١٥", "٣٠", "²", "1 5",
     "15.", ".5", "1.2.3", "0x10", "fifteen"],
)
def test_minutes_other_than_ascii_digits_are_refused(text):
    with pytest.raises(ValueError, match=f"{MINUTES} must be a number of minutes between 5 and"):
        config.minutes_from_env(MINUTES, 120.0, 5.0, 1440.0, environ={MINUTES: text})


def test_minutes_are_read_within_their_bounds():
    def read(text, **kwargs):
        return config.minutes_from_env(MINUTES, 15.0, 0.0, 480.0, environ={MINUTES: text},
                                       **kwargs)

    assert read(" 30 ") == 30.0 and read("0.5") == 0.5 and read("480") == 480.0
    assert read("") == 15.0 and config.minutes_from_env(MINUTES, 15.0, 0, 1, environ={}) == 15.0
    assert read("0") == 0.0  # the low bound counts unless low_inclusive=False
    for text in ("0", "0.0", "481", "99999999999999999999"):
        with pytest.raises(ValueError, match="more than 0 and at most 480"):
            read(text, low_inclusive=False)
