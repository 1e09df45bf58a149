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
