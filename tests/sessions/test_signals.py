"""The per-face signals (action units, asymmetry, valence/arousal, head pose) are recorded,
loaded as one column each, exported, and validated like the rest of a frame."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pandas as pd
import pytest

from fer.sessions import schema
from fer.sessions.recorder import SessionRecorder
from fer.sessions.records import FrameRecord
from tests.sessions.helpers import SIGNALS, count, face_result, record


def test_the_store_names_the_signals_as_the_pipeline_makes_them():
    from fer.realtime import signals

    assert schema.ACTION_UNITS == signals.ACTION_UNITS
    assert schema.TWO_SIDED_ACTION_UNITS == signals.TWO_SIDED_AUS
    assert schema.HEAD_POSE_AXES == signals.HEAD_POSE_AXES


def test_a_face_result_s_signals_become_part_of_its_record():
    result = face_result(signals=True)
    stored = FrameRecord.from_result(0.5, result)
    assert (stored.valence, stored.arousal) == (0.5, -0.25)
    assert stored.action_units == SIGNALS["action_units"]
    assert stored.au_asymmetry == SIGNALS["au_asymmetry"]
    assert stored.head_pose == SIGNALS["head_pose"]


def test_signals_round_trip_with_one_column_each(store, session_id):
    results = [face_result(0, signals=True), face_result(1, landmarks=False, signals=True),
               face_result(2)]
    store.add_frames(session_id, [FrameRecord.from_result(1.0, r) for r in results])
    frame = store.load_frames(session_id)
    units = [c for c in frame.columns if c.startswith("AU")]
    assert units == list(schema.ACTION_UNITS)
    asymmetry = [f"asym_{au}" for au in schema.TWO_SIDED_ACTION_UNITS]
    assert [c for c in frame.columns if c.startswith("asym_")] == asymmetry
    assert frame["valence"].tolist()[:2] == [0.5, 0.5] and math.isnan(frame["valence"][2])
    assert frame["arousal"].tolist()[:2] == [-0.25, -0.25]
    assert frame.loc[0, ["AU1", "AU4", "AU12", "AU43"]].tolist() == [0.125, 0.0, 0.75, 0.5]
    assert math.isnan(frame.loc[0, "AU26"])  # not in this face's result
    assert frame.loc[0, ["yaw", "pitch", "roll"]].tolist() == [12.5, -3.0, 0.5]
    assert frame.loc[0, ["asym_AU4", "asym_AU12"]].tolist() == [-0.0625, 0.25]
    # Without landmarks: valence and arousal, but no action units, asymmetry or pose.
    assert frame.loc[1, [*units, "yaw", "pitch", "roll", *asymmetry]].isna().all()
    assert frame.loc[2, ["valence", "arousal", *units, "yaw"]].isna().all()


def test_an_action_unit_the_store_does_not_list_still_gets_its_column(store, session_id):
    store.add_frames(session_id, [record(action_units={"AU12": 0.5, "AU28": 0.25})])
    frame = store.load_frames(session_id)
    assert frame["AU28"].tolist() == [0.25]
    assert [c for c in frame.columns if c.startswith("AU")][-1] == "AU28"


def test_an_empty_session_still_has_the_signal_columns(store, session_id):
    frame = store.load_frames(session_id)
    assert frame.empty
    assert {"valence", "arousal", "AU1", "AU43", "yaw", "pitch", "roll", "asym_AU12"} <= set(
        frame.columns
    )


def test_the_recorder_stores_the_signals(store, session_id):
    recorder = SessionRecorder(store, session_id)
    recorder.add(0.25, [face_result(signals=True)])
    recorder.close()
    frame = store.load_frames(session_id)
    assert frame["AU12"].tolist() == [0.75] and frame["roll"].tolist() == [0.5]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"valence": 1.5}, "valence must lie in"),
        ({"arousal": float("nan")}, "arousal must be finite"),
        ({"valence": "high"}, "valence must be a number"),
        ({"action_units": {"AU12": 1.5}}, "action_units must lie in"),
        ({"action_units": {"AU12": -0.5}}, "action_units must lie in"),
        ({"action_units": [0.5]}, "action_units must be a dict"),
        ({"action_units": {12: 0.5}}, "action_units must be a dict"),
        ({"au_asymmetry": {"AU12": float("inf")}}, "au_asymmetry 'AU12' must be finite"),
        ({"au_asymmetry": {"AU12": -2.0}}, "au_asymmetry must lie in"),
        # A key named like another column ("label") once broke the session's insights.
        ({"action_units": {"label": 0.5}}, r"action_units must be keyed by FACS codes"),
        ({"au_asymmetry": {"AU0": 0.1}}, r"au_asymmetry must be keyed by FACS codes"),
        ({"head_pose": {"yaw": 1.0}}, "head_pose must be a dict of yaw, pitch, roll"),
        ({"head_pose": {"yaw": 1.0, "pitch": 2.0, "roll": 1e9}}, "head_pose must lie in"),
    ],
)
def test_malformed_signals_are_refused_and_nothing_is_written(store, session_id, changes, message):
    with pytest.raises(ValueError, match=message):
        store.add_frames(session_id, [record(0.1), record(0.2, **changes)])
    assert count(store, "frames") == 0


def test_exports_carry_the_signals(store, session_id):
    store.add_frames(
        session_id,
        [FrameRecord.from_result(0.5, face_result(signals=True)),
         FrameRecord.from_result(0.75, face_result(landmarks=False))],
    )
    table = pd.read_csv(io.StringIO(store.export_csv(session_id)))
    assert table["valence"].tolist()[0] == 0.5 and pd.isna(table["valence"][1])
    assert table["AU12"].tolist()[0] == 0.75 and table["yaw"].tolist()[0] == 12.5
    assert table["asym_AU12"].tolist()[0] == 0.25
    document = json.loads(store.export_json(session_id))
    first, second = document["frames"]
    assert (first["valence"], first["arousal"]) == (0.5, -0.25)
    assert first["action_units"] == SIGNALS["action_units"]
    assert first["au_asymmetry"] == SIGNALS["au_asymmetry"]
    assert first["head_pose"] == SIGNALS["head_pose"]
    for key in ("valence", "arousal", "action_units", "au_asymmetry", "head_pose"):
        assert second[key] is None


def test_signal_values_are_kept_exactly_as_numbers(store, session_id):
    value = float(np.float32(0.1))
    store.add_frames(session_id, [record(action_units={"AU4": value}, valence=-1.0)])
    frame = store.load_frames(session_id)
    assert frame["AU4"].tolist() == [value] and frame["valence"].tolist() == [-1.0]
