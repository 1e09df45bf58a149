"""Fixtures for every app test."""

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch):
    """Argon2 with the cheapest parameters: the tests create and log in many users."""
    from argon2 import PasswordHasher

    import fer.accounts.users

    monkeypatch.setattr(
        fer.accounts.users, "password_hasher",
        PasswordHasher(time_cost=1, memory_cost=8, parallelism=1),
    )


@pytest.fixture(autouse=True)
def no_app_settings_from_the_environment(monkeypatch):
    """The app reads these at its edge; a developer's shell must not change test results."""
    for name in ("FER_IDLE_TIMEOUT_MIN", "FER_RETENTION_DAYS"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def db_path(tmp_path, monkeypatch) -> Path:
    """An empty session database that the pages find through FER_SESSION_DB (page tests that
    also need a model define their own)."""
    path = tmp_path / "sessions.db"
    monkeypatch.setenv("FER_SESSION_DB", str(path))
    return path


@pytest.fixture
def app(tmp_path):
    """The app under ``streamlit run`` in a fresh database, for real-browser tests."""
    from tests.app.browser_support import require_browser, running_app

    require_browser()
    with running_app(tmp_path) as running:
        yield running
