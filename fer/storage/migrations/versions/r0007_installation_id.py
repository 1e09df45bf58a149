"""Each database gets a random id of its own: the installation id.

Revision ID: r0007
Revises: r0006
Create Date: 2025-01-07

The FHIR bundle (:mod:`fer.reporting.fhir`) derived its resource ids from numbers and codes that
repeat across installations: consent 1, or client code "C-17", of one clinic had the same
Patient and Consent ids as those of another, so two clinics sending bundles to one health record
overwrote each other's clients. ``installation`` holds one row, a UUID4 made when this revision
runs (once per database, so a fresh database and an upgraded one each get their own), in whose
namespace the bundle's ids are made. Triggers refuse to change or delete it: a new id would file
every resent bundle as new resources beside the old ones.
"""

import uuid

import sqlalchemy
from alembic import op

revision = "r0007"
down_revision = "r0006"
branch_labels = None
depends_on = None

TABLE = """CREATE TABLE installation (
    only_row INTEGER PRIMARY KEY CHECK (only_row = 1),
    id TEXT NOT NULL CHECK (length(id) = 36)
)"""
KEPT = "the installation id is kept for the life of the database"

SQLITE = [
    TABLE,
    f"""CREATE TRIGGER installation_no_update BEFORE UPDATE ON installation
    BEGIN SELECT RAISE(ABORT, '{KEPT}'); END""",
    f"""CREATE TRIGGER installation_no_delete BEFORE DELETE ON installation
    BEGIN SELECT RAISE(ABORT, '{KEPT}'); END""",
    "PRAGMA user_version=7",
]

POSTGRESQL = [
    TABLE,
    f"""CREATE FUNCTION fer_installation_kept() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
    BEGIN
        RAISE EXCEPTION '{KEPT}' USING ERRCODE = 'integrity_constraint_violation';
    END $$""",
    """CREATE TRIGGER installation_kept BEFORE UPDATE OR DELETE
    ON installation FOR EACH ROW EXECUTE FUNCTION fer_installation_kept()""",
    """CREATE TRIGGER installation_no_truncate BEFORE TRUNCATE
    ON installation FOR EACH STATEMENT EXECUTE FUNCTION fer_installation_kept()""",
]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    table, *guards = SQLITE if dialect == "sqlite" else POSTGRESQL
    op.execute(table)
    op.execute(
        sqlalchemy.text("INSERT INTO installation (only_row, id) VALUES (1, :id)")
        .bindparams(id=str(uuid.uuid4()))
    )
    for statement in guards:
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("The session database is not downgraded; restore a backup instead")
