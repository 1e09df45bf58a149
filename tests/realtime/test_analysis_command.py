"""What `fer analyze` records of its own command line: never the consenting person's name or a
database password, however the options are spelled."""

import json

import pytest

from fer.cli import main as fer_main
from fer.cli.analyze import withheld_command


@pytest.mark.parametrize(
    "prefix", [["--consented", "Dana Secretname"], ["--datab=postgresql://fer:pw@db/fer"]]
)
def test_prefixes_of_options_are_refused(tmp_path, prefix, capsys):
    with pytest.raises(SystemExit) as exit_info:
        fer_main(["analyze", str(tmp_path / "face.png"), "--out", str(tmp_path / "o"),
                  "--record", *prefix])
    assert exit_info.value.code == 2
    assert "unrecognized arguments" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "words",
    [
        ["--consented-by", "Dana Secretname", "--database", "postgresql://fer:pw@db/fer"],
        ["--consented-by=Dana Secretname", "--database=postgresql://fer:pw@db/fer"],
    ],
)
def test_both_spellings_of_a_withheld_value_are_masked(words):
    import shlex

    masked = withheld_command(shlex.join(["fer", "analyze", "a.mp4", *words]))
    assert "Secretname" not in masked and "pw" not in masked
    assert masked.count("...") == 2


def test_the_name_and_the_database_never_reach_summary_json(
    fake_pipeline, media, tmp_path
):
    database = tmp_path / "secretfolder" / "sessions.db"
    out = tmp_path / "out"
    assert fer_main([
        "analyze", str(media / "face.png"), "--out", str(out), "--record",
        "--consented-by=Dana Secretname", f"--database={database}",
    ]) == 0
    summary = (out / "summary.json").read_text()
    assert "Secretname" not in summary and "secretfolder" not in summary
    assert "--consented-by=..." in json.loads(summary)["command"]


@pytest.mark.parametrize(
    "landmarker, reason",
    [
        ("missing.task", "does not exist"),
        ("folder", "is not a file"),
        ("garbage.task", "is not a MediaPipe face landmarker bundle"),
    ],
)
def test_a_landmarker_that_is_no_bundle_is_an_error(
    fake_pipeline, media, tmp_path, landmarker, reason, capsys
):
    (tmp_path / "folder").mkdir()
    (tmp_path / "garbage.task").write_bytes(b"not a bundle")
    out = tmp_path / "out"
    code = fer_main(["analyze", str(media / "face.png"), "--out", str(out),
                     "--landmarker", str(tmp_path / landmarker)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error:") and reason in err
    assert landmarker in err and "Traceback" not in err and not out.exists()


@pytest.mark.data
def test_a_real_landmarker_passes_the_check(video_data_dir):
    from fer.cli.landmarker_option import check_landmarker

    check_landmarker(video_data_dir / "face_landmarker.task")
