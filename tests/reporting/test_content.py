"""What every form of the report says, shared: per cents that add up, and the report's times."""

from __future__ import annotations

import re

import pytest

from fer.reporting.content import share_percentages
from fer.reporting.document import session_report
from tests.reporting.helpers import reading, recorded_session


@pytest.mark.parametrize(
    ("shares", "expected"),
    [
        ({"happy": 0.335, "sad": 0.335, "neutral": 0.33}, {"happy": 34, "sad": 33, "neutral": 33}),
        ({"happy": 0.29, "sad": 0.71}, {"happy": 29, "sad": 71}),
        ({"happy": 1 / 3, "sad": 1 / 3, "fear": 1 / 3}, {"happy": 34, "sad": 33, "fear": 33}),
        ({"happy": 0.996, "sad": 0.004}, {"happy": 100, "sad": 0}),
        ({}, {}),
    ],
)
def test_shares_become_whole_per_cents_that_add_up(shares, expected):
    assert share_percentages(shares) == expected


def test_the_report_s_shares_of_time_add_up_to_a_hundred(tmp_path):
    labels = ["happy"] * 67 + ["sad"] * 67 + ["neutral"] * 66
    store, session_id = recorded_session(
        tmp_path, [reading(step / 2, label) for step, label in enumerate(labels)]
    )
    html = session_report(store, session_id, "html").decode()
    table = html.split("Share of time per expression</h3>", 1)[1].split("</table>", 1)[0]
    assert sum(int(percent) for percent in re.findall(r"<td>(\d+)%</td>", table)) == 100


def test_the_accuracy_named_is_the_one_measured_with_the_session_s_views(tmp_path):
    import json

    from fer.reporting.content import accuracy_text, model_summary

    (tmp_path / "card.json").write_text(json.dumps({"name": "tiny", "classes": ["a", "b"]}))
    one_pass = {"accuracy": 0.70, "macro_f1": 0.6}
    evaluation = {"format": 1, "model": "tiny",
                  "reports": {"PrivateTest": {"none": {"keras": one_pass}}}}
    (tmp_path / "evaluation.json").write_text(json.dumps(evaluation))
    label = "tiny, tta mirror+zoom"  # as fer.models.cards.recorded_model_label records it
    unmeasured = accuracy_text(model_summary(tmp_path, label, ("a", "b")))
    assert unmeasured.startswith("70.0% accuracy")
    assert "the mirror+zoom views this session used were not measured" in unmeasured
    assert accuracy_text(model_summary(tmp_path, "tiny", ("a", "b"))) == (
        "70.0% accuracy, macro-F1 0.600 on PrivateTest"
    )
    views = {"accuracy": 0.75, "macro_f1": 0.65}
    evaluation["reports"]["PrivateTest"]["mirror+zoom"] = {"keras": views}
    (tmp_path / "evaluation.json").write_text(json.dumps(evaluation))
    measured = accuracy_text(model_summary(tmp_path, label, ("a", "b")))
    assert measured == (
        "75.0% accuracy, macro-F1 0.650 on PrivateTest, measured with the mirror+zoom views "
        "this session used"
    )


def test_every_time_in_the_report_is_on_one_clock_with_its_offset(
    tmp_path, local_zone_ahead_of_utc
):
    from tests.reporting.helpers import bundle_of, resources

    frames = [reading(step / 2, "happy") for step in range(8)]
    store, session_id = recorded_session(tmp_path, frames)
    html = session_report(store, session_id, "html").decode()
    header = html.split("<h2>", 1)[0]
    times = re.findall(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?([+-]\d\d:\d\d|Z)?", header)
    assert len(times) == 4  # started, ended, consent given, report made
    assert set(times) == {local_zone_ahead_of_utc}
    bundle = bundle_of(store, session_id)
    (document,) = resources(bundle, "DocumentReference")
    stamps = [document["date"], *document["context"]["period"].values()]
    assert all(stamp.endswith(local_zone_ahead_of_utc) for stamp in stamps), stamps
