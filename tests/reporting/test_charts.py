"""The report's charts: the same session gives the same bytes, so a report can be compared or
checksummed."""

import pandas as pd
import pytest

from fer.reporting.charts import signals_chart, timeline_chart


@pytest.fixture
def frames():
    return pd.DataFrame({
        "track_id": [0, 0, 0, 1, 1],
        "t_seconds": [0.0, 0.5, 1.0, 0.0, 0.5],
        "smoothed_happy": [0.2, 0.6, 0.7, 0.1, 0.3],
        "smoothed_sad": [0.8, 0.4, 0.3, 0.9, 0.7],
        "valence": [0.1, 0.3, 0.4, -0.2, -0.1],
        "arousal": [0.2, 0.1, 0.0, 0.3, 0.2],
    })


@pytest.mark.parametrize("image_format", ["svg", "png"])
def test_two_renders_are_byte_identical(frames, image_format):
    first = timeline_chart(frames, ["happy", "sad"], image_format)
    assert timeline_chart(frames, ["happy", "sad"], image_format) == first
    assert signals_chart(frames, image_format) == signals_chart(frames, image_format)


def test_lines_break_where_the_face_was_away(monkeypatch):
    import numpy as np
    from matplotlib.axes import Axes

    plotted: list[np.ndarray] = []
    plot = Axes.plot

    def recording_plot(self, x, y, *args, **kwargs):
        plotted.append(np.asarray(y, float))
        return plot(self, x, y, *args, **kwargs)

    monkeypatch.setattr(Axes, "plot", recording_plot)
    away = pd.DataFrame({
        "track_id": 0, "t_seconds": [0.0, 0.5, 1.0, 600.0, 600.5],
        "smoothed_happy": [0.9, 0.9, 0.9, 0.1, 0.1], "smoothed_sad": [0.1, 0.1, 0.1, 0.9, 0.9],
        "valence": [0.5, 0.5, 0.5, -0.5, -0.5], "arousal": 0.2,
    })
    timeline_chart(away, ["happy", "sad"], "svg", max_gap_s=1.0)
    signals_chart(away, "svg", max_gap_s=1.0)
    assert len(plotted) == 4  # happy, sad, valence, arousal
    for line in plotted:
        assert np.isnan(line).sum() == 1 and np.isnan(line[3])  # one break, in the absence
    plotted.clear()
    timeline_chart(away, ["happy", "sad"], "svg", max_gap_s=1000.0)
    assert not any(np.isnan(line).any() for line in plotted)
