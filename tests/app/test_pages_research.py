"""AppTest smoke tests of the home page, the research pages and Session replay, from small
fixtures, plus their empty states (nothing recorded, no report, no model, FER_DATA_DIR unset).
Each page is opened logged in with the role it is meant for."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from fer import config
from fer.evaluation.evaluation_file import add_reports
from tests.app.page_support import log_in, make_user
from tests.research_fixtures import (
    make_empty_session,
    make_session_db,
    make_tiny_model,
    synthetic_report,
    write_report,
)

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 120
# Read once here (the test edge): the workspace fixture unsets it for the empty-state tests.
DATA_DIR = config.data_dir_from_env(required=False)
needs_data = pytest.mark.skipif(DATA_DIR is None, reason="needs FER_DATA_DIR")


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """Empty models/, no strategy comparison, no session database; FER_DATA_DIR unset."""
    monkeypatch.setattr(config, "MODELS_DIR", tmp_path / "models")
    monkeypatch.setattr(config, "STRATEGY_COMPARISON_DIR", tmp_path / "strategy_comparison")
    monkeypatch.setattr(config, "DEFAULT_SESSION_DB", tmp_path / "data" / "sessions.db")
    monkeypatch.delenv(config.DATA_DIR_ENV, raising=False)
    monkeypatch.delenv("FER_SESSION_DB", raising=False)
    for role in ("reviewer", "admin", "clinician"):
        make_user(config.DEFAULT_SESSION_DB, f"{role}.one", role)
    return tmp_path


def user(role: str):
    from fer.accounts import AccountStore

    return AccountStore(config.DEFAULT_SESSION_DB).get_user_by_name(f"{role}.one")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("models") / "tiny")


def install_model(models_dir: Path, model_dir: Path) -> Path:
    """A model folder under ``models_dir`` whose files link to ``model_dir``'s (reports can then
    be written into it without touching the shared fixture)."""
    target = models_dir / model_dir.name
    target.mkdir(parents=True)
    for file in model_dir.iterdir():
        (target / file.name).symlink_to(file)
    return target


# The role each page is meant for (recorded sessions are for clinicians and admins; the
# fixtures' sessions have no owner, which only admins see).
PAGE_ROLES = {
    "app.py": "reviewer",
    "pages/3_Evaluation.py": "reviewer",
    "pages/4_Clusters.py": "reviewer",
    "pages/6_Dataset.py": "reviewer",
    "pages/5_Session_replay.py": "admin",
}


def open_page(name: str, role: str | None = None) -> AppTest:
    app = AppTest.from_file(str(ROOT / name), default_timeout=TIMEOUT)
    return log_in(app, user(role or PAGE_ROLES[name]))


def run_page(name: str, role: str | None = None) -> AppTest:
    app = open_page(name, role)
    app.run()
    assert not app.exception, [exception.value for exception in app.exception]
    return app


def infos(app: AppTest) -> str:
    return " ".join(element.value for element in app.info)


def charts(app: AppTest) -> int:
    return len(app.get("plotly_chart"))


# --------------------------------------------------------------------------------------- home


def test_home_links_the_pages_of_the_role(workspace):
    app = run_page("app.py")
    labels = [link.proto.label for link in app.get("page_link")]
    assert labels == ["Evaluation", "Clusters", "Dataset"]
    app = run_page("app.py", "admin")
    labels = [link.proto.label for link in app.get("page_link")]
    assert labels == [
        "Live", "Upload", "Session replay", "Session room", "Client history", "Evaluation",
        "Clusters", "Dataset", "Admin",
    ]
    text = " ".join(element.value for element in app.markdown)
    assert "consent" in text and "judgement" in text


# --------------------------------------------------------------------------------- evaluation


def test_evaluation_without_models_or_reports(workspace):
    app = run_page("pages/3_Evaluation.py")
    assert "No trained model yet" in infos(app)
    assert "No saved reports yet" in infos(app)
    assert charts(app) == 0


def test_evaluation_model_without_report(workspace, tiny_model):
    install_model(workspace / "models", tiny_model)
    app = run_page("pages/3_Evaluation.py")
    assert "No saved report for tiny" in infos(app)


def test_evaluation_shows_report_and_comparison(workspace, tiny_model):
    model_dir = install_model(workspace / "models", tiny_model)
    report = synthetic_report()
    pipeline = synthetic_report(seed=2) | {"backend": "tflite", "tta": "mirror+zoom"}
    add_reports(model_dir, [pipeline, report])
    compare = synthetic_report(seed=1) | {"model": "compare/ziggy_none", "epochs_run": 2}
    write_report(workspace / "strategy_comparison" / "ziggy_none.json", compare)

    app = run_page("pages/3_Evaluation.py")
    assert [metric.value for metric in app.metric][:2] == [
        f"{report['accuracy']:.1%}",
        f"{report['macro_f1']:.3f}",
    ]
    # confusion heatmap, per-class bar, reliability diagram, comparison chart
    assert charts(app) == 4
    comparison = app.dataframe[-1].value
    assert sorted(comparison["Model"]) == ["compare/ziggy_none", "tiny", "tiny"]
    assert "This view needs the FER2013/FER+ files" in infos(app)  # gallery without data
    # The reliability diagram says what the model's probabilities were calibrated to.
    assert any("no temperature was fitted" in caption.value for caption in app.caption)

    app.toggle(key="evaluation.normalised").set_value(True).run()
    assert not app.exception
    assert charts(app) == 4
    # Every report of the model's evaluation.json is on the menu.
    menu = app.selectbox(key="evaluation.report")
    assert menu.options == ["PrivateTest (keras)", "PrivateTest +TTA mirror+zoom"]
    menu.select("PrivateTest/mirror+zoom/tflite").run()
    assert not app.exception
    assert app.metric[0].value == f"{pipeline['accuracy']:.1%}"


def test_every_comparison_bar_has_its_own_label_and_the_table_s_value(workspace, tiny_model):
    """Two reports of one run on one split that differ only in format stacked into one bar
    that reached the axis's top while the table said 0.68."""
    model_dir = install_model(workspace / "models", tiny_model)
    add_reports(model_dir, [synthetic_report(), synthetic_report(seed=2) | {"backend": "tflite"}])
    served = synthetic_report(seed=3) | {"model": "compare/ziggy_none", "backend": "tflite"}
    unrecorded = synthetic_report(seed=4) | {"model": "compare/ziggy_none"}
    del unrecorded["backend"]  # older comparison files did not say
    write_report(workspace / "strategy_comparison" / "ziggy_none.json", served)
    write_report(workspace / "strategy_comparison" / "ziggy_none_old.json", unrecorded)

    app = run_page("pages/3_Evaluation.py")
    table = app.dataframe[-1].value
    chart = json.loads(app.get("plotly_chart")[-1].proto.spec)
    assert chart["layout"]["barmode"] == "group"
    accuracy = next(trace for trace in chart["data"] if trace["name"] == "accuracy")
    labels = list(accuracy["y"])
    assert len(set(labels)) == len(labels) == len(table) == 4
    assert labels == list(table.index)
    values = accuracy["x"]
    if isinstance(values, dict):  # plotly's typed-array form
        values = np.frombuffer(base64.b64decode(values["bdata"]), values["dtype"]).tolist()
    assert values == pytest.approx(list(table["Accuracy"]))
    assert "tiny · Keras · PrivateTest" in labels and "tiny · TFLite int8 · PrivateTest" in labels


