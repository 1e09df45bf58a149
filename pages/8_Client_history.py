"""Client history: one client's sessions, known by a pseudonymous code (never a name), and the
trends of the session insights across them. A clinician sees only the clients of the sessions
they may see."""

from __future__ import annotations

# streamlit_webrtc (aiortc) must be imported before TensorFlow/MediaPipe, or Python segfaults;
# any page may be the first one a user opens, so each imports it first.
import streamlit_webrtc  # noqa: F401  # isort: skip

import streamlit as st

from fer.sessions.trends import ABOUT, client_trends
from ui import auth, research, sessions

PAGE = "history"
DESCRIPTIVE = (
    "These figures are descriptive, not diagnostic: they summarise what the software read from "
    "the face in each session, not what the person felt, and support the clinician's judgement."
)


def record_view(client_code: str) -> None:
    """Audit that the logged-in user opened a client's history (once per browser session)."""
    viewed = st.session_state.setdefault("history.viewed", set())
    if client_code in viewed:
        return
    auth.audit("view_client_history", target=f"client {client_code}")
    viewed.add(client_code)


def main() -> None:
    user = auth.require_role(*auth.PATIENT_DATA_ROLES)
    st.title("Client history")
    st.caption(DESCRIPTIVE)
    store = research.session_store()
    codes = store.list_client_codes(viewer=user)
    if not codes:
        st.info("No session you may see has a client code yet.")
        return
    code = st.selectbox("Client code", codes, key="history.client")
    infos = store.list_sessions_of_client(code, viewer=user)
    record_view(code)
    st.subheader("Sessions")
    sessions.client_sessions_table(infos)
    with st.spinner("Reading the sessions…"):
        trends = client_trends(
            [(info, store.load_frames(info.id, viewer=user)) for info in infos]
        )
    trends = trends[trends["n_frames"] > 0]
    st.subheader("Trends across sessions")
    st.caption(ABOUT)
    if trends.empty:
        st.info("None of these sessions has face results yet.")
        return
    sessions.trend_charts(trends)


if __name__ == "__main__":
    main()
