"""Entry point of the FER workbench: login first, then the pages the user's role may open.

Run with ``bash scripts/run_app.sh`` (or ``streamlit run app.py`` from this folder, so that
``.streamlit/config.toml`` applies). ``st.navigation`` lists the pages (``ui.navigation``), not
the folder: the scripts in ``pages/`` are reachable only as the navigation offers them. Without a
login the only page is the login page, whatever URL the browser asks for.
"""

from __future__ import annotations

# streamlit_webrtc (aiortc) must be imported before TensorFlow/MediaPipe, or Python segfaults;
# the Live page imports both, and this file runs before every page.
import streamlit_webrtc  # noqa: F401  # isort: skip

import streamlit as st

from ui import auth, errors, navigation, resources


def main() -> None:
    st.set_page_config(page_title="FER workbench", page_icon=":material/mood:")
    with errors.guard():
        resources.run_maintenance()
        user = auth.check_session()
        page = st.navigation(navigation.navigation_pages(None if user is None else user.role))
        if user is not None:
            auth.sidebar(user)
        page.run()


main()