@needs_data
@pytest.mark.data
@pytest.mark.slow
def test_evaluation_gallery_with_data(workspace, tiny_model, monkeypatch):
    monkeypatch.setenv(config.DATA_DIR_ENV, str(DATA_DIR))
    install_model(workspace / "models", tiny_model)
    app = run_page("pages/3_Evaluation.py")
    app.toggle(key="evaluation.gallery").set_value(True).run()
    assert not app.exception, [exception.value for exception in app.exception]
    # an untrained model is wrong on most faces: the gallery is full
    assert len(app.image) == 1
    assert len(app.image[0].proto.imgs) == 24


@needs_data
@pytest.mark.data
@pytest.mark.slow
def test_gallery_caption_counts_the_faces_scanned(workspace, monkeypatch):
    """Asked for 3,589 faces of FER+ PrivateTest (3,152 faces), the caption said "among 3589"."""
    from tests.app.page_support import build_tiny_model

    monkeypatch.setenv(config.DATA_DIR_ENV, str(DATA_DIR))
    build_tiny_model(workspace / "models" / "tiny_ferplus")
    app = run_page("pages/3_Evaluation.py")
    app.toggle(key="evaluation.gallery").set_value(True).run()
    app.select_slider(key="evaluation.gallery_faces").set_value(3589).run()
    assert not app.exception, [exception.value for exception in app.exception]
    caption = next(text.value for text in app.caption if text.value.startswith("True →"))
    assert caption.endswith("among 3,152 faces."), caption


