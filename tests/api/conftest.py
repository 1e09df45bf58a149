"""Fixtures of the API tests: the world of :mod:`tests.api.helpers` and a client of the app."""

from __future__ import annotations

import pytest

from tests.api.helpers import SERVICE_TOKEN, World, build_world


@pytest.fixture
def world(tmp_path, cheap_password_hashes) -> World:
    return build_world(tmp_path / "data" / "sessions.db")


@pytest.fixture
def client(world):
    from fastapi.testclient import TestClient

    from fer.api import create_app

    app = create_app(world.database, service_token=SERVICE_TOKEN)
    with TestClient(app) as test_client:
        yield test_client
