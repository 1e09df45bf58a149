"""Session insights on synthetic frame tables: baseline, expressivity, flat affect, moments."""

import numpy as np
import pandas as pd
import pytest

from fer.sessions.insights import InsightsConfig, session_insights


def frames(n: int = 100, fps: float = 10.0, movement: float = 0.0, spike_at: float | None = None):
    t = np.arange(n) / fps
    rng = np.random.default_rng(0)
    au12 = np.clip(0.1 + movement * rng.random(n), 0, 1)
    valence = np.full(n, 0.0) + movement * (rng.random(n) - 0.5)
    label = np.where(t < 5, "neutral", "happy")
    if spike_at is not None:
        spike = np.abs(t - spike_at) < 0.15
        au12[spike], valence[spike] = 0.95, 0.8
    return pd.DataFrame(
        {
            "t_seconds": t, "track_id": 1, "label": label,
            "smoothed_neutral": np.where(label == "neutral", 0.8, 0.2),
            "smoothed_happy": np.where(label == "happy", 0.8, 0.2),
            "valence": valence, "arousal": 0.1, "AU12": au12, "AU4": 0.05,
        }
    )


def test_the_summary_states_what_it_is_and_describes_each_face():
    insights = session_insights(frames(movement=0.3), config=InsightsConfig(baseline_s=2.0))
    assert "not a diagnosis" in insights["about"]
    assert set(insights["explanations"]) >= {"baseline", "expressivity", "flat_affect"}
    (face,) = insights["faces"]
    assert face["baseline"]["source"] == "the first 2 s" and face["baseline"]["n_frames"] == 20
    assert face["time_share"] == pytest.approx({"happy": 0.5, "neutral": 0.5})
    assert face["n_transitions"] == 1 and face["transitions"][0] == {
        "from": "neutral", "to": "happy", "count": 1
    }
    onsets = {episode["emotion"]: episode for episode in face["episodes"]}
    assert onsets["happy"]["onset_s"] == pytest.approx(5.0) and onsets["happy"]["peak"] == 0.8


def test_a_still_face_indicates_flat_affect_and_a_moving_one_does_not():
    still = session_insights(frames(n=700, movement=0.0))["faces"][0]
    moving = session_insights(frames(n=700, movement=0.6))["faces"][0]
    assert still["flat_affect"]["indicated"] is True
    assert moving["flat_affect"]["indicated"] is False
    assert moving["expressivity"]["index"] > still["expressivity"]["index"]


def test_a_face_seen_too_briefly_is_not_assessed_for_flat_affect():
    from fer.reporting.content import flat_affect_text

    brief = session_insights(frames(n=100, movement=0.0))["faces"][0]  # 10 s
    assert brief["flat_affect"]["indicated"] is None
    assert brief["flat_affect"]["not_assessed"] == (
        "the face was seen for 10.0 s; the rule needs at least 60 s"
    )
    assert flat_affect_text(brief["flat_affect"]).startswith("not assessed: the face was seen")
    assert brief["baseline"]["source"] == (
        "the whole time the face was seen (10.0 s, less than the 30 s a baseline takes)"
    )
    assert brief["baseline"]["end_s"] == pytest.approx(10.0)
    assert session_insights(frames(n=100), config=InsightsConfig(flat_affect_min_s=5.0))[
        "faces"][0]["flat_affect"]["indicated"] is True


def test_a_still_image_has_its_peak_and_no_flat_affect_finding():
    image = session_insights(frames(n=1))["faces"][0]
    assert image["duration_s"] == 0.0
    assert image["episodes"] == [
        {"emotion": "neutral", "onset_s": 0.0, "duration_s": 0.0, "peak": 0.8}
    ]
    assert image["flat_affect"]["indicated"] is None