def test_damaged_reports_are_named_and_the_good_ones_still_shown(workspace, tiny_model):
    """One bad entry in any evaluation.json broke the whole comparison (KeyError), and a bad
    matrix crashed the model's report; a file that was no JSON read as "no report yet"."""
    good = install_model(workspace / "models", tiny_model)
    report = synthetic_report()
    add_reports(good, [report])
    broken = workspace / "models" / "broken"
    broken.mkdir()
    for file in tiny_model.iterdir():
        (broken / file.name).symlink_to(file)
    wrong_matrix = synthetic_report(seed=3) | {"confusion_matrix": [[1, 2], [3, 4]]}
    evaluation = {
        "model": "broken",
        "reports": {"PrivateTest": {
            "none": {"keras": wrong_matrix, "tflite": {}},
            "mirror": {"keras": synthetic_report(seed=4) | {"accuracy": float("nan")}},
        }},
    }
    (broken / "evaluation.json").unlink(missing_ok=True)
    (broken / "evaluation.json").write_text(json.dumps(evaluation))
    (workspace / "strategy_comparison").mkdir()
    (workspace / "strategy_comparison" / "ziggy_none.json").write_text("12")

    app = run_page("pages/3_Evaluation.py")  # the first model, "broken", is selected
    warnings = " ".join(element.value for element in app.warning)
    assert "report PrivateTest/none/keras: confusion_matrix must be 7×7" in warnings
    assert "report PrivateTest/none/tflite: accuracy and macro_f1 must be numbers" in warnings
    assert "report PrivateTest/mirror/keras: accuracy must be a number in 0..1" in warnings
    assert "ziggy_none.json is not a classification report" in warnings
    assert "No report of broken can be shown" in " ".join(e.value for e in app.error)
    assert sorted(app.dataframe[-1].value["Model"]) == ["tiny"]  # the good report stays
    app.selectbox(key="evaluation.model").select("tiny").run()
    assert not app.exception
    assert app.metric[0].value == f"{report['accuracy']:.1%}"

    (broken / "evaluation.json").write_text("{")
    app.selectbox(key="evaluation.model").select("broken").run()
    assert not app.exception
    assert "evaluation.json is not valid JSON" in " ".join(e.value for e in app.warning)
    assert "No saved report for broken yet" not in infos(app)


def test_a_report_without_ece_is_shown(workspace, tiny_model):
    """A report whose ECE is null passes report_problem, but the page formatted None and
    stopped with Streamlit's redacted error, comparison table included."""
    model_dir = install_model(workspace / "models", tiny_model)
    add_reports(model_dir, [synthetic_report() | {"ece": None}])
    app = run_page("pages/3_Evaluation.py")
    assert app.metric[2].value == "–"
    assert charts(app) == 4
    assert app.dataframe[-1].value["ECE"].isna().all()


def test_a_model_folder_without_a_card_is_named(workspace, tiny_model):
    install_model(workspace / "models", tiny_model)
    (workspace / "models" / "lost").mkdir()
    (workspace / "models" / "lost" / "model.keras").write_bytes(b"weights")
    app = run_page("pages/3_Evaluation.py")
    assert "Not offered: lost" in " ".join(element.value for element in app.warning)
    assert app.selectbox(key="evaluation.model").options == ["tiny"]


