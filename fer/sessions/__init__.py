"""Recorded sessions: consent, per-frame results, and what is derived from them.

``schema`` (tables and limits), ``records`` (validated record types), ``store``
(``SessionStore``), ``recorder`` (buffered writes from the live page), ``exports`` (CSV and
JSON), ``replay`` (timeline statistics of a recorded session).
"""
