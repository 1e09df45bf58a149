"""SQLite's REPLACE cannot undo what the triggers protect.

Revision ID: r0009
Revises: r0008
Create Date: 2025-01-09

``INSERT OR REPLACE`` (and ``UPDATE OR REPLACE`` onto another row's key) deletes the row it
conflicts with and inserts a new one, and SQLite fires no delete trigger for that deletion
(unless a connection turns on ``recursive_triggers``, which a careless integration does not). So
a plain connection could rewrite an audit entry, give the database a new installation id, take
back a withdrawal of consent, reopen an ended session or move a room back to ``waiting``, all of
which the triggers of r0002, r0004 and r0007 refuse as updates. Here an insert whose key is
already taken, and any change of those keys, is refused instead: the store never does either.

PostgreSQL has no REPLACE; its ``INSERT ... ON CONFLICT DO UPDATE`` fires the update triggers.
Nothing changes there.
"""

from alembic import op

revision = "r0009"
down_revision = "r0008"
branch_labels = None
depends_on = None

AUDIT_MESSAGE = "the audit log is append-only"
INSTALLATION_MESSAGE = "the installation id is kept for the life of the database"
REPLACED = "{table} rows are never replaced or given another key"


def _guards(table: str, keys: tuple[str, ...], message: str) -> list[str]:
    """Triggers refusing an insert onto a taken ``keys`` value and a change of ``keys``."""
    taken = " OR ".join(f"{key} = NEW.{key}" for key in keys)
    changed = " OR ".join(f"NEW.{key} IS NOT OLD.{key}" for key in keys)
    return [
        f"""CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table}
    WHEN EXISTS (SELECT 1 FROM {table} WHERE {taken})
    BEGIN SELECT RAISE(ABORT, '{message}'); END""",
        f"""CREATE TRIGGER {table}_keep_keys BEFORE UPDATE OF {', '.join(keys)} ON {table}
    WHEN {changed}
    BEGIN SELECT RAISE(ABORT, '{message}'); END""",
    ]


SQLITE = [
    # Every update of these two is refused already (r0002, r0007): only the insert is new.
    f"""CREATE TRIGGER audit_log_no_replace BEFORE INSERT ON audit_log
    WHEN EXISTS (SELECT 1 FROM audit_log WHERE id = NEW.id)
    BEGIN SELECT RAISE(ABORT, '{AUDIT_MESSAGE}'); END""",
    f"""CREATE TRIGGER installation_no_replace BEFORE INSERT ON installation
    WHEN EXISTS (SELECT 1 FROM installation)
    BEGIN SELECT RAISE(ABORT, '{INSTALLATION_MESSAGE}'); END""",
    *_guards("consents", ("id",), REPLACED.format(table="consent")),
    *_guards("sessions", ("id",), REPLACED.format(table="session")),
    *_guards("rooms", ("id", "room_key", "code_hash"), REPLACED.format(table="room")),
    "PRAGMA user_version=9",
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE:
            op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("The session database is not downgraded; restore a backup instead")