@needs_data
@pytest.mark.parametrize("card", ["[1, 2]", '{"name": "bad"}', "not json"])
def test_a_damaged_model_is_named_on_clusters_and_in_the_gallery(card, workspace, tiny_model,
                                                                  monkeypatch):
    monkeypatch.setenv(config.DATA_DIR_ENV, str(DATA_DIR))
    damaged = install_model(workspace / "models", tiny_model)
    (damaged / "card.json").unlink()
    (damaged / "card.json").write_text(card)
    app = run_page("pages/4_Clusters.py")
    assert "The model tiny cannot be run" in " ".join(e.value for e in app.error)
    assert "card.json" in " ".join(e.value for e in app.error)
    app = run_page("pages/3_Evaluation.py")
    app.toggle(key="evaluation.gallery").set_value(True).run()
    assert not app.exception, [exception.value for exception in app.exception]
    assert "The model tiny cannot be run" in " ".join(e.value for e in app.error)


@needs_data
def test_a_model_without_a_known_label_set_is_named_on_clusters(workspace, tiny_model,
                                                                 monkeypatch):
    monkeypatch.setenv(config.DATA_DIR_ENV, str(DATA_DIR))
    damaged = install_model(workspace / "models", tiny_model)
    card = json.loads((tiny_model / "card.json").read_text())
    del card["label_set"]
    (damaged / "card.json").unlink()
    (damaged / "card.json").write_text(json.dumps(card))
    app = run_page("pages/4_Clusters.py")
    assert "its label_set None names no dataset" in " ".join(e.value for e in app.error)


# ----------------------------------------------------------------------------------- clusters


def test_clusters_empty_states(workspace):
    app = run_page("pages/4_Clusters.py", "admin")
    assert "No trained model yet" in infos(app)
    app.radio(key="clusters.source").set_value("Recorded session").run()
    assert not app.exception
    assert "No recorded session to show yet" in infos(app)


def test_clusters_offer_no_recorded_session_to_a_reviewer(workspace):
    make_session_db(config.DEFAULT_SESSION_DB)
    app = run_page("pages/4_Clusters.py", "reviewer")
    assert not [radio for radio in app.radio if radio.key == "clusters.source"]
    assert not [box for box in app.selectbox if box.key == "clusters.session"]


def test_clusters_on_a_recorded_session(workspace):
    make_session_db(config.DEFAULT_SESSION_DB)
    app = open_page("pages/4_Clusters.py", "admin")
    app.run()
    app.radio(key="clusters.source").set_value("Recorded session").run()
    assert not app.exception, [exception.value for exception in app.exception]
    app.slider(key="clusters.k").set_value(3).run()
    assert not app.exception
    table = app.dataframe[0].value
    assert list(table.index) == ["cluster 0", "cluster 1", "cluster 2"]
    # 40 track-0 frames + 32 track-1 frames, all assigned to some cluster
    assert int(table.to_numpy().sum()) == 72
    assert set(table.columns) >= {"happy", "sad", "neutral"}
    assert charts(app) == 1  # the scatter
    app.toggle(key="clusters.sweep").set_value(True).run()
    assert not app.exception
    assert charts(app) == 2  # + elbow/silhouette


def test_a_sweep_over_points_that_allow_only_k_2_says_so(workspace):
    make_session_db(config.DEFAULT_SESSION_DB, n_seconds=3, fps=1)  # three distinct frames
    app = open_page("pages/4_Clusters.py", "admin")
    app.run()
    app.radio(key="clusters.source").set_value("Recorded session").run()
    app.toggle(key="clusters.sweep").set_value(True).run()
    assert not app.exception, [exception.value for exception in app.exception]
    assert "allow only k = 2" in infos(app) and "Pick a range" not in infos(app)


