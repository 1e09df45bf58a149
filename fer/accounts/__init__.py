"""Who may do what: local accounts with roles (``users``) and the append-only audit log
(``audit``), kept in the session database."""

from fer.accounts.audit import AuditLog
from fer.accounts.users import (
    LOCKOUT,
    MAX_FAILED_LOGINS,
    ROLES,
    AccountStore,
    LockedOutError,
    LoginError,
    User,
    UserNotFoundError,
)

__all__ = [
    "LOCKOUT",
    "MAX_FAILED_LOGINS",
    "ROLES",
    "AccountStore",
    "AuditLog",
    "LockedOutError",
    "LoginError",
    "User",
    "UserNotFoundError",
]
