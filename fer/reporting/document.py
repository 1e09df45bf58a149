"""A session's report as the file a health record takes: one function for the app, the
command line and the REST API, so that all three give the same document."""

from __future__ import annotations

import json
import threading
from typing import Any

from fer.models.cards import recorded_model_dir
from fer.reporting import REPORT_FORMATS
from fer.reporting.content import report_content
from fer.reporting.fhir import report_bundle
from fer.reporting.html import report_html
from fer.reporting.pdf import report_pdf

# matplotlib's pyplot, which draws the report's charts, is not thread-safe.
_REPORT_LOCK = threading.Lock()


def session_report(store: Any, session_id: int, report_format: str, viewer: Any = None) -> bytes:
    """The report of ``session_id`` in ``report_format`` (html, pdf or a FHIR R4 Bundle as
    JSON), from what ``viewer`` may see (the store refuses a session hidden from them; None:
    the command line and the API's service token). It names the recorded model's measured
    accuracy and unreliable expressions when that model is installed here, and shows the
    clinician's markers."""
    if report_format not in REPORT_FORMATS:
        raise ValueError(f"report_format must be one of {', '.join(REPORT_FORMATS)}, "
                         f"got {report_format!r}")
    session = store.get_session(session_id, viewer=viewer)
    consent = store.get_consent(session.consent_id)
    frames = store.load_frames(session_id, viewer=viewer)
    markers = store.list_markers(session_id, viewer=viewer)
    content = report_content(session, consent, frames, recorded_model_dir(session.model), markers,
                             installation_id=store.installation_id())
    with _REPORT_LOCK:
        if report_format == "html":
            return report_html(content).encode("utf-8")
        pdf = report_pdf(content)
        if report_format == "pdf":
            return pdf
        return json.dumps(report_bundle(content, pdf), indent=1).encode("utf-8")
