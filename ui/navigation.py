"""Which pages a user may open, by role: the one list ``app.py`` hands to ``st.navigation`` and
the Home page links from.

Streamlit decides once per process, at the first browser session, whether the ``pages/`` folder
beside ``app.py`` means its older multipage mode, in which a typed URL runs its page script
directly, without ``app.py`` and its login, until some session has run ``app.py``.
``scripts/run_app.sh`` settles that before the server starts (``ui.serving``); a page that finds
itself started that way anyway leaves the mode and reruns through ``app.py``
(:func:`leave_pages_folder_mode`, called by ``ui.auth.require_role``).
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from ui.auth import ADMIN_ROLES, EVERYONE, PATIENT_DATA_ROLES, RESEARCH_ROLES


@dataclass(frozen=True)
class PageSpec:
    path: str
    title: str
    icon: str
    url_path: str
    roles: tuple[str, ...]
    section: str
    description: str


LOGIN = PageSpec(
    "pages/0_Login.py", "Log in", ":material/login:", "login", (), "", "Log in to the workbench."
)
HOME = PageSpec(
    "pages/0_Home.py", "Home", ":material/home:", "home", EVERYONE, "", "What this is for."
)
# The client's page of a remote session: no login (the room's link is the credential), never in
# the menu, reachable by its URL whether or not this browser session is logged in.
JOIN = PageSpec(
    "pages/9_Join.py", "Join a session", ":material/meeting_room:", "join", (), "",
    "Join a remote session from the clinician's invitation.",
)
PAGES = (
    HOME,
    PageSpec(
        "pages/1_Live.py", "Live", ":material/videocam:", "Live", PATIENT_DATA_ROLES,
        "Sessions", "Read expressions from the camera during a consented session.",
    ),
    PageSpec(
        "pages/2_Upload.py", "Upload", ":material/upload_file:", "Upload", PATIENT_DATA_ROLES,
        "Sessions", "Analyse an uploaded photo or video.",
    ),
    PageSpec(
        "pages/5_Session_replay.py", "Session replay", ":material/history:", "Session_replay",
        PATIENT_DATA_ROLES, "Sessions",
        "Timeline and summaries of a recorded session; export, consent and deletion.",
    ),
    PageSpec(
        "pages/9_Session_room.py", "Session room", ":material/video_call:", "Session_room",
        PATIENT_DATA_ROLES, "Sessions",
        "Invite a client to a remote session and follow their expressions live.",
    ),
    PageSpec(
        "pages/8_Client_history.py", "Client history", ":material/timeline:", "Client_history",
        PATIENT_DATA_ROLES, "Sessions",
        "One client's sessions, by pseudonymous code, and trends across them.",
    ),
    PageSpec(
        "pages/3_Evaluation.py", "Evaluation", ":material/analytics:", "Evaluation",
        RESEARCH_ROLES, "Models and data", "Confusion matrices, calibration, model comparison.",
    ),
    PageSpec(
        "pages/4_Clusters.py", "Clusters", ":material/scatter_plot:", "Clusters",
        RESEARCH_ROLES, "Models and data", "How faces group in the model's feature space.",
    ),
    PageSpec(
        "pages/6_Dataset.py", "Dataset", ":material/dataset:", "Dataset", RESEARCH_ROLES,
        "Models and data", "FER2013 / FER+ balance, pixel statistics, duplicates.",
    ),
    PageSpec(
        "pages/7_Admin.py", "Admin", ":material/admin_panel_settings:", "Admin", ADMIN_ROLES,
        "Administration", "Users and roles, session sharing, the audit log.",
    ),
)


def leave_pages_folder_mode() -> bool:
    """Switch Streamlit's older pages-folder mode off for this process; True if it was on (the
    caller then reruns, and ``app.py`` decides the page). The attribute is what Streamlit 1.67
    checks; ``tests/app/test_browser.py`` shows both ways of starting the server."""
    from streamlit.runtime.pages_manager import PagesManager

    was_on = bool(PagesManager.uses_pages_directory)
    PagesManager.uses_pages_directory = False
    return was_on


def specs_for(role: str | None) -> list[PageSpec]:
    """The pages ``role`` may open, in menu order; only the login page without a role."""
    if role is None:
        return [LOGIN]
    return [spec for spec in PAGES if role in spec.roles]


def _page(spec: PageSpec, default: bool = False):
    return st.Page(
        spec.path, title=spec.title, icon=spec.icon, url_path=spec.url_path, default=default
    )


def _login_alias(spec: PageSpec):
    """A hidden page at ``spec``'s URL that shows the login form: a link to that page opens the
    login, and after logging in the same URL shows the page itself."""
    from ui.auth import login_form

    return st.Page(
        login_form, title=LOGIN.title, icon=LOGIN.icon, url_path=spec.url_path,
        visibility="hidden",
    )


def navigation_pages(role: str | None) -> dict[str, list]:
    """``st.navigation``'s argument: the role's pages as ``st.Page`` objects by section, the
    first one the default (what any unknown or forbidden URL shows), and the hidden join page of
    remote sessions. Without a role: the login page, hidden login pages at every page's URL,
    and the join page, which needs no login."""
    join = st.Page(
        JOIN.path, title=JOIN.title, icon=JOIN.icon, url_path=JOIN.url_path, visibility="hidden"
    )
    if role is None:
        return {
            "": [_page(LOGIN, default=True), *(_login_alias(spec) for spec in PAGES), join]
        }
    sections: dict[str, list] = {}
    for index, spec in enumerate(specs_for(role)):
        sections.setdefault(spec.section, []).append(_page(spec, default=index == 0))
    sections.setdefault("", []).append(join)
    return sections
