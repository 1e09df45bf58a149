"""`fer analyze` end to end: frames.csv and summary.json for a video, a truncated video and an
image without a face; files it cannot analyse are named, not skipped silently."""

import json
import shutil

import cv2
import numpy as np
import pandas as pd
import pytest

from fer.cli import main as fer_main
from fer.realtime.analysis import expand_sources
from tests.conftest import SHARED_VIDEO


def test_sources_are_expanded_and_unsupported_files_named(tmp_path):
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "b.mp4").write_bytes(b"")
    (tmp_path / "clips" / "a.png").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("hello")
    assert [p.name for p in expand_sources([tmp_path / "clips"])] == ["a.png", "b.mp4"]
    with pytest.raises(ValueError, match="notes.txt is neither an image"):
        expand_sources([tmp_path / "notes.txt"])
    with pytest.raises(ValueError, match="does not exist"):
        expand_sources([tmp_path / "missing.mp4"])


@pytest.mark.data
def test_analyze_writes_frames_and_insights_and_reports_a_truncated_video(
    video_data_dir, tmp_path, monkeypatch
):
    monkeypatch.setenv("FER_DATA_DIR", str(video_data_dir))
    video = video_data_dir / SHARED_VIDEO
    clips = tmp_path / "clips"
    clips.mkdir()
    shutil.copy(video, clips / "whole.mp4")
    (clips / "truncated.mp4").write_bytes(video.read_bytes()[: video.stat().st_size // 2])
    cv2.imwrite(str(clips / "empty.png"), np.full((120, 160, 3), 200, np.uint8))
    (clips / "broken.jpg").write_bytes(b"not a picture")
    out = tmp_path / "out"
    code = fer_main(["analyze", str(clips), "--out", str(out), "--stride", "15"])
    assert code == 1  # one file failed, the others were analysed
    table = pd.read_csv(out / "frames.csv")
    assert list(table.columns[:5]) == ["source", "time_s", "track_id", "label", "confidence"]
    assert {"p_happy", "valence", "arousal", "AU12", "AU4", "yaw", "pitch", "roll"} <= set(table)
    assert table["AU12"].between(0, 1).all() and table["valence"].between(-1, 1).all()
    summary = json.loads((out / "summary.json").read_text())
    sources = {source["source"].rsplit("/", 1)[-1]: source for source in summary["sources"]}
    assert set(sources) == {"whole.mp4", "truncated.mp4", "empty.png"}
    assert any("could be decoded" in note for note in sources["truncated.mp4"]["notes"])
    assert sources["whole.mp4"]["notes"] == []
    assert sources["whole.mp4"]["insights"]["faces"][0]["most_frequent"]
    assert any("no face was found" in note for note in sources["empty.png"]["notes"])
    assert len(summary["failed"]) == 1 and "broken.jpg" in summary["failed"][0]
    n_whole = sources["whole.mp4"]["n_frames_analysed"]
    assert sources["truncated.mp4"]["n_frames_analysed"] < n_whole
