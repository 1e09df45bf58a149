"""Streamlit-only resource helpers: where the session database, the model and the face
landmarker are; cached loaders for the shared (thread-safe) objects; the stores for sessions,
accounts and the audit log; and the maintenance the app runs at start-up and daily.

The app's environment variables are read here, at the edge (in ``fer`` only ``fer.config``,
the command line and ``fer.models.runners``'s ``FER_THREADS`` read any):

- ``FER_SESSION_DB``: the database, a file path (SQLite, default
  ``fer.config.DEFAULT_SESSION_DB``) or a ``postgresql://`` URL; sessions, accounts and the audit
  log live in it together;
- ``FER_RETENTION_DAYS``: when set, sessions that started longer ago are deleted at start-up and
  then once a day;
- ``FER_MODEL``: model name under ``models/`` or a model directory, overriding the picker;
- ``FER_DATA_DIR``: folder holding ``face_landmarker.task``.
"""

from __future__ import annotations

import gc
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import streamlit as st

from fer import config
from fer.realtime.pipeline import DEFAULT_MODEL
from ui.errors import DatabaseUnavailableError, report_model_error
from ui.text import plain

SESSION_DB_ENV = "FER_SESSION_DB"
MODEL_ENV = "FER_MODEL"
# The same default as EmotionRecognizer(): chosen by the robustness comparison in its card.
PREFERRED_MODEL = DEFAULT_MODEL
PURGE_EVERY_S = 24 * 60 * 60
# With several app instances on one PostgreSQL server, a session another instance is recording
# must not count as abandoned: only sessions without a frame for this long are closed there.
SHARED_DATABASE_IDLE = timedelta(hours=12)
SYSTEM_ACTOR = "system"

NO_MODEL_MESSAGE = (
    "No trained expression model is available. Train and publish one (see README, section "
    "'Training'); it appears under `models/<name>/` with a `card.json`. Or set FER_MODEL to a "
    "model directory."
)


def session_db_location() -> str:
    """``$FER_SESSION_DB`` (a file path or a PostgreSQL URL), else the default file."""
    value = os.environ.get(SESSION_DB_ENV, "").strip()
    if not value:
        return str(config.DEFAULT_SESSION_DB)
    if is_database_url(value):
        return value
    return str(Path(value).expanduser())


def is_database_url(location: str) -> bool:
    return location.startswith(("postgresql://", "postgresql+psycopg://"))


def _open(factory, location: str):
    """``factory(location)``, with a failure to open turned into one clear error (the cause
    goes to the server log with the page's error id, not to the browser)."""
    from fer.storage import DatabaseError

    try:
        return factory(location)
    except (DatabaseError, ValueError, OSError) as error:
        raise DatabaseUnavailableError(f"could not open the database: {error}") from error


@st.cache_resource(show_spinner=False)
def _session_store(location: str):
    from fer.sessions.store import SessionStore

    return _open(SessionStore, location)


@st.cache_resource(show_spinner=False)
def _account_store(location: str):
    from fer.accounts import AccountStore

    return _open(AccountStore, location)


@st.cache_resource(show_spinner=False)
def _audit_log(location: str):
    from fer.accounts import AuditLog

    return _open(AuditLog, location)


def session_store():
    """The shared :class:`fer.sessions.store.SessionStore` (thread-safe: each call opens its own
    connection)."""
    return _session_store(session_db_location())


def account_store():
    """The shared :class:`fer.accounts.AccountStore`."""
    return _account_store(session_db_location())


def audit_log():
    """The shared, append-only :class:`fer.accounts.AuditLog`."""
    return _audit_log(session_db_location())


# ------------------------------------------------------------------------------ maintenance


def retention_days(environ=None) -> int | None:
    """``$FER_RETENTION_DAYS`` as a whole number of days, None when unset."""
    return config.retention_days_from_env(environ)


@dataclass
class Maintenance:
    """When this process last purged old sessions (shared by every browser session)."""

    last_purge_s: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


