"""r0008: API tokens get an expiry; a token issued before the upgrade keeps working, with no
expiry (what it was issued with), in each backend."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from fer.accounts.tokens import DEFAULT_TOKEN_LIFETIME, TokenStore
from fer.storage.database import forget_engine
from fer.storage.migrations import head_revision
from tests.storage.migration_support import HEAD, database_at, execute, rows

OLD_TOKEN = "an-old-service-token-issued-before-r0008-0123456789"


def test_a_token_issued_before_the_upgrade_keeps_working_without_expiry(database_location):
    with database_at(database_location, "r0007") as connection:
        execute(connection, "INSERT INTO api_tokens (user_id, name, token_hash, created_at) "
                "VALUES (NULL, 'ehr', :digest, :t)",
                digest=hashlib.sha256(OLD_TOKEN.encode()).hexdigest(),
                t=datetime(2025, 1, 7, tzinfo=UTC).isoformat())
    try:
        tokens = TokenStore(database_location)
        assert head_revision() == HEAD
        assert rows(database_location, "SELECT version_num FROM alembic_version") == [(HEAD,)]
        old = tokens.verify(OLD_TOKEN, now=datetime.now(UTC) + timedelta(days=3000))
        assert old.name == "ehr" and old.expires_at is None
        new, _ = tokens.issue(None, "after the upgrade")
        assert new.expires_at - new.created_at == DEFAULT_TOKEN_LIFETIME
        assert [record.expires_at for record in tokens.list_tokens()] == [None, new.expires_at]
    finally:
        forget_engine(database_location)
