"""Home: what the workbench is for, and links to the pages the user's role may open."""

from __future__ import annotations

import streamlit as st

from ui import auth, navigation


def main() -> None:
    user = auth.require_role(*auth.EVERYONE)
    st.title("Facial-expression workbench")
    st.markdown(
        "This workbench reads facial expressions live during remote psychotherapy sessions, "
        "**only after the person on camera has given consent**. Its estimates are meant to "
        "support the clinician's attention, never to replace the clinician's judgement: an "
        "expression is not a felt emotion, and the models make no decisions about people.\n\n"
        "Researchers use the other pages to check how the models were trained and how well they "
        "work; they see no recorded sessions."
    )
    for spec in navigation.specs_for(user.role):
        if spec is navigation.HOME:
            continue
        st.page_link(spec.path, label=spec.title, icon=spec.icon)
        st.caption(spec.description)


if __name__ == "__main__":
    main()