@needs_data
@pytest.mark.data
@pytest.mark.slow
def test_clusters_on_model_embeddings(workspace, tiny_model, monkeypatch):
    monkeypatch.setenv(config.DATA_DIR_ENV, str(DATA_DIR))
    install_model(workspace / "models", tiny_model)
    app = run_page("pages/4_Clusters.py")
    table = app.dataframe[0].value
    assert int(table.to_numpy().sum()) == 500  # the default subset size
    assert list(table.columns) == [
        "angry",
        "disgust",
        "fear",
        "happy",
        "sad",
        "surprise",
        "neutral",
    ]
    assert len(table) == 7  # k defaults to the number of classes
    app.radio(key="clusters.kind").set_value("probabilities").run()
    assert not app.exception


# ------------------------------------------------------------------------------ session replay


def test_replay_without_sessions(workspace):
    app = run_page("pages/5_Session_replay.py")
    assert "No recorded session to show yet" in infos(app)


def test_replay_session_without_frames(workspace):
    make_empty_session(config.DEFAULT_SESSION_DB)
    app = run_page("pages/5_Session_replay.py")
    assert "no frames yet" in infos(app)


def test_replay_renders_a_session(workspace):
    session_id = make_session_db(config.DEFAULT_SESSION_DB)
    app = run_page("pages/5_Session_replay.py")
    assert charts(app) == 4  # timeline, predominant, time share, landmarks
    summary = next(table.value for table in app.dataframe if "Face" in table.value.columns)
    assert list(summary["Face"]) == ["Face 0", "Face 1"]
    assert list(summary["Most frequent expression"]) == ["happy", "neutral"]
    assert list(summary["Changes of expression"]) == [1, 0]
    labels = [button.proto.label for button in app.get("download_button")]
    assert labels == [
        "Report (HTML)", "Report (PDF)", "Report (FHIR R4 JSON)", "Frames (CSV)",
        "Predominant emotion per 5 s (CSV)",
    ]
    assert session_id == 1

    app.slider(key="replay.interval").set_value(10).run()
    assert not app.exception
    app.selectbox(key="replay.track").set_value(1).run()
    assert not app.exception
    assert "No landmarks were stored for this frame." in [c.value for c in app.caption]
    assert charts(app) == 3


# ------------------------------------------------------------------------------------ dataset


def test_dataset_without_data(workspace):
    app = run_page("pages/6_Dataset.py")
    assert "FER_DATA_DIR" in infos(app)
    assert charts(app) == 0


@pytest.mark.parametrize(
    "csv_text, reason",
    [(None, "No fer2013.csv or fer2013.csv.gz in"),
     ("emotion,pixels\n0,1 2 3\n", "differs from the expected")],
)
def test_dataset_names_a_missing_or_damaged_csv(workspace, monkeypatch, tmp_path, csv_text,
                                                reason):
    """A data folder holding only the face landmarker, or a damaged CSV, once stopped the
    page with Streamlit's redacted "This app has encountered an error"."""
    data = tmp_path / "data_folder"
    data.mkdir()
    (data / "face_landmarker.task").write_bytes(b"stand-in")
    if csv_text is not None:
        (data / "fer2013.csv").write_text(csv_text)
    monkeypatch.setenv(config.DATA_DIR_ENV, str(data))
    app = run_page("pages/6_Dataset.py")
    (error,) = app.error
    assert error.value.startswith("The fer2013 dataset cannot be loaded")
    assert reason in error.value.replace("\\", "")
    assert charts(app) == 0


@needs_data
@pytest.mark.data
def test_dataset_with_data(workspace, monkeypatch):
    monkeypatch.setenv(config.DATA_DIR_ENV, str(DATA_DIR))
    app = run_page("pages/6_Dataset.py")
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics["Rows"] == "35,887"
    assert metrics["Distinct images"] == "34,034"
    assert metrics["Blank images"] == "12"
    assert charts(app) == 3
    # The caption counts the rows of the split on screen, not of the whole file.
    app.selectbox(key="dataset.split").set_value("PrivateTest").run()
    assert not app.exception
    rows_caption = next(text.value for text in app.caption if "FER2013 rows" in text.value)
    assert rows_caption.startswith("3,589 FER2013 rows in PrivateTest;"), rows_caption
    assert "35,887" not in rows_caption
