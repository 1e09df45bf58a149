"""A revoked API token stays revoked, and frames stay with the session that recorded them.

Revision ID: r0010
Revises: r0009
Create Date: 2025-01-10

The store never changes these, but a careless integration with its own connection could: clear
``api_tokens.revoked_at`` (a revoked token works again), put off or remove a token's expiry, give
a token another hash or account, or move frames into another session (one that has ended, or
whose consent was withdrawn, which ``frames_need_open_session`` refuses only for inserts). These
triggers refuse each of them, in both dialects; on SQLite an ``INSERT OR REPLACE`` onto a taken
token id or hash is refused too (see r0009 for why REPLACE needs its own guard).
"""

from alembic import op

revision = "r0010"
down_revision = "r0009"
branch_labels = None
depends_on = None

REVOKED = "a revoked API token cannot be brought back"
KEPT = "an API token keeps its hash and its account"
EXPIRY = "the expiry of an API token cannot be put off or removed"
FRAMES = "frames stay with the session that recorded them"
REPLACED = "API token rows are never replaced or given another key"

SQLITE = [
    f"""CREATE TRIGGER api_tokens_stay_revoked BEFORE UPDATE OF revoked_at ON api_tokens
    WHEN OLD.revoked_at IS NOT NULL AND NEW.revoked_at IS NOT OLD.revoked_at
    BEGIN SELECT RAISE(ABORT, '{REVOKED}'); END""",
    f"""CREATE TRIGGER api_tokens_keep_hash_and_account
    BEFORE UPDATE OF id, token_hash, user_id ON api_tokens
    WHEN NEW.id IS NOT OLD.id OR NEW.token_hash IS NOT OLD.token_hash
        OR NEW.user_id IS NOT OLD.user_id
    BEGIN SELECT RAISE(ABORT, '{KEPT}'); END""",
    f"""CREATE TRIGGER api_tokens_keep_expiry BEFORE UPDATE OF expires_at ON api_tokens
    WHEN OLD.expires_at IS NOT NULL
        AND (NEW.expires_at IS NULL OR NEW.expires_at > OLD.expires_at)
    BEGIN SELECT RAISE(ABORT, '{EXPIRY}'); END""",
    f"""CREATE TRIGGER api_tokens_no_replace BEFORE INSERT ON api_tokens
    WHEN EXISTS (SELECT 1 FROM api_tokens WHERE id = NEW.id OR token_hash = NEW.token_hash)
    BEGIN SELECT RAISE(ABORT, '{REPLACED}'); END""",
    f"""CREATE TRIGGER frames_keep_session BEFORE UPDATE OF session_id ON frames
    WHEN NEW.session_id IS NOT OLD.session_id
    BEGIN SELECT RAISE(ABORT, '{FRAMES}'); END""",
    "PRAGMA user_version=10",
]


def _plpgsql_guard(name: str, condition: str, message: str) -> str:
    """A trigger function that raises an integrity error when ``condition`` holds."""
    return f"""CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
    BEGIN
        IF {condition} THEN
            RAISE EXCEPTION '{message}' USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
    END $$"""


POSTGRESQL = [
    _plpgsql_guard(
        "fer_api_tokens_stay",
        """(OLD.revoked_at IS NOT NULL AND NEW.revoked_at IS DISTINCT FROM OLD.revoked_at)""",
        REVOKED,
    ),
    _plpgsql_guard(
        "fer_api_tokens_keep_hash_and_account",
        """NEW.id IS DISTINCT FROM OLD.id OR NEW.token_hash IS DISTINCT FROM OLD.token_hash
            OR NEW.user_id IS DISTINCT FROM OLD.user_id""",
        KEPT,
    ),
    _plpgsql_guard(
        "fer_api_tokens_keep_expiry",
        """OLD.expires_at IS NOT NULL
            AND (NEW.expires_at IS NULL OR NEW.expires_at > OLD.expires_at)""",
        EXPIRY,
    ),
    _plpgsql_guard(
        "fer_frames_keep_session", "NEW.session_id IS DISTINCT FROM OLD.session_id", FRAMES
    ),
    """CREATE TRIGGER api_tokens_stay_revoked BEFORE UPDATE OF revoked_at
    ON api_tokens FOR EACH ROW EXECUTE FUNCTION fer_api_tokens_stay()""",
    """CREATE TRIGGER api_tokens_keep_hash_and_account BEFORE UPDATE OF id, token_hash, user_id
    ON api_tokens FOR EACH ROW EXECUTE FUNCTION fer_api_tokens_keep_hash_and_account()""",
    """CREATE TRIGGER api_tokens_keep_expiry BEFORE UPDATE OF expires_at
    ON api_tokens FOR EACH ROW EXECUTE FUNCTION fer_api_tokens_keep_expiry()""",
    """CREATE TRIGGER frames_keep_session BEFORE UPDATE OF session_id
    ON frames FOR EACH ROW EXECUTE FUNCTION fer_frames_keep_session()""",
]


def upgrade() -> None:
    statements = SQLITE if op.get_bind().dialect.name == "sqlite" else POSTGRESQL
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("The session database is not downgraded; restore a backup instead")