@st.cache_resource(show_spinner=False)
def _start_up(location: str) -> Maintenance:
    """Once per process and database: close the sessions a crash left open."""
    store = session_store()
    idle_for = SHARED_DATABASE_IDLE if is_database_url(location) else timedelta(0)
    # The audit entry commits with the closing, as the purge's does.
    store.close_abandoned_sessions(idle_for=idle_for, actor=SYSTEM_ACTOR)
    return Maintenance()


def run_maintenance(now_s: float | None = None) -> int:
    """Start-up work (first call of the process), then the retention purge when
    ``FER_RETENTION_DAYS`` is set and a day has passed since the last one. Called on every page
    run; returns the number of sessions purged now."""
    maintenance = _start_up(session_db_location())
    days = retention_days()
    if days is None:
        return 0
    now_s = time.time() if now_s is None else now_s
    with maintenance.lock:
        last = maintenance.last_purge_s
        if last is not None and now_s - last < PURGE_EVERY_S:
            return 0
        # The audit entry commits with the purge, as for `fer sessions purge`.
        n_purged = session_store().purge_older_than(days, actor=SYSTEM_ACTOR)
        maintenance.last_purge_s = now_s
    return n_purged


# ----------------------------------------------------------------------------------- models


def landmarker_path() -> Path | None:
    """``face_landmarker.task`` from ``$FER_DATA_DIR``, else the project's ``data/`` folder: the
    same lookup as ``EmotionRecognizer``'s default (``fer.config.find_landmarker_bundle``)."""
    return config.find_landmarker_bundle()


def available_models() -> list[str]:
    from fer.evaluation.reports import list_models

    return list_models(Path(config.MODELS_DIR))


def model_display_name(name_or_path: str) -> str:
    """What a page calls a model: its folder's name, never the server path ``$FER_MODEL`` may
    hold."""
    return Path(name_or_path).name or name_or_path


def choose_model(key: str) -> str | None:
    """The model to use: ``$FER_MODEL`` if set, else a picker over ``models/``.

    Shows an error and returns None when there is no model.
    """
    forced = os.environ.get(MODEL_ENV)
    if forced:
        st.sidebar.caption(f"Model set by {MODEL_ENV}: {plain(model_display_name(forced))}")
        return forced
    names = available_models()
    if not names:
        st.error(NO_MODEL_MESSAGE)
        return None
    index = names.index(PREFERRED_MODEL) if PREFERRED_MODEL in names else 0
    return st.sidebar.selectbox("Expression model", names, index=index, key=key)


@st.cache_data(show_spinner=False)
def unreliable_expressions(name_or_path: str) -> dict[str, str]:
    """``{expression: why}`` for the expressions the model cannot be trusted on, from its
    robustness results (fer.models.reliability); empty when it has none or no results."""
    from fer.models.cards import ModelNotFoundError, resolve_model_dir
    from fer.models.reliability import model_reliability

    try:
        return model_reliability(resolve_model_dir(name_or_path))
    except (ModelNotFoundError, ValueError):
        return {}


@st.cache_resource(show_spinner="Loading the expression model…")
def emotion_model(name_or_path: str):
    """A loaded :class:`fer.models.inference.EmotionModel`, shared by all sessions (its runners are
    lock-guarded). Per-session state (tracks, smoothing) lives in each EmotionRecognizer."""
    from fer.models.inference import load_model

    return load_model(name_or_path)


def keep_loaded_models_out_of_collections() -> None:
    """Leave everything loaded so far out of the garbage collector's full collections.

    Called once a recognizer has loaded its model and face detector. Streamlit runs a full
    collection, twice (its own and Keras's clear_session), after every script run, and Python
    runs them as allocations pile up; over the objects TensorFlow and MediaPipe leave behind each
    takes long enough to starve the frame worker of the interpreter. Frozen objects are skipped
    by every collection; reference counting still frees them.
    """
    gc.collect()
    gc.freeze()


def load_model_or_error(name_or_path: str, show_error: bool = True):
    """The model, or None after logging why it could not be loaded and (unless ``show_error``
    is false) showing the model's name with an error id: the reason names server paths, so it
    goes to the log only."""
    from fer.models.cards import ModelNotFoundError

    try:
        return emotion_model(name_or_path)
    except (ModelNotFoundError, ValueError, OSError) as error:
        report_model_error(error, model_display_name(name_or_path), show=show_error)
        return None

