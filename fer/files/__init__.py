"""Writing the project's own files and folders so that readers never see half of one.

Model cards, evaluation files and dataset caches are read by other processes (the app, a
second command) while a command rewrites them; a crash or a full disk mid-write must leave the
old file whole, not a truncated one that every later load fails on (:mod:`fer.files.writes`). A
model is a folder of files that belong together, so it is replaced as a whole
(:func:`replacing_folders`, :mod:`fer.files.folders`), and models that belong together (the
heads of one training run) are replaced all or none, even when the process stops between two
of their swaps (:mod:`fer.files.journal`).
"""

from fer.files.folders import replacing_folder, replacing_folders, restore_interrupted_replacement
from fer.files.journal import TOGETHER_JOURNAL, UnsettledReplacementError
from fer.files.versions import WRITER_LOCK, previous_version
from fer.files.writes import exclusive, replacing, write_bytes_atomically, write_text_atomically

__all__ = [
    "TOGETHER_JOURNAL",
    "WRITER_LOCK",
    "UnsettledReplacementError",
    "exclusive",
    "previous_version",
    "replacing",
    "replacing_folder",
    "replacing_folders",
    "restore_interrupted_replacement",
    "write_bytes_atomically",
    "write_text_atomically",
]
