"""A session id is never given twice (SQLite).

Revision ID: r0006
Revises: r0005
Create Date: 2025-01-06

SQLite numbers a new row one past the largest id in its table, so deleting the newest session
handed its id to the next one, often another client's: reports, audit entries and the pages'
state of the deleted session then named the new one. ``session_ids_deleted`` keeps the highest
id a deleted session had (a trigger updates it on every deletion) and the store numbers a new
session past it as well (:meth:`fer.sessions.store.SessionStore.create_session`). Ids deleted
before this revision are not known, so they may have been given again already.

PostgreSQL's identity columns never give an id twice; nothing changes there.
"""

from alembic import op

revision = "r0006"
down_revision = "r0005"
branch_labels = None
depends_on = None

SQLITE = [
    """CREATE TABLE session_ids_deleted (
    only_row INTEGER PRIMARY KEY CHECK (only_row = 1),
    highest INTEGER NOT NULL
)""",
    """CREATE TRIGGER sessions_remember_deleted_ids AFTER DELETE ON sessions
    BEGIN
        INSERT INTO session_ids_deleted (only_row, highest) VALUES (1, OLD.id)
        ON CONFLICT (only_row) DO UPDATE SET highest = max(highest, excluded.highest);
    END""",
    "PRAGMA user_version=6",
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE:
            op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("The session database is not downgraded; restore a backup instead")
