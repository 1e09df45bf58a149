"""fer.evaluation.plots and cluster_plots: each builder puts the given numbers, names and
emotion colours into the figure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fer.emotions import EMOTIONS
from fer.evaluation import cluster_plots, plots, session_plots
from fer.evaluation.metrics import classification_report

CLASSES = ["angry", "happy", "sad"]


@pytest.fixture
def report() -> dict:
    probabilities = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1], [0.1, 0.1, 0.8]])
    return classification_report(probabilities, np.array([0, 1, 1, 2]), CLASSES)


def test_confusion_heatmap_counts_and_normalised(report):
    counts = plots.confusion_heatmap(report["confusion_matrix"], CLASSES)
    heatmap = counts.data[0]
    assert np.asarray(heatmap.z).tolist() == [[1, 0, 0], [1, 1, 0], [0, 0, 1]]
    assert list(heatmap.x) == CLASSES and list(heatmap.y) == CLASSES
    assert counts.layout.yaxis.autorange == "reversed"
    normalised = plots.confusion_heatmap(
        report["confusion_matrix_normalised"], CLASSES, normalised=True
    )
    assert np.asarray(normalised.data[0].z)[1].tolist() == [0.5, 0.5, 0.0]
    assert normalised.data[0].zmax == 1
    with pytest.raises(ValueError):
        plots.confusion_heatmap([[1, 2], [3, 4]], CLASSES)


def test_per_class_bar_uses_emotion_colours(report):
    figure = plots.per_class_bar(report, "recall")
    bar = figure.data[0]
    assert list(bar.x) == CLASSES
    assert list(bar.y) == [1.0, 0.5, 1.0]
    assert list(bar.marker.color) == [EMOTIONS[name].colour for name in CLASSES]


def test_reliability_diagram_skips_empty_bins(report):
    figure = plots.reliability_diagram(report["reliability_bins"], report["ece"])
    bars = figure.data[0]
    used = [entry for entry in report["reliability_bins"] if entry["count"]]
    assert len(bars.x) == len(used)
    assert list(bars.y) == [entry["accuracy"] for entry in used]
    assert list(figure.data[1].x) == [0, 1]  # the diagonal
    assert "ECE" in figure.layout.title.text


def test_comparison_chart_one_trace_per_metric():
    table = pd.DataFrame({"name": ["a", "b"], "accuracy": [0.5, 0.6], "macro_f1": [0.4, 0.3]})
    figure = plots.comparison_chart(table)
    assert [trace.name for trace in figure.data] == ["accuracy", "macro-F1"]
    assert list(figure.data[1].x) == [0.4, 0.3]


def test_cluster_scatter_has_points_per_cluster_and_centroids():
    projection = np.array([[0, 0], [1, 1], [5, 5]], float)
    figure = cluster_plots.cluster_scatter(
        projection,
        np.array([0, 0, 1]),
        np.array([[0.5, 0.5], [5, 5]]),
        hover_text=["a", "b", "c"],
        explained_variance=np.array([0.7, 0.2]),
    )
    assert [len(trace.x) for trace in figure.data] == [2, 1, 2]
    assert figure.data[-1].name == "centroids"
    assert list(figure.data[-1].x) == [0.5, 5.0]
    assert "70%" in figure.layout.xaxis.title.text


def test_session_timeline_one_line_per_emotion_in_its_colour():
    frames = pd.DataFrame(
        {
            "t_seconds": [1.0, 0.0, 0.5],
            "track_id": [0, 0, 1],
            "smoothed_happy": [0.9, 0.8, 0.1],
            "smoothed_sad": [0.1, 0.2, 0.9],
        }
    )
    figure = session_plots.session_timeline(frames, track_id=0, marker_s=0.5)
    assert [trace.name for trace in figure.data] == ["happy", "sad"]
    assert list(figure.data[0].x) == [0.0, 1.0]  # sorted by time, track 1 left out
    assert list(figure.data[0].y) == [0.8, 0.9]
    assert figure.data[1].line.color == EMOTIONS["sad"].colour
    assert len(figure.layout.shapes) == 1


def test_predominant_chart_bars_cover_intervals():
    intervals = pd.DataFrame(
        {
            "start_s": [0.0, 5.0, 10.0],
            "end_s": [5.0, 10.0, 15.0],
            "n_frames": [10, 10, 3],
            "emotion": ["happy", "sad", "happy"],
            "probability": [0.6, 0.7, 0.5],
        }
    )
    figure = session_plots.predominant_chart(intervals, 5.0)
    by_name = {trace.name: trace for trace in figure.data}
    assert list(by_name["happy"].x) == [2.5, 12.5]
    assert by_name["happy"].width == 5.0
    assert by_name["sad"].marker.color == EMOTIONS["sad"].colour


def test_unknown_names_get_the_uncertain_colour():
    assert plots.emotion_colour("uncertain") == plots.emotion_colour("no-such-emotion")


def test_image_grid_labels_rows():
    images = np.zeros((2, 3, 4, 4), np.uint8)
    figure = plots.image_grid(images, ["angry", "happy"])
    assert np.asarray(figure.data[0].z).shape == (2 * 6 - 2, 3 * 6 - 2)
    assert list(figure.layout.yaxis.ticktext) == ["angry", "happy"]
    assert list(figure.layout.yaxis.tickvals) == [2.0, 8.0]


def test_face_gallery_pads_and_captions():
    images = np.full((3, 4, 4), 9, np.uint8)
    figure = plots.face_gallery(images, ["a", "b", "c"], n_cols=2)
    canvas = np.asarray(figure.data[0].z)
    assert canvas.shape == (2 * 20 - 16, 2 * 20 - 16)  # 2×2 tiles with 16-pixel gaps
    assert (canvas[20:24, 20:24] == 255).all()  # the padded fourth tile
    assert (canvas[20:24, 0:4] == 9).all()
    assert [note.text for note in figure.layout.annotations] == ["a", "b", "c"]
    with pytest.raises(ValueError):
        plots.face_gallery(images, ["a"])
    assert plots.face_gallery(images[:0], []).data == ()


def test_elbow_chart_and_learning_curves():
    sweep = pd.DataFrame({"k": [2, 3], "inertia": [10.0, 4.0], "silhouette": [0.3, 0.6]})
    elbow = cluster_plots.elbow_chart(sweep)
    assert [trace.name for trace in elbow.data] == ["inertia", "silhouette"]
    history = pd.DataFrame(
        {"epoch": [1, 2], "loss": [2.0, 1.5], "val_accuracy_fer2013": [0.3, 0.4]}
    )
    curves = plots.learning_curves(history)
    assert [trace.name for trace in curves.data] == ["training loss", "val_accuracy_fer2013"]


def test_distribution_pixel_and_share_charts():
    distribution = pd.DataFrame(
        {
            "dataset": ["a", "a", "b"],
            "emotion": ["happy", "sad", "happy"],
            "count": [3, 1, 2],
            "share": [0.75, 0.25, 1.0],
        }
    )
    figure = plots.class_distribution_chart(distribution, "share")
    assert [trace.name for trace in figure.data] == ["a", "b"]
    stats = pd.DataFrame({"emotion": ["happy"], "pixel_mean": [120.0], "pixel_std": [60.0]})
    assert list(plots.pixel_statistics_chart(stats).data[0].error_y.array) == [60.0]
    shares = pd.DataFrame({"track_id": [0, 0], "emotion": ["happy", "sad"], "share": [0.25, 0.75]})
    stacked = session_plots.time_share_chart(shares)
    assert stacked.layout.barmode == "stack"
    assert list(stacked.data[1].x) == [0.75]


def test_landmark_plot_validates_shape():
    figure = session_plots.landmark_plot(np.array([[1.0, 2.0], [3.0, 4.0]]))
    assert list(figure.data[0].y) == [2.0, 4.0]
    with pytest.raises(ValueError):
        session_plots.landmark_plot(np.array([1.0, 2.0]))
