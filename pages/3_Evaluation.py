"""Evaluation: a model's saved reports, a comparison across every saved report, and a gallery of
the mistakes the model was most confident about."""

from __future__ import annotations

# streamlit_webrtc (aiortc) must be imported before TensorFlow/MediaPipe, or Python segfaults;
# any page may be the first one a user opens, so each imports it first.
import streamlit_webrtc  # noqa: F401  # isort: skip

from pathlib import Path

import streamlit as st

from fer.evaluation import plots, reports
from fer.evaluation.evaluation_file import evaluation_path
from ui import auth, research

SPLITS = ("PrivateTest", "PublicTest", "Training")
GALLERY_SIZES = (200, 500, 1000, 2000, 3589)
COMPARISON_HEADINGS = {
    "source": "Source", "name": "Model", "dataset": "Dataset", "split": "Split",
    "tta": "Test-time views", "backend": "Format", "n_samples": "Faces",
    "accuracy": "Accuracy", "macro_f1": "Macro-F1", "ece": "ECE", "epochs": "Epochs",
}
PER_CLASS_HEADINGS = {
    "precision": "Precision", "recall": "Recall", "f1": "F1", "support": "Faces",
}
SOURCE_WORDS = {"model": "shipped model", "compare": "strategy comparison"}


@st.cache_data
def model_reports(model_dir_text: str, stamp: float) -> tuple[list[dict], list[str]]:
    """The model's reports from its evaluation.json that can be shown, and what is wrong with
    the others; ``stamp`` (its mtime) keys the cache."""
    return reports.read_model_reports(Path(model_dir_text))


@st.cache_data
def report_table(models_dir_text: str, comparison_dir_text: str, stamp: tuple) -> tuple:
    return reports.read_report_table(Path(models_dir_text), Path(comparison_dir_text))


def modified(path: Path) -> float:
    return path.stat().st_mtime if path.is_file() else 0.0


def show_report(report: dict, model_dir: Path) -> None:
    columns = st.columns(4)
    columns[0].metric("Accuracy", f"{report['accuracy']:.1%}")
    columns[1].metric("Macro-F1", f"{report['macro_f1']:.3f}")
    ece = report.get("ece")  # a report may carry none (null): report_problem lets it through
    columns[2].metric("ECE", "–" if ece is None else f"{ece:.3f}")
    columns[3].metric("Faces", f"{report.get('n_samples', 0):,}")
    normalised = st.toggle("Normalise rows (recall per true class)", key="evaluation.normalised")
    matrix = report["confusion_matrix_normalised" if normalised else "confusion_matrix"]
    st.plotly_chart(plots.confusion_heatmap(matrix, report["classes"], normalised=normalised))
    st.subheader("Per class")
    left, right = st.columns([2, 3])
    per_class = reports.per_class_table(report).rename(columns=PER_CLASS_HEADINGS)
    left.dataframe(per_class.rename_axis("Emotion").style.format(precision=3))
    right.plotly_chart(plots.per_class_bar(report, "f1"))
    if report.get("reliability_bins"):
        st.subheader("Calibration")
        st.plotly_chart(plots.reliability_diagram(report["reliability_bins"], report.get("ece")))
        st.caption(reports.calibration_note(model_dir))


def show_comparison() -> None:
    st.header("Comparison across saved reports")
    models_dir, comparison_dir = research.models_dir(), research.strategy_comparison_dir()
    paths = reports.saved_report_paths(models_dir, comparison_dir)
    stamp = tuple((str(path), modified(path)) for path in paths)
    table, problems = report_table(str(models_dir), str(comparison_dir), stamp)
    if problems:
        with st.expander(f"{len(problems)} saved report(s) left out: they cannot be read"):
            for problem in problems:
                st.warning(problem)
    if table.empty:
        st.info(
            "No saved reports yet. `fer evaluate MODEL --split PrivateTest` saves one into the "
            "model's evaluation.json; `fer compare --epochs N` adds the strategy comparison."
        )
        return
    # The chart's bar labels index the table, so each bar is found in it under the same name.
    table = table.assign(label=plots.comparison_labels(table))
    shown = table.assign(
        source=table["source"].map(SOURCE_WORDS).fillna(table["source"]),
        backend=table["backend"].map(plots.FORMAT_NAMES).fillna(table["backend"]),
    )
    shown = shown.drop(columns=["path"]).set_index("label").rename_axis("Report")
    st.dataframe(
        shown.rename(columns=COMPARISON_HEADINGS),
        column_config={
            heading: st.column_config.NumberColumn(format="%.3f")
            for heading in ("Accuracy", "Macro-F1", "ECE")
        },
    )
    st.plotly_chart(plots.comparison_chart(table, label_column="label"))
    if (table["source"] == "compare").any():
        st.caption(
            "Comparison runs share one short epoch budget (see each report's note): they rank "
            "strategies; the shipped models trained longer."
        )


def show_gallery(model_dir: Path) -> None:
    st.header("Most confident mistakes")
    data_dir = research.data_dir()
    if data_dir is None:
        st.info(research.NO_DATA_MESSAGE)
        return
    if not st.toggle("Show the gallery (runs the model on a split)", key="evaluation.gallery"):
        return
    left, right = st.columns(2)
    split = left.selectbox("Split", SPLITS, key="evaluation.gallery_split")
    n_faces = right.select_slider(
        "Faces to scan", GALLERY_SIZES, value=500, key="evaluation.gallery_faces"
    )
    outputs = research.usable_split_outputs(model_dir, data_dir, split, n_faces, 0, False)
    if outputs is None:
        return
    mistakes = reports.most_confident_mistakes(
        outputs["probabilities"], outputs["labels"], outputs["classes"], n=24
    )
    if mistakes.empty:
        st.success("No mistakes among these faces.")
        return
    emotion_model = research.model(str(model_dir))
    faces = research.dataset(emotion_model.card["label_set"], str(data_dir)).split(split)
    images = faces.images[outputs["positions"][mistakes["position"].to_numpy()]]
    captions = [
        f"{row.true} → {row.predicted} ({row.confidence:.0%})" for row in mistakes.itertuples()
    ]
    # A split smaller than the choice (FER+ PrivateTest) is scanned whole: say how many it had.
    n_scanned = len(outputs["labels"])
    st.caption(
        f"True → predicted (confidence), most confident first, among {n_scanned:,} faces."
    )
    st.image(list(images), caption=captions, width=96)


def main() -> None:
    auth.require_role(*auth.RESEARCH_ROLES)
    st.title("Evaluation")
    st.caption(
        "Protocol: models are trained on Training, selected on PublicTest and reported on "
        "PrivateTest."
    )
    model_dir = research.pick_model("evaluation.model")
    if model_dir is not None:
        evaluation = evaluation_path(model_dir)
        shown, problems = model_reports(str(model_dir), modified(evaluation))
        for problem in problems:
            st.warning(f"Left out: {problem}")
        saved = {reports.report_key(report): report for report in shown}
        if not saved and problems:
            st.error(f"No report of {model_dir.name} can be shown; the warnings above say why.")
        elif not saved:
            st.info(
                f"No saved report for {model_dir.name} yet: run "
                f"`fer evaluate {model_dir.name} --split PrivateTest`."
            )
        else:
            key = st.selectbox(
                "Report",
                list(saved),
                format_func=lambda key: reports.report_label(saved[key]),
                key="evaluation.report",
            )
            show_report(saved[key], model_dir)
    show_comparison()
    if model_dir is not None:
        show_gallery(model_dir)


if __name__ == "__main__":
    main()
