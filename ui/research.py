"""Streamlit-only helpers for the research pages (Evaluation, Clusters, Session replay, Dataset):
cached loaders around :mod:`fer`, and the empty-state messages the pages share.

Paths are read from :mod:`fer.config` at call time (not import time) so a test can point the pages
at fixture folders by patching ``fer.config``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from fer import config
from ui.text import plain

NO_DATA_MESSAGE = (
    "This view needs the FER2013/FER+ files. " + config.DATA_HELP + " Then restart the app."
)
NO_MODEL_MESSAGE = (
    "No trained model yet. Train one with `fer train --model fernet --labels fer2013` "
    "(models are published under `models/<name>/` with a `card.json`)."
)
NO_SESSION_MESSAGE = (
    "No recorded session to show yet. Sessions you record on the Live or Upload page (after the "
    "person's consent is on record), or that an administrator shares with you, appear here."
)


def models_dir() -> Path:
    return Path(config.MODELS_DIR)


def strategy_comparison_dir() -> Path:
    return Path(config.STRATEGY_COMPARISON_DIR)


def data_dir() -> Path | None:
    """``$FER_DATA_DIR`` if it names a folder, else None (pages then show NO_DATA_MESSAGE)."""
    return config.data_dir_from_env(required=False)


# ---------------------------------------------------------------------------------- datasets


@st.cache_resource(show_spinner="Loading the dataset…")
def dataset(key: str, data_dir_text: str):
    """A :class:`fer.data.datasets.FaceDataset`, shared read-only between sessions (cache_data
    would copy
    82 MB of pixels on every rerun)."""
    from fer.data.datasets import load_dataset

    return load_dataset(key, Path(data_dir_text))


def usable_dataset(key: str, data_dir_text: str):
    """:func:`dataset`, or None after an error on the page naming the file that is missing or
    malformed (a data folder that holds only the face landmarker, a damaged CSV)."""
    try:
        return dataset(key, data_dir_text)
    except (FileNotFoundError, ValueError) as error:  # DataNotFoundError, DataFormatError
        st.error(plain(f"The {key} dataset cannot be loaded: {error}"))
        return None


@st.cache_data(show_spinner="Checking blank and duplicate images…")
def quality(key: str, data_dir_text: str) -> tuple[dict, pd.DataFrame]:
    from fer.data import eda

    faces = dataset(key, data_dir_text)
    return eda.quality_summary(faces), eda.duplicate_groups(faces)


@st.cache_data(show_spinner="Computing pixel statistics…")
def pixel_statistics(key: str, data_dir_text: str, split: str | None) -> pd.DataFrame:
    from fer.data import eda

    faces = dataset(key, data_dir_text)
    return eda.pixel_statistics(faces if split is None else faces.split(split))


# ------------------------------------------------------------------------------------ models


@st.cache_resource(show_spinner="Loading the model…")
def model(model_dir_text: str):
    """An :class:`fer.models.inference.EmotionModel`; its runners are lock-guarded, so sharing is
    safe."""
    from fer.models.inference import load_model

    return load_model(model_dir_text)


def model_version(model_dir: Path) -> float:
    """Modification time of the model's card: changes when a model is republished."""
    card = Path(model_dir) / "card.json"
    return card.stat().st_mtime if card.is_file() else 0.0


def sample_positions(n_rows: int, n_samples: int, seed: int) -> np.ndarray:
    """A seeded, sorted subset of row positions (all rows when ``n_samples`` >= ``n_rows``)."""
    if n_samples >= n_rows:
        return np.arange(n_rows)
    return np.sort(np.random.default_rng(seed).choice(n_rows, n_samples, replace=False))


