"""What the page figures must show (issue #26): comparison bars that never stack, principal-axis
titles that never round to all or nothing, and a legend on every session figure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fer.evaluation import cluster_plots, plots, session_plots


def report_rows(backends: list[str], accuracies: list[float]) -> pd.DataFrame:
    """Report-table rows of one model on one split that differ only in format."""
    n_rows = len(backends)
    return pd.DataFrame(
        {
            "source": ["model"] * n_rows,
            "name": ["fer2013"] * n_rows,
            "split": ["PrivateTest"] * n_rows,
            "tta": [""] * n_rows,
            "backend": backends,
            "accuracy": accuracies,
            "macro_f1": [value - 0.02 for value in accuracies],
        }
    )


def test_rows_that_differ_only_in_format_get_their_own_bars():
    table = report_rows(["tflite", "keras", ""], [0.684, 0.682, 0.5])
    figure = plots.comparison_chart(table)
    assert figure.layout.barmode == "group"
    accuracy = figure.data[0]
    assert accuracy.orientation == "h"  # every label readable, however many rows
    assert list(accuracy.y) == [
        "fer2013 · TFLite int8 · PrivateTest",
        "fer2013 · Keras · PrivateTest",
        "fer2013 · format not recorded · PrivateTest",
    ]
    # One bar per row at the row's own value: nothing adds up past the table's figure.
    assert list(accuracy.x) == [0.684, 0.682, 0.5]
    assert [trace.name for trace in figure.data] == ["accuracy", "macro-F1"]


def test_labels_given_by_the_caller_are_never_shared_by_two_bars():
    table = report_rows(["tflite", "keras"], [0.684, 0.682]).assign(label="fer2013 · PrivateTest")
    figure = plots.comparison_chart(table, label_column="label")
    labels = list(figure.data[0].y)
    assert len(set(labels)) == 2
    assert labels == ["fer2013 · PrivateTest", "fer2013 · PrivateTest (2)"]
    assert list(figure.data[0].x) == [0.684, 0.682]


def test_numbered_duplicates_stay_unique_even_against_existing_numbers():
    assert plots.numbered_duplicates(["a", "a (2)", "a", "b"]) == ["a", "a (2)", "a (3)", "b"]


@pytest.mark.parametrize(
    ("ratio", "words"),
    [(1.0, "at least 99%"), (0.996, "at least 99%"), (0.37, "37%"), (4e-7, "under 1%")],
)
def test_a_share_of_variance_never_reads_as_all_or_nothing(ratio, words):
    assert cluster_plots.variance_share(ratio) == words


def test_a_flat_second_axis_is_named_in_words_and_in_plain_decimals():
    rng = np.random.default_rng(0)
    projection = np.column_stack([rng.normal(size=20), rng.normal(scale=1e-6, size=20)])
    figure = cluster_plots.cluster_scatter(
        projection, np.arange(20) % 2, projection[:2], explained_variance=np.array([1.0, 1e-12])
    )
    assert figure.layout.xaxis.title.text == (
        "first principal component (at least 99% of the variance)"
    )
    assert figure.layout.yaxis.title.text == (
        "second principal component (under 1% of the variance)"
    )
    assert "PC" not in figure.layout.xaxis.title.text + figure.layout.yaxis.title.text
    # Without this, Plotly labels a micro-scale axis with SI prefixes ("2µ").
    assert figure.layout.yaxis.exponentformat == "none"


def test_one_expression_per_interval_still_has_a_legend():
    intervals = pd.DataFrame(
        {
            "start_s": [0.0, 5.0],
            "end_s": [5.0, 10.0],
            "emotion": ["happy", "happy"],
            "probability": [0.6, 0.7],
            "n_frames": [10, 10],
        }
    )
    figure = session_plots.predominant_chart(intervals, 5)
    assert len(figure.data) == 1
    assert figure.layout.showlegend is True
    assert figure.data[0].name == "happy"
    shares = pd.DataFrame({"track_id": [0], "emotion": ["happy"], "share": [1.0]})
    stacked = session_plots.time_share_chart(shares)
    assert stacked.layout.showlegend is True
    assert list(stacked.data[0].y) == ["Face 0"]
