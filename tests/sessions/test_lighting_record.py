"""How bright each recorded face was (``clipped_share``) is stored with the frame, loaded with
today's over-exposure flag beside it, exported, and validated like the rest of a frame."""

from __future__ import annotations

import io
import json
from dataclasses import replace

import pandas as pd
import pytest
import sqlalchemy

from fer.data.lighting import OVEREXPOSED_SHARE
from fer.sessions.records import FrameRecord
from tests.sessions.helpers import count, face_result, record


def bright(share: float | None):
    result = face_result()
    result.clipped_share = share
    return result


def test_a_face_result_s_clipped_share_becomes_part_of_its_record():
    assert FrameRecord.from_result(0.5, bright(0.25)).clipped_share == 0.25
    assert FrameRecord.from_result(0.5, face_result()).clipped_share is None  # not measured


def test_the_share_round_trips_with_the_flag_beside_it(store, session_id):
    shares = [0.0, OVEREXPOSED_SHARE, 0.75, None]
    records = [FrameRecord.from_result(0.1 * (i + 1), bright(s)) for i, s in enumerate(shares)]
    store.add_frames(session_id, records)
    frame = store.load_frames(session_id)
    assert frame["clipped_share"].tolist()[:3] == [0.0, OVEREXPOSED_SHARE, 0.75]
    assert pd.isna(frame["clipped_share"][3])
    assert frame["overexposed"].tolist()[:3] == [False, True, True]
    assert frame["overexposed"][3] is pd.NA  # unknown, not "fine"


def test_an_empty_session_still_has_the_lighting_columns(store, session_id):
    assert {"clipped_share", "overexposed"} <= set(store.load_frames(session_id).columns)


@pytest.mark.parametrize(
    ("share", "message"),
    [
        (1.5, r"clipped_share must lie in \[0, 1\], got 1.5"),
        (-0.1, r"clipped_share must lie in \[0, 1\]"),
        (float("nan"), "clipped_share must be finite"),
        ("bright", "clipped_share must be a number"),
    ],
)
def test_a_malformed_share_is_refused_and_nothing_is_written(store, session_id, share, message):
    with pytest.raises(ValueError, match=message):
        store.add_frames(session_id, [record(0.1), replace(record(0.2), clipped_share=share)])
    assert count(store, "frames") == 0


def test_the_schema_itself_refuses_a_share_outside_0_to_1(store, session_id):
    store.add_frames(session_id, [record(0.1)])
    with pytest.raises(sqlalchemy.exc.IntegrityError), store.engine.begin() as connection:
        connection.execute(sqlalchemy.text("UPDATE frames SET clipped_share = 2"))
    assert store.load_frames(session_id)["clipped_share"].isna().all()


def test_exports_carry_the_share_and_the_flag(store, session_id):
    store.add_frames(
        session_id,
        [FrameRecord.from_result(0.5, bright(0.5)), FrameRecord.from_result(0.75, face_result())],
    )
    table = pd.read_csv(io.StringIO(store.export_csv(session_id)))
    assert table["clipped_share"].tolist()[0] == 0.5 and pd.isna(table["clipped_share"][1])
    assert table["overexposed"].tolist()[0] in (True, "True")
    assert pd.isna(table["overexposed"][1])
    first, second = json.loads(store.export_json(session_id))["frames"]
    assert (first["clipped_share"], first["overexposed"]) == (0.5, True)
    assert (second["clipped_share"], second["overexposed"]) == (None, None)