@st.cache_data(show_spinner="Running the model on the faces…")
def split_outputs(
    model_dir_text: str,
    data_dir_text: str,
    split: str,
    n_samples: int,
    seed: int,
    embeddings: bool,
    model_version: float = 0.0,
) -> dict:
    """Probabilities (and embeddings if asked) of a seeded subset of one split, with the true
    labels and the subset's positions within the split. ``model_version`` (see
    :func:`model_version`) only keys the cache, so a retrained model is not served stale."""
    from fer.models.cards import InvalidModelError, card_label_set

    emotion_model = model(model_dir_text)
    label_set = card_label_set(emotion_model.card, Path(model_dir_text))
    faces = dataset(label_set, data_dir_text).split(split)
    if list(faces.class_names) != list(emotion_model.classes):
        raise InvalidModelError(
            f"{Path(model_dir_text) / 'card.json'}: its classes {list(emotion_model.classes)} "
            f"are not those of the {label_set} faces: {list(faces.class_names)}"
        )
    positions = sample_positions(len(faces), n_samples, seed)
    images = faces.images[positions]
    result = {
        "positions": positions,
        "labels": faces.labels[positions],
        "classes": list(faces.class_names),
        "probabilities": emotion_model.predict(images),
    }
    if embeddings:
        result["embeddings"] = emotion_model.embed(images)
    return result


def usable_split_outputs(
    model_dir: Path, data_dir: Path, split: str, n_samples: int, seed: int, embeddings: bool
) -> dict | None:
    """:func:`split_outputs`, or None after an error on the page naming what keeps the model
    (a damaged card or model file, a label set with no dataset) from being run."""
    from fer.models.cards import ModelNotFoundError

    try:
        return split_outputs(
            str(model_dir), str(data_dir), split, n_samples, seed, embeddings,
            model_version(model_dir),
        )
    except (ModelNotFoundError, ValueError, OSError) as error:  # InvalidModelError too
        st.error(f"The model {model_dir.name} cannot be run: {error}")
        return None


# ---------------------------------------------------------------------------------- sessions


def session_store():
    """The shared session store (``ui.resources``)."""
    from ui.resources import session_store as shared_store

    return shared_store()


def session_table(store, viewer) -> pd.DataFrame:
    """The sessions ``viewer`` may see as a table, newest first (empty when there are none)."""
    rows = [
        {
            "id": info.id,
            "started_at": info.started_at,
            "source": info.source,
            "model": info.model,
            "n_frames": info.n_frames,
            "notes": info.notes,
        }
        for info in store.list_sessions(viewer=viewer)
    ]
    return pd.DataFrame(rows, columns=["id", "started_at", "source", "model", "n_frames", "notes"])


def session_label(row: pd.Series) -> str:
    """``#3 · 2026-01-05 14:02 · uploaded picture · 1 face result`` (a face result is one
    face in one frame)."""
    from ui.sessions import source_in_words

    started = pd.Timestamp(row["started_at"]).strftime("%Y-%m-%d %H:%M")
    n_results = int(row["n_frames"])
    results = f"{n_results} face result{'' if n_results == 1 else 's'}"
    return f"#{row['id']} · {started} · {source_in_words(row['source'])} · {results}"


def pick_session(store, key: str, viewer) -> int | None:
    """A selectbox over the sessions ``viewer`` may see; None (with an info message) when there
    are none. Labels carry no user-given text (names and notes are shown as plain text)."""
    table = session_table(store, viewer)
    if table.empty:
        st.info(NO_SESSION_MESSAGE)
        return None
    labels = {int(row["id"]): session_label(row) for _, row in table.iterrows()}
    return st.selectbox("Session", list(labels), format_func=labels.get, key=key)


def pick_model(key: str) -> Path | None:
    """A model selectbox over ``models/*/card.json``; None (with a message) when there is none."""
    from fer.evaluation.reports import folders_without_card, list_models

    names = list_models(models_dir())
    strays = folders_without_card(models_dir())
    if strays:
        st.warning(
            f"Not offered: {', '.join(strays)} in {models_dir()} hold no readable card.json "
            "(a damaged model, or not a model)."
        )
    if not names:
        st.info(NO_MODEL_MESSAGE)
        return None
    name = st.selectbox("Model", names, key=key)
    return models_dir() / name
