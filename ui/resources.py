"""Streamlit-only resource helpers for the Live and Upload pages: where the session database, the
model and the face landmarker are, and cached loaders for the shared (thread-safe) objects.

Environment variables are read here, at the edge, and nowhere in ``fer``:

- ``FER_SESSION_DB``: session database file (default ``fer.config.DEFAULT_SESSION_DB``);
- ``FER_MODEL``: model name under ``models/`` or a model directory, overriding the picker;
- ``FER_DATA_DIR``: folder holding ``face_landmarker.task``.
"""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from fer import config

SESSION_DB_ENV = "FER_SESSION_DB"
MODEL_ENV = "FER_MODEL"
PREFERRED_MODEL = "ferplus"

NO_MODEL_MESSAGE = (
    "No trained expression model is available. Train and publish one (see README, section "
    "'Training'); it appears under `models/<name>/` with a `card.json`. Or set FER_MODEL to a "
    "model directory."
)


def session_db_path() -> Path:
    value = os.environ.get(SESSION_DB_ENV)
    return Path(value).expanduser() if value else Path(config.DEFAULT_SESSION_DB)


@st.cache_resource(show_spinner=False)
def _session_store(path_text: str):
    from fer.sessions.store import SessionStore

    return SessionStore(path_text)


def session_store():
    """The shared :class:`fer.sessions.store.SessionStore` (one connection per call, so it is
    thread-safe)."""
    return _session_store(str(session_db_path()))


def landmarker_path() -> Path | None:
    """``face_landmarker.task`` from ``$FER_DATA_DIR``, else the project's ``data/`` folder: the
    same lookup as ``EmotionRecognizer``'s default (``fer.config.find_landmarker_bundle``)."""
    return config.find_landmarker_bundle()


def available_models() -> list[str]:
    from fer.evaluation.reports import list_models

    return list_models(Path(config.MODELS_DIR))


def choose_model(key: str) -> str | None:
    """The model to use: ``$FER_MODEL`` if set, else a picker over ``models/``.

    Shows an error and returns None when there is no model.
    """
    forced = os.environ.get(MODEL_ENV)
    if forced:
        st.sidebar.caption(f"Model set by {MODEL_ENV}: `{forced}`")
        return forced
    names = available_models()
    if not names:
        st.error(NO_MODEL_MESSAGE)
        return None
    index = names.index(PREFERRED_MODEL) if PREFERRED_MODEL in names else 0
    return st.sidebar.selectbox("Expression model", names, index=index, key=key)


@st.cache_resource(show_spinner="Loading the expression model…")
def emotion_model(name_or_path: str):
    """A loaded :class:`fer.models.inference.EmotionModel`, shared by all sessions (its runners are
    lock-guarded). Per-session state (tracks, smoothing) lives in each EmotionRecognizer."""
    from fer.models.inference import load_model

    return load_model(name_or_path)


def load_model_or_error(name_or_path: str):
    """The model, or None after showing why it could not be loaded."""
    from fer.models.inference import ModelNotFoundError

    try:
        return emotion_model(name_or_path)
    except (ModelNotFoundError, ValueError, OSError) as error:
        st.error(f"Could not load the expression model {name_or_path!r}: {error}")
        return None


def model_label(model, tta: str) -> str:
    """How a session records its model: card name, version when the card has one, and the
    test-time views its predictions averaged (the recognizer's ``tta``)."""
    version = model.card.get("version")
    label = f"{model.name} v{version}" if version else model.name
    return label + (f", tta {tta}" if tta != "none" else "")
