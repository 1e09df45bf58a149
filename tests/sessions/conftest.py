"""The session store in each backend: every test taking ``store`` runs on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from fer.sessions.store import SessionStore
from tests.sessions.helpers import CLASSES


@pytest.fixture
def store(database_location) -> SessionStore:
    return SessionStore(database_location)


@pytest.fixture
def session_id(store) -> int:
    consent = store.record_consent("Dana Client")
    return store.create_session(consent.id, "ferplus", CLASSES, "live")
