"""Recorded sessions on the pages: the export and report buttons (built only when pressed, and
audited), the confirmed deletion, what a page says about a session's consent, a session's
tables and model in a clinician's words, and a client's sessions across time. What the Session
replay page alone shows is in :mod:`ui.session_replay`.

Every store call passes the logged-in user as ``viewer``: the store itself refuses a session the
user may not see (``SessionNotFoundError``, as if it did not exist).
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from fer.realtime.tracking import face_name
from fer.sessions.records import AccessDeniedError
from ui.auth import audit
from ui.text import plain

# Column headings of the session tables a clinician sees; the CSV and JSON exports keep the
# machine names (scripts and other systems read them).
HEADINGS = {
    "track_id": "Face",
    "t_seconds": "Time (s)",
    "label": "Expression",
    "confidence": "Confidence",
    "emotion": "Expression",
    "start_s": "From (s)",
    "end_s": "To (s)",
    "duration_s": "Duration (s)",
    "n_frames": "Face results",
    "predominant": "Most frequent expression",
    "predominant_share": "Share of time",
    "n_transitions": "Changes of expression",
    "longest_emotion": "Longest expression",
    "longest_s": "Its duration (s)",
    "from_emotion": "From",
    "to_emotion": "To",
    "count": "Times",
}
SOURCE_WORDS = {"live": "live camera", "image": "uploaded picture", "video": "uploaded video"}
VIEWS_WORDS = {
    "mirror": "each prediction averages the face and its mirror image",
    "mirror+zoom": "each prediction averages the face, its mirror image and two zoomed views",
}


def mark_moment(store, session_id: int, t_seconds: float, note_key: str, user) -> tuple:
    """A marker at ``t_seconds`` with the note typed in the widget ``note_key`` (cleared once it
    is stored): the message to show, ``("success" | "error", text)``. For the Live page and the
    Session room's "Mark moment" callbacks."""
    note = st.session_state.get(note_key, "")
    try:
        store.add_marker(session_id, t_seconds, note=note, created_by=user)
    except ValueError as error:  # ended session, withdrawn consent, malformed note
        return "error", f"Not marked: {error}"
    st.session_state[note_key] = ""
    suffix = f": {note}" if note else ""
    return "success", f"Moment marked at {t_seconds:.1f} s{suffix}"


def source_in_words(source: str) -> str:
    return SOURCE_WORDS.get(source, source)


def unreliable_expressions(model: str) -> dict[str, str]:
    """``{expression: why}`` for the expressions the recorded model cannot be trusted on
    (fer.models.reliability); empty when none is, or the model is not installed."""
    from fer.models.cards import recorded_model_dir
    from fer.models.reliability import model_reliability

    model_dir = recorded_model_dir(model)
    return {} if model_dir is None else model_reliability(model_dir)


def model_in_words(model: str) -> str:
    """A session's recorded model (``"ferplus v2, tta mirror+zoom"``) as a sentence part."""
    from fer.models.cards import RECORDED_VIEWS_MARK

    name, _, views = model.partition(RECORDED_VIEWS_MARK)
    return f"{name} ({VIEWS_WORDS.get(views, views)})" if views else name


def in_words(table):
    """A session table (:mod:`fer.sessions.replay`, frames) with :data:`HEADINGS` for headers,
    faces as ``Face 0``, shares in per cent and times to a tenth of a second, for the screen."""
    shown = table.drop(columns=["episode"], errors="ignore").copy()
    if "track_id" in shown.columns:
        shown["track_id"] = [face_name(track) for track in shown["track_id"]]
    if "predominant_share" in shown.columns:
        shown["predominant_share"] = [f"{share:.0%}" for share in shown["predominant_share"]]
    for column in ("t_seconds", "start_s", "end_s", "duration_s", "longest_s"):
        if column in shown.columns:
            shown[column] = shown[column].astype(float).round(1)
    if "confidence" in shown.columns:
        shown["confidence"] = shown["confidence"].astype(float).round(2)
    return shown.rename(columns=HEADINGS)


def _audited_export(audit_log, user, session_id: int, kind: str, build: Callable[[], str]):
    """The ``data=`` callable of a download button. Streamlit runs it in another thread when the
    button is pressed, so it uses no ``st.*``: the store and the audit log are passed in."""

    def export() -> str:
        text = build()
        audit_log.record(user.name, "export_session", target=f"session {session_id}", detail=kind)
        return text

    return export


def export_buttons(store, session_id: int, user, key: str, columns=None) -> None:
    """"Download CSV" and "Download JSON" of one session, checked against ``user`` and audited
    when pressed (the export is not built on reruns)."""
    from ui.resources import audit_log

    log = audit_log()
    columns = columns or st.columns(2)
    columns[0].download_button(
        "Download CSV",
        _audited_export(
            log, user, session_id, "frames csv",
            lambda: store.export_csv(session_id, viewer=user),
        ),
        file_name=f"session_{session_id}.csv", mime="text/csv", key=f"{key}.download_csv",
        on_click="ignore", icon=":material/download:",
    )
    columns[1].download_button(
        "Download JSON",
        _audited_export(
            log, user, session_id, "json",
            lambda: store.export_json(session_id, viewer=user),
        ),
        file_name=f"session_{session_id}.json", mime="application/json",
        key=f"{key}.download_json", on_click="ignore", icon=":material/download:",
    )


def audited_download(
    label: str, build: Callable[[], str], file_name: str, key: str, user, session_id: int,
    kind: str,
) -> None:
    """One download button of a text export of session ``session_id`` (built when pressed)."""
    from ui.resources import audit_log

    st.download_button(
        label, _audited_export(audit_log(), user, session_id, kind, build),
        file_name=file_name, mime="text/csv", key=key, on_click="ignore",
        icon=":material/download:",
    )


