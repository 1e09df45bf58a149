"""Recorded sessions: consent, per-frame results, and what is derived from them.

``schema`` (sources, limits, the names of the per-face signals), ``records`` (validated record
types), ``store`` (``SessionStore``, on :mod:`fer.storage`), ``consents``, ``reading`` and
``deletion`` (its consent records, reads and deletions), ``markers`` (clinicians' timestamped
notes), ``queries`` (who sees which sessions; rows into records and tables), ``retention``
(withdrawal, erasure, purge, closing crashed sessions), ``recorder`` (buffered writes from the
live page), ``exports`` (CSV and JSON), ``replay`` (timeline statistics of a recorded session),
``insights`` (baseline-relative figures of a session), ``trends`` (a client's figures across
sessions).
"""
