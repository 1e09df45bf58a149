"""API tokens expire.

Revision ID: r0008
Revises: r0007
Create Date: 2025-01-08

A token issued for a health-record integration used to work until someone revoked it, however
long it had lain forgotten in a script or a backup. ``api_tokens.expires_at`` is the time after
which the token no longer verifies (:mod:`fer.accounts.tokens`); new tokens get one when they
are issued. Tokens issued before this revision keep ``NULL``, no expiry, as they were promised:
``fer users token NAME --list`` shows them as "no expiry", to be revoked and issued again.
"""

from alembic import op

revision = "r0008"
down_revision = "r0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Times are ISO 8601 text in UTC in both dialects (fer.storage.tables.UtcTime).
    op.execute("ALTER TABLE api_tokens ADD COLUMN expires_at TEXT")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("PRAGMA user_version=8")


def downgrade() -> None:
    raise NotImplementedError("The session database is not downgraded; restore a backup instead")
