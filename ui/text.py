"""User-given text (names, notes, file names) inside Streamlit's markdown elements.

Where a page can, it shows such text with ``st.text`` or in a table, which never interpret it.
Messages that must carry it (``st.error`` with a file name in an error message) go through
:func:`plain`, which backslash-escapes every ASCII punctuation character: CommonMark then renders
each one literally, so no image, link, HTML, LaTeX or colour tag can form.
"""

from __future__ import annotations

import string

_ESCAPES = str.maketrans({char: "\\" + char for char in string.punctuation})


def plain(text: object) -> str:
    """``text`` as markdown that renders exactly as written (line breaks become spaces)."""
    return " ".join(str(text).translate(_ESCAPES).split())