def record_view(info) -> None:
    """Audit that the logged-in user opened the session ``info`` (a ``SessionInfo``), once per
    browser session, not on every rerun of the page. A session is known by its id and its start:
    before schema revision r0006 SQLite gave a deleted newest session's id to the next session,
    whose view is audited too."""
    viewed = st.session_state.setdefault("sessions.viewed", set())
    identity = (info.id, info.started_at)
    if identity in viewed:
        return
    audit("view_session", target=f"session {info.id}")
    viewed.add(identity)


def consent_status(info) -> None:
    """Whose consent a session was recorded under, and whether it was withdrawn."""
    given = info.consent_given_at.astimezone().strftime("%Y-%m-%d %H:%M")
    withdrawn_at = info.consent_withdrawn_at
    st.text(f"Consent by {info.consent_by}, given at {given}")
    if withdrawn_at is not None:
        withdrawn = withdrawn_at.astimezone().strftime("%Y-%m-%d %H:%M")
        st.warning(
            f"Consent withdrawn at {withdrawn}. This session is kept because the clinic's policy "
            "requires keeping records; nothing more can be recorded under this consent.",
            icon=":material/block:",
        )


def delete_form(store, session_id: int, user, key: str) -> bool:
    """Delete session ``session_id`` after an explicit confirmation. True once deleted."""
    with st.form(f"{key}.delete_form"):
        confirmed = st.checkbox(
            f"Delete session #{session_id} and all its results for good",
            key=f"{key}.delete_confirm",
        )
        submitted = st.form_submit_button(
            "Delete session", key=f"{key}.delete", icon=":material/delete:"
        )
    if not submitted:
        return False
    if not confirmed:
        st.error("Tick the box to confirm; a deleted session cannot be brought back.")
        return False
    try:
        # The audit entry commits with the deletion: neither without the other.
        store.delete_session(session_id, viewer=user, actor=user.name)
    except (ValueError, AccessDeniedError) as error:  # AccessDeniedError: shared, not theirs
        st.error(plain(f"The session could not be deleted: {error}"))
        return False
    return True


REPORT_FORMATS = {
    # format: (button label, file suffix, mime type)
    "html": ("Report (HTML)", "html", "text/html"),
    "pdf": ("Report (PDF)", "pdf", "application/pdf"),
    "fhir": ("Report (FHIR R4 JSON)", "fhir.json", "application/fhir+json"),
}


def build_report(store, session_id: int, user, report_format: str) -> bytes:
    """The report for the record of ``session_id`` in ``report_format`` (html, pdf or fhir),
    built from what ``user`` may see (the store refuses a session hidden from them). No ``st.*``:
    it runs in the download button's thread."""
    from fer.reporting.document import session_report  # it refuses an unknown format

    return session_report(store, session_id, report_format, viewer=user)


def report_buttons(store, session_id: int, user, key: str) -> None:
    """"Report for the record" downloads (HTML, PDF, FHIR), built only when pressed, checked
    against ``user`` and audited like the exports."""
    from ui.resources import audit_log

    log = audit_log()
    columns = st.columns(len(REPORT_FORMATS))
    for column, (report_format, (label, suffix, mime)) in zip(
        columns, REPORT_FORMATS.items(), strict=True
    ):
        column.download_button(
            label,
            _audited_export(
                log, user, session_id, f"report {report_format}",
                lambda report_format=report_format: build_report(
                    store, session_id, user, report_format
                ),
            ),
            file_name=f"session_{session_id}_report.{suffix}", mime=mime,
            key=f"{key}.report_{report_format}", on_click="ignore",
            icon=":material/description:",
        )


def client_sessions_table(infos) -> None:
    """A client's sessions (never the consent name: the client is known by code only)."""
    import pandas as pd

    st.dataframe(
        pd.DataFrame(
            {
                "session": [f"#{info.id}" for info in infos],
                "started": [info.started_at.astimezone().strftime("%Y-%m-%d %H:%M")
                            for info in infos],
                "source": [source_in_words(info.source) for info in infos],
                "face results": [info.n_frames for info in infos],
                "model": [model_in_words(info.model) for info in infos],
            }
        ),
        hide_index=True,
    )


def trend_charts(trends) -> None:
    """Share of time per expression, mean valence and arousal, and expressivity, per session."""
    import plotly.graph_objects as go

    from fer.evaluation.plots import emotion_colour
    from fer.sessions.trends import SHARE_PREFIX

    sessions_axis = [
        f"#{row.session_id} {row.date}" for row in trends.itertuples()
    ]
    shares = go.Figure()
    for column in [c for c in trends.columns if c.startswith(SHARE_PREFIX)]:
        name = column[len(SHARE_PREFIX):]
        shares.add_trace(
            go.Bar(x=sessions_axis, y=trends[column], name=name,
                   marker_color=emotion_colour(name),
                   hovertemplate=f"{name}: %{{y:.0%}}<extra></extra>")
        )
    shares.update_layout(
        barmode="stack", title={"text": "Share of time per expression"},
        yaxis={"range": [0, 1], "tickformat": ".0%"}, xaxis={"type": "category"},
    )
    st.plotly_chart(shares, key="history.shares")
    signals = go.Figure()
    for column, label in (
        ("valence_mean", "mean valence"), ("arousal_mean", "mean arousal"),
        ("expressivity_index", "expressivity index"),
    ):
        signals.add_trace(
            go.Scatter(x=sessions_axis, y=trends[column], name=label, mode="lines+markers")
        )
    signals.update_layout(
        title={"text": "Valence, arousal and expressivity per session"},
        xaxis={"type": "category"},
    )
    st.plotly_chart(signals, key="history.signals")
