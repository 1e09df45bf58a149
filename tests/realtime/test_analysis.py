"""`fer analyze` end to end: frames.csv and summary.json for a video, a truncated video and an
image without a face; files it cannot analyse are named, not skipped silently; with --record
each source is stored as a session after the consent."""

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from fer.cli import main as fer_main
from fer.realtime.analysis import expand_sources
from tests.conftest import SHARED_VIDEO
from tests.realtime.analysis_fakes import analyse_and_record


def test_sources_are_expanded_and_unsupported_files_named(tmp_path):
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "b.mp4").write_bytes(b"")
    (tmp_path / "clips" / "a.png").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "clips" / "c.jpg").mkdir()  # a folder named like a picture is no picture
    assert [p.name for p in expand_sources([tmp_path / "clips"])] == ["a.png", "b.mp4"]
    with pytest.raises(ValueError, match="notes.txt is neither an image"):
        expand_sources([tmp_path / "notes.txt"])
    with pytest.raises(ValueError, match="does not exist"):
        expand_sources([tmp_path / "missing.mp4"])


def test_a_file_named_twice_is_analysed_and_stored_once(
    fake_pipeline, media, tmp_path, database_location, monkeypatch
):
    """`fer analyze media media/face.png ./media/face.png --record` once stored the one
    picture as three sessions of the person, and wrote its rows three times."""
    from fer.sessions.store import SessionStore

    monkeypatch.chdir(media.parent)
    assert expand_sources(["media", "media/face.png", "./media/face.png", "media/"]) == [
        Path("media/clip.avi"), Path("media/face.png"), Path("media/white.png"),
    ]
    out = tmp_path / "out"
    assert fer_main([
        "analyze", "media", "media/face.png", "./media/face.png", "--out", str(out),
        "--record", "--consented-by", "Dana Client", "--database", str(database_location),
    ]) == 0
    notes = sorted(info.notes for info in SessionStore(database_location).list_sessions())
    assert notes == ["Analysed file: clip.avi", "Analysed file: face.png"]
    table = pd.read_csv(out / "frames.csv")
    assert (table["source"] == "media/face.png").sum() == 2  # its two faces, once


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
    # A still of the clip made too bright, as the robustness suite's over-exposure (x1.8).
    capture = cv2.VideoCapture(str(video))
    ok, still = capture.read()
    capture.release()
    assert ok
    cv2.imwrite(str(clips / "bright.png"), np.clip(still * 1.8, 0, 255).astype(np.uint8))
    out = tmp_path / "out"
    code = fer_main(["analyze", str(clips), "--out", str(out), "--stride", "15"])
    assert code == 1  # one file failed, the others were analysed
    table = pd.read_csv(out / "frames.csv")
    assert list(table.columns[:6]) == [
        "source", "time_s", "track_id", "label", "confidence", "overexposed",
    ]
    assert {"p_happy", "valence", "arousal", "AU12", "AU4", "yaw", "pitch", "roll"} <= set(table)
    assert table["AU12"].between(0, 1).all() and table["valence"].between(-1, 1).all()
    summary = json.loads((out / "summary.json").read_text())
    sources = {source["source"].rsplit("/", 1)[-1]: source for source in summary["sources"]}
    assert set(sources) == {"whole.mp4", "truncated.mp4", "empty.png", "bright.png"}
    bright = sources["bright.png"]
    assert bright["n_face_rows"] == bright["n_face_rows_overexposed"] == 1
    assert sources["whole.mp4"]["n_face_rows_overexposed"] == 0
    assert not table.loc[table["source"].str.endswith("whole.mp4"), "overexposed"].any()
    assert any("could be decoded" in note for note in sources["truncated.mp4"]["notes"])
    assert sources["whole.mp4"]["notes"] == []
    assert sources["whole.mp4"]["insights"]["faces"][0]["most_frequent"]
    assert any("no face was found" in note for note in sources["empty.png"]["notes"])
    assert len(summary["failed"]) == 1 and "broken.jpg" in summary["failed"][0]
    n_whole = sources["whole.mp4"]["n_frames_analysed"]
    assert sources["truncated.mp4"]["n_frames_analysed"] < n_whole


# --- fer analyze --record --------------------------------------------------------------------

def test_record_stores_each_source_as_a_session_after_the_consent(
    fake_pipeline, media, tmp_path, database_location
):
    from fer.accounts.audit import AuditLog
    from fer.sessions.store import SessionStore

    out = tmp_path / "out"
    assert analyse_and_record(media, out, database_location, "--client", "C-17") == 0
    summary = json.loads((out / "summary.json").read_text())
    sources = {Path(source["source"]).name: source for source in summary["sources"]}
    store = SessionStore(database_location)
    consent = store.get_consent(summary["consent_id"])
    assert (consent.given_by, consent.client_code) == ("Dana Client", "C-17")
    assert sources["white.png"]["session_id"] is None
    assert any("not stored" in note for note in sources["white.png"]["notes"])
    for name, kind, n_frames in (("face.png", "image", 1), ("clip.avi", "video", 6)):
        info = store.get_session(sources[name]["session_id"])
        assert (info.source, info.consent_id, info.client_code) == (kind, consent.id, "C-17")
        assert info.ended_at is not None and info.started_at >= consent.given_at
        assert info.model.startswith("fakenet v3") and info.notes == f"Analysed file: {name}"
        frames = store.load_frames(info.id, include_extras=True)
        assert len(frames) == 2 * n_frames
        first = frames[frames["track_id"] == 0].iloc[0]
        assert (first["valence"], first["AU12"], first["yaw"]) == (0.5, 0.75, 5.0)
        assert first["asym_AU12"] == 0.125 and first["landmarks"].shape == (478, 2)
        haar = frames[frames["track_id"] == 1].iloc[0]
        assert haar["arousal"] == 0.25 and pd.isna(haar["AU12"]) and pd.isna(haar["yaw"])
    assert [info.id for info in store.list_sessions_of_client("C-17")] == sorted(
        source["session_id"] for source in sources.values() if source["session_id"]
    )
    actions = AuditLog(database_location).entries()["action"].tolist()
    assert sorted(actions) == ["record_consent", "record_session", "record_session"]
    # The name is in the consent record only: not in frames.csv, not in summary.json.
    for written in ("frames.csv", "summary.json"):
        assert "Dana" not in (out / written).read_text()
    assert str(database_location) not in (out / "summary.json").read_text()