def test_notable_moments_find_the_spike_and_the_marker_beside_it():
    markers = pd.DataFrame({"t_seconds": [6.8, 1.0], "note": ["tearful", "greeting"]})
    insights = session_insights(frames(spike_at=7.0), markers=markers)
    first = insights["faces"][0]["notable_moments"][0]
    assert first["t_s"] == pytest.approx(7.0, abs=0.11)
    assert first["markers_nearby"] == [{"t_s": 6.8, "note": "tearful"}]
    assert first["top_action_units"]["AU12"] == pytest.approx(0.95)


def test_a_marked_baseline_is_used_and_bad_input_is_named():
    face = session_insights(frames(), baseline_segment=(5.0, 6.0))["faces"][0]
    assert face["baseline"]["source"] == "marked by the clinician"
    assert face["baseline"]["n_frames"] == 10
    with pytest.raises(ValueError, match="end after it starts"):
        session_insights(frames(), baseline_segment=(6.0, 5.0))
    with pytest.raises(ValueError, match="track_id"):
        session_insights(frames().drop(columns=["track_id"]))
    with pytest.raises(ValueError, match="baseline_s"):
        InsightsConfig(baseline_s=0)


def test_without_action_units_the_figures_that_need_them_are_none():
    face = session_insights(frames().drop(columns=["AU12", "AU4"]))["faces"][0]
    assert face["expressivity"] is None and face["flat_affect"] is None
    assert face["time_share"]


def test_lighting_counts_the_over_exposed_readings_and_is_none_when_unmeasured():
    from fer.data.lighting import OVEREXPOSED_SHARE

    table = frames(n=10)
    assert session_insights(table)["faces"][0]["lighting"] is None
    table["overexposed"] = pd.array([True] * 3 + [False] * 5 + [None] * 2, dtype="boolean")
    insights = session_insights(table)
    assert insights["faces"][0]["lighting"] == {
        "n_measured": 8, "n_overexposed": 3, "overexposed_share": 0.375,
        "threshold": OVEREXPOSED_SHARE,
    }
    assert "too bright" in insights["explanations"]["lighting"]
    table["overexposed"] = pd.array([None] * 10, dtype="boolean")
    assert session_insights(table)["faces"][0]["lighting"] is None


def test_a_baseline_without_action_units_gives_no_expressivity_rather_than_nan():
    import json

    table = frames(n=100, movement=0.5)
    table.loc[table["t_seconds"] < 3, ["AU12", "AU4"]] = np.nan  # the first seconds: no landmarks
    insights = session_insights(table, config=InsightsConfig(baseline_s=3.0))
    (face,) = insights["faces"]
    assert face["expressivity"] is None and face["flat_affect"] is None
    json.dumps(insights, allow_nan=False)  # what reports and the FHIR bundle need
    table.loc[table["t_seconds"] < 3, "AU4"] = 0.05  # one unit measured at the start
    (face,) = session_insights(table, config=InsightsConfig(baseline_s=3.0))["faces"]
    assert face["expressivity"]["index"] >= 0


def test_the_client_s_face_is_the_one_seen_longest_then_read_most_often():
    from fer.sessions.insights import client_face

    short = {"track_id": 1, "duration_s": 4.0, "n_frames": 40}
    long = {"track_id": 2, "duration_s": 9.0, "n_frames": 9}
    denser = {"track_id": 3, "duration_s": 9.0, "n_frames": 18}
    assert client_face([short, long]) is long
    assert client_face([short, long, denser]) is denser
    assert client_face([]) is None


def test_a_single_picture_is_its_own_baseline_in_one_plain_sentence():
    picture = pd.DataFrame({"t_seconds": [0.0], "track_id": [0], "label": ["happy"],
                            "smoothed_happy": [0.9], "AU12": [0.7]})
    (face,) = session_insights(picture)["faces"]
    baseline = face["baseline"]
    assert baseline["n_frames"] == 1
    assert baseline["source"] == (
        "the one moment the face was seen (a single picture has no first seconds)"
    )
