"""How bright each recorded face was: the share of its crop clipped to white.

Revision ID: r0005
Revises: r0004
Create Date: 2025-01-05

``frames`` gains ``clipped_share``, the share of the model's 48×48 crop at or above the clipped
level (:mod:`fer.data.lighting`), which the pipeline measures for every face it reads. A reading
from a face that bright is less reliable, and the record keeps the measurement rather than a
yes/no, so that a report made later applies the threshold of its day to what was measured. NULL
for frames recorded before this revision, and for faces without a crop.
"""

from alembic import op

revision = "r0005"
down_revision = "r0004"
branch_labels = None
depends_on = None

IN_RANGE = "CHECK (clipped_share IS NULL OR (clipped_share >= 0 AND clipped_share <= 1))"

SQLITE = [
    f"ALTER TABLE frames ADD COLUMN clipped_share REAL {IN_RANGE}",
    "PRAGMA user_version=5",
]

POSTGRESQL = [
    f"ALTER TABLE frames ADD COLUMN clipped_share DOUBLE PRECISION {IN_RANGE}",
]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for statement in SQLITE if dialect == "sqlite" else POSTGRESQL:
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("The session database is not downgraded; restore a backup instead")
