"""fer.sessions.replay on a hand-made frame table (times in seconds chosen so every result can be
worked
out on paper)."""

from __future__ import annotations

import pandas as pd
import pytest

from fer.sessions import replay


@pytest.fixture
def frames() -> pd.DataFrame:
    """Track 1: happy 0–1 s, sad 1–2.5 s, away 1.5→5 s, sad at 5, happy at 5.5 (frames every
    0.5 s). Track 2: neutral at 0 and 1 s."""
    return pd.DataFrame(
        {
            "t_seconds": [0.0, 0.5, 1.0, 1.5, 5.0, 5.5, 0.0, 1.0],
            "track_id": [1, 1, 1, 1, 1, 1, 2, 2],
            "label": ["happy", "happy", "sad", "sad", "sad", "happy", "neutral", "neutral"],
            "smoothed_happy": [0.8, 0.7, 0.2, 0.1, 0.1, 0.9, 0.1, 0.2],
            "smoothed_sad": [0.2, 0.3, 0.8, 0.9, 0.9, 0.1, 0.1, 0.1],
            "smoothed_neutral": [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.8, 0.7],
            "prob_happy": [1.0, 0, 0, 0, 0, 1, 0, 0],
            "prob_sad": [0.0, 1, 1, 1, 1, 0, 0, 0],
            "prob_neutral": [0.0, 0, 0, 0, 0, 0, 1, 1],
        }
    )


def test_class_columns(frames):
    assert replay.class_columns(frames) == ["happy", "sad", "neutral"]
    assert replay.class_columns(frames, "prob_") == ["happy", "sad", "neutral"]


def test_frame_durations_cap_gaps_and_use_median_for_last(frames):
    durations = replay.frame_durations(frames, max_gap_s=1.0)
    # track 1: 0.5, 0.5, 0.5, min(3.5, 1.0), 0.5, last = median(0.5, 0.5, 0.5, 1.0, 0.5) = 0.5
    # track 2: 1.0, last = median(1.0) = 1.0
    assert durations.tolist() == [0.5, 0.5, 0.5, 1.0, 0.5, 0.5, 1.0, 1.0]
    shuffled = frames.sample(frac=1, random_state=0)
    assert replay.frame_durations(shuffled).loc[frames.index].tolist() == durations.tolist()


def test_predominant_per_interval(frames):
    table = replay.predominant_per_interval(frames, 2.0)
    assert table[["track_id", "interval", "n_frames"]].values.tolist() == [
        [1, 0, 4],
        [1, 2, 2],
        [2, 0, 2],
    ]
    first = table.iloc[0]
    # mean happy (0.8+0.7+0.2+0.1)/4 = 0.45, mean sad 0.55
    assert first["emotion"] == "sad" and first["probability"] == pytest.approx(0.55)
    assert first["mean_happy"] == pytest.approx(0.45)
    assert (first["start_s"], first["end_s"]) == (0.0, 2.0)
    assert table.iloc[1]["start_s"] == 4.0
    assert table.iloc[2]["emotion"] == "neutral"
    raw = replay.predominant_per_interval(frames, 1.0, prefix="prob_")
    # interval 5 s holds one sad and one happy frame: a tie goes to the earlier column (happy)
    assert raw[raw["track_id"] == 1]["emotion"].tolist() == ["happy", "sad", "happy"]
    with pytest.raises(ValueError):
        replay.predominant_per_interval(frames, 0)


def test_time_share(frames):
    shares = replay.time_share(frames).set_index(["track_id", "emotion"])
    # track 1: happy 0.5 + 0.5 + 0.5 = 1.5 s; sad 0.5 + 1.0 + 0.5 = 2.0 s
    assert shares.loc[(1, "sad"), "seconds"] == pytest.approx(2.0)
    assert shares.loc[(1, "happy"), "seconds"] == pytest.approx(1.5)
    assert shares.loc[(1, "sad"), "share"] == pytest.approx(2.0 / 3.5)
    assert shares.loc[(2, "neutral"), "share"] == pytest.approx(1.0)
    assert shares.loc[(1, "happy"), "n_frames"] == 3


