"""Home page of the FER workbench: what it is for, and links to every page.

Run with ``streamlit run app.py``; the pages in ``pages/`` are discovered automatically.
"""

from __future__ import annotations

# streamlit_webrtc (aiortc) must be imported before TensorFlow/MediaPipe, or Python segfaults;
# any page may be the first one a user opens, so each imports it first.
import streamlit_webrtc  # noqa: F401  # isort: skip

from pathlib import Path

import streamlit as st

APP_DIR = Path(__file__).resolve().parent
PAGES = (
    (
        "pages/1_Live.py",
        "Live",
        "📹",
        "Read expressions from the camera during a consented session.",
    ),
    ("pages/2_Upload.py", "Upload", "📤", "Analyse an uploaded photo or video."),
    (
        "pages/3_Evaluation.py",
        "Evaluation",
        "📊",
        "Confusion matrices, calibration, model comparison.",
    ),
    ("pages/4_Clusters.py", "Clusters", "🧭", "How faces group in the model's feature space."),
    (
        "pages/5_Session_replay.py",
        "Session replay",
        "⏱️",
        "Timeline and summaries of a recorded session.",
    ),
    (
        "pages/6_Dataset.py",
        "Dataset",
        "🗂️",
        "FER2013 / FER+ balance, pixel statistics, duplicates.",
    ),
)


def main() -> None:
    st.set_page_config(page_title="FER workbench", page_icon="🙂")
    st.title("Facial-expression workbench")
    st.markdown(
        "This workbench reads facial expressions live during remote psychotherapy sessions, "
        "**only after the person on camera has given consent**. Its estimates are meant to "
        "support the clinician's attention, never to replace the clinician's judgement: an "
        "expression is not a felt emotion, and the models make no decisions about people.\n\n"
        "Researchers use the other pages to check how the models were trained and how well they "
        "work, and to review recorded sessions."
    )
    for path, label, icon, description in PAGES:
        if (APP_DIR / path).is_file():
            st.page_link(path, label=label, icon=icon)
            st.caption(description)
        else:
            st.caption(f"{icon} {label} — not installed in this copy ({path}).")


if __name__ == "__main__":
    main()
