"""The installation id: a random UUID that schema revision r0007 gave the database, once.

It names the database wherever its records meet another installation's: the FHIR bundle
(:mod:`fer.reporting.fhir`) makes its resource ids in the id's namespace, so that consent 1 or
client code "C-17" of one clinic never shares a resource with another clinic's. The schema's
triggers refuse to change it. A copy of the database (a restored backup) keeps it, as it should:
the copy holds the same clients.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Engine, select

from fer.storage.database import read_connection
from fer.storage.tables import installation


def read_installation_id(engine: Engine) -> uuid.UUID:
    """The id of the database behind ``engine`` (opened, so migrated, by
    :func:`fer.storage.database.open_engine`)."""
    with read_connection(engine) as connection:
        value = connection.execute(select(installation.c.id)).scalar_one()
    return uuid.UUID(value)
