"""What a session may hold: sources, the consent statement and the limits every write checks.

The tables themselves are made by the migrations in :mod:`fer.storage.migrations` and named for
queries in :mod:`fer.storage.tables`.
"""

from __future__ import annotations

from datetime import timedelta

SOURCES = ("live", "image", "video")
CONSENT_STATEMENT = (
    "I agree that my face is analysed by this software during the session and that the "
    "results are stored for my clinician. I can withdraw this consent at any time."
)
MAX_NAME_LENGTH = 200
MAX_NOTES_LENGTH = 20_000
# A consent time a little ahead of this machine's clock is tolerated (clients' clocks drift).
CLOCK_SKEW = timedelta(seconds=5)
