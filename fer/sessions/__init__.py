"""Recorded sessions: consent, per-frame results, and what is derived from them.

``schema`` (sources and limits), ``records`` (validated record types), ``store``
(``SessionStore``, on :mod:`fer.storage`), ``queries`` (who sees which sessions; rows into
records), ``retention`` (withdrawal, erasure, purge, closing crashed sessions), ``recorder``
(buffered writes from the live page), ``exports`` (CSV and JSON), ``replay`` (timeline
statistics of a recorded session).
"""