def test_without_record_nothing_is_stored_and_summary_has_no_session(
    fake_pipeline, media, tmp_path
):
    database = tmp_path / "never.db"
    assert fer_main(["analyze", str(media / "face.png"), "--out", str(tmp_path / "o")]) == 0
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["sources"][0]["session_id"] is None and "consent_id" not in summary
    assert not database.exists()


@pytest.mark.parametrize(
    "options",
    [
        ["--record"],
        ["--consented-by", "Dana"],
        ["--client", "C-1"],
        ["--record", "--consented-by", "   "],
        ["--record", "--consented-by", "Dana", "--owner", "nobody"],
    ],
)
def test_record_options_are_checked_before_anything_is_stored(
    fake_pipeline, media, tmp_path, options, capsys
):
    database = tmp_path / "sessions.db"
    code = fer_main([
        "analyze", str(media), "--out", str(tmp_path / "o"), "--database", str(database),
        *options,
    ])
    assert code == 2 and "error" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    if database.exists():
        from fer.sessions.store import SessionStore

        store = SessionStore(database)
        assert store.list_sessions() == []
        with pytest.raises(ValueError):
            store.get_consent(1)


def test_a_run_whose_every_input_fails_stores_nothing_and_writes_nothing(
    fake_pipeline, tmp_path, capsys
):
    """Bad input changes no stored data: no consent with the person's name, and the outputs
    of an earlier run in --out stay as they were."""
    from fer.sessions.store import SessionStore

    (tmp_path / "empty.mp4").write_bytes(b"")
    out, database = tmp_path / "out", tmp_path / "sessions.db"
    out.mkdir()
    (out / "summary.json").write_text("an earlier run's")
    code = fer_main(["analyze", str(tmp_path / "empty.mp4"), "--out", str(out), "--record",
                     "--consented-by", "Dana Client", "--database", str(database),
                     "--overwrite"])
    assert code == 2 and "empty.mp4" in capsys.readouterr().err
    assert (out / "summary.json").read_text() == "an earlier run's"
    assert not (out / "frames.csv").exists()
    with pytest.raises(ValueError):
        SessionStore(database).get_consent(1)


def test_an_out_path_that_is_a_file_stops_the_run_before_anything_is_stored(
    fake_pipeline, media, tmp_path, capsys
):
    from fer.sessions.store import SessionStore

    (tmp_path / "outfile").write_text("not a folder")
    database = tmp_path / "sessions.db"
    assert analyse_and_record(media, tmp_path / "outfile", database) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    if database.exists():
        assert SessionStore(database).list_sessions() == []


def test_record_gives_the_sessions_to_the_named_clinician(
    fake_pipeline, media, tmp_path, cheap_password_hashes
):
    from fer.accounts import AccountStore
    from fer.sessions.store import SessionStore

    database = tmp_path / "sessions.db"
    accounts = AccountStore(database)
    ana = accounts.add_user("ana", "clinician", "correct horse battery")
    accounts.add_user("rita", "reviewer", "correct horse battery")
    assert analyse_and_record(media, tmp_path / "o", database, "--owner", "rita") == 2
    assert analyse_and_record(media, tmp_path / "o", database, "--owner", "ana") == 0
    sessions = SessionStore(database).list_sessions(viewer=ana)
    assert len(sessions) == 2 and {info.owner_id for info in sessions} == {ana.id}


@pytest.mark.data
def test_record_stores_the_real_pipeline_s_signals(video_data_dir, tmp_path, monkeypatch):
    from fer.sessions.store import SessionStore

    monkeypatch.setenv("FER_DATA_DIR", str(video_data_dir))
    database, out = tmp_path / "sessions.db", tmp_path / "out"
    code = fer_main([
        "analyze", str(video_data_dir / SHARED_VIDEO), "--out", str(out), "--stride", "30",
        "--record", "--consented-by", "Dana Client", "--database", str(database),
    ])
    assert code == 0
    (source,) = json.loads((out / "summary.json").read_text())["sources"]
    store = SessionStore(database)
    frames = store.load_frames(source["session_id"])
    assert store.get_session(source["session_id"]).source == "video"
    table = pd.read_csv(out / "frames.csv")
    assert len(frames) == len(table) > 0
    np.testing.assert_allclose(frames["AU12"], table["AU12"], atol=1e-6)
    np.testing.assert_allclose(frames["valence"], table["valence"], atol=1e-6)
    np.testing.assert_allclose(frames["yaw"], table["yaw"], atol=1e-6)
    # The record keeps how bright each face was, and its flag agrees with the analysis's.
    assert frames["clipped_share"].between(0, 1).all()
    assert frames["overexposed"].tolist() == table["overexposed"].tolist()
