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
MAX_MARKER_NOTE_LENGTH = 500

# The per-face signals a frame may carry (fer.realtime.signals defines them; the session layer
# sits below realtime and cannot import it, and a test keeps the two lists equal). The store
# spreads stored signals into one column per name; a unit stored but not listed here still gets
# its column.
ACTION_UNITS = (
    "AU1", "AU2", "AU4", "AU5", "AU6", "AU7", "AU9", "AU10", "AU12", "AU14", "AU15", "AU17",
    "AU20", "AU23", "AU25", "AU26", "AU43",
)
TWO_SIDED_ACTION_UNITS = (
    "AU2", "AU4", "AU5", "AU6", "AU7", "AU9", "AU10", "AU12", "AU14", "AU15", "AU20", "AU23",
    "AU43",
)
HEAD_POSE_AXES = ("yaw", "pitch", "roll")
ASYMMETRY_PREFIX = "asym_"
