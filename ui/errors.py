"""What a user sees when something fails: a short message with a random error id, never a
traceback. The details go to the server log under the same id, so an administrator can find them.

``.streamlit/config.toml`` sets ``client.showErrorDetails = "none"`` as the backstop for anything
that escapes :func:`guard` (Streamlit then shows a generic message without the exception).
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st
from streamlit.logger import get_logger

from ui.text import plain

LOGGER = get_logger("fer.app")

DATABASE_MESSAGE = (
    "The session database could not be read, so this page cannot be shown (error id {error_id}). "
    "Nothing was changed. Ask the administrator to check the database (FER_SESSION_DB) and, if "
    "the file is damaged, to restore it from a backup."
)
UNEXPECTED_MESSAGE = (
    "Something went wrong (error id {error_id}). Nothing was shown that should not be; the "
    "details are in the server log under this id."
)
MODEL_MESSAGE = (
    "The expression model {name} could not be loaded, so nothing can be analysed (error id "
    "{error_id}). Ask the administrator to check it; the details are in the server log under "
    "this id."
)


class DatabaseUnavailableError(RuntimeError):
    """The session database could not be opened (damaged, unreachable, or made by newer
    software); raised by ``ui.resources`` so pages show one clear message."""


def new_error_id() -> str:
    return secrets.token_hex(4)


def database_errors() -> tuple[type[BaseException], ...]:
    """Exception types that mean "the database is unreadable" rather than "a bug"."""
    errors: list[type[BaseException]] = [DatabaseUnavailableError, sqlite3.DatabaseError]
    try:
        from sqlalchemy.exc import SQLAlchemyError  # fer.storage.DatabaseError is an alias
    except ImportError:  # pragma: no cover - sqlalchemy comes with fer.storage
        pass
    else:
        errors.append(SQLAlchemyError)
    return tuple(errors)


def report_error(error: BaseException) -> str:
    """Log ``error`` with a new error id, show the user the short message; return the id."""
    error_id = new_error_id()
    if isinstance(error, database_errors()):
        LOGGER.error("error id %s: database unavailable", error_id, exc_info=error)
        st.error(DATABASE_MESSAGE.format(error_id=error_id), icon=":material/database:")
    else:
        LOGGER.error("error id %s: unexpected error on a page", error_id, exc_info=error)
        st.error(UNEXPECTED_MESSAGE.format(error_id=error_id), icon=":material/error:")
    return error_id


def report_model_error(error: BaseException, name: str, show: bool = True) -> str:
    """Log why the model ``name`` (its name, not a path) could not be loaded under a new error
    id; show the short message unless ``show`` is false; return the id. The exception's text,
    which names server paths, stays in the log."""
    error_id = new_error_id()
    LOGGER.error("error id %s: could not load the expression model %r", error_id, name,
                 exc_info=error)
    if show:
        st.error(MODEL_MESSAGE.format(name=plain(name), error_id=error_id),
                 icon=":material/error:")
    return error_id


@contextmanager
def guard() -> Iterator[None]:
    """Run a page body; an exception becomes :func:`report_error`'s message.

    Streamlit's own control flow (``st.rerun``, ``st.stop``) raises ``BaseException``
    subclasses, which pass through untouched.
    """
    try:
        yield
    except Exception as error:  # every failure ends here, shown without details
        report_error(error)