def test_single_frame_track_counts_frames():
    lone = pd.DataFrame({"t_seconds": [3.0], "track_id": [7], "label": ["fear"]})
    shares = replay.time_share(lone)
    assert shares["seconds"].tolist() == [0.0] and shares["share"].tolist() == [1.0]


def test_episodes_split_on_change_and_on_gaps(frames):
    runs = replay.episodes(frames)
    track = runs[runs["track_id"] == 1]
    assert track["emotion"].tolist() == ["happy", "sad", "sad", "happy"]
    assert track["start_s"].tolist() == [0.0, 1.0, 5.0, 5.5]
    assert track["end_s"].tolist() == [1.0, 2.5, 5.5, 6.0]
    assert track["duration_s"].tolist() == [1.0, 1.5, 0.5, 0.5]
    assert track["n_frames"].tolist() == [2, 2, 1, 1]
    # with a generous gap allowance the two sad runs merge
    merged = replay.episodes(frames, max_gap_s=5.0)
    assert merged[merged["track_id"] == 1]["emotion"].tolist() == ["happy", "sad", "happy"]


def test_transitions_ignore_returns_after_absence(frames):
    table = replay.transitions(frames)
    assert table[["track_id", "from_emotion", "to_emotion", "count"]].values.tolist() == [
        [1, "happy", "sad", 1],
        [1, "sad", "happy", 1],
    ]


def test_longest_episodes_and_summary(frames):
    longest = replay.longest_episodes(frames, n=2)
    assert longest[["track_id", "emotion", "duration_s"]].values.tolist() == [
        [1, "sad", 1.5],
        [1, "happy", 1.0],
        [2, "neutral", 2.0],
    ]
    summary = replay.track_summary(frames).set_index("track_id")
    assert summary.loc[1, "predominant"] == "sad"
    assert summary.loc[1, "n_transitions"] == 2
    assert summary.loc[1, "n_frames"] == 6
    assert (summary.loc[1, "start_s"], summary.loc[1, "end_s"]) == (0.0, 6.0)
    assert summary.loc[2, "n_transitions"] == 0
    assert summary.loc[2, "longest_s"] == 2.0


def test_labels_fall_back_to_argmax(frames):
    unlabelled = frames.drop(columns=["label"])
    assert replay.frame_labels(unlabelled).tolist()[:4] == ["happy", "happy", "sad", "sad"]


def test_frame_at(frames):
    assert replay.frame_at(frames, 5.2, track_id=1)["t_seconds"] == 5.0
    assert replay.frame_at(frames, 0.9, track_id=2)["t_seconds"] == 1.0
    with pytest.raises(ValueError):
        replay.frame_at(frames, 0.0, track_id=9)


def test_empty_frames_give_empty_tables():
    empty = pd.DataFrame(columns=["t_seconds", "track_id", "label", "smoothed_happy"])
    assert replay.time_share(empty).empty
    assert replay.episodes(empty).empty
    assert replay.transitions(empty).empty
    assert replay.track_summary(empty).empty
    assert replay.predominant_per_interval(empty, 5).empty


def test_missing_columns_are_named():
    with pytest.raises(ValueError, match="track_id"):
        replay.frame_durations(pd.DataFrame({"t_seconds": [0.0]}))


def test_uncertain_stretches_are_no_change_of_expression():
    labels = ["happy"] * 4 + ["uncertain"] * 2 + ["happy"] * 4 + ["uncertain"] + ["sad"] * 3
    frames = pd.DataFrame({"t_seconds": [step / 2 for step in range(len(labels))],
                           "track_id": 0, "label": labels})
    table = replay.transitions(frames)
    assert table[["from_emotion", "to_emotion", "count"]].values.tolist() == [["happy", "sad", 1]]
    assert replay.track_summary(frames)["n_transitions"].tolist() == [1]
    only_uncertain = frames.assign(label="uncertain")
    assert replay.transitions(only_uncertain).empty
