"""Where sessions, accounts and the audit log are kept: SQLite (embedded) or PostgreSQL.

``database`` (locations, engines, private files, transactions), ``erasure`` (erasing deleted
rows from disk), ``tables`` (SQLAlchemy Core tables for queries), ``migrations`` (the schema's
history, applied on open), ``installation`` (the database's own random id, which names it in
records sent elsewhere).
"""

from fer.storage.database import DatabaseError, open_engine
from fer.storage.erasure import erase_free_space

__all__ = ["DatabaseError", "erase_free_space", "open_engine"]
