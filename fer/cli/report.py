"""Write the report of a recorded session for the health record: a self-contained HTML file, a
PDF with the same charts, or a FHIR R4 Bundle (pseudonymous Patient, Consent, one Observation per
summary figure, and a DocumentReference carrying the PDF).

The report names the model, its card's accuracy and limits, the consent record and the
clinician's markers of the session. Its figures describe what the software read from the face;
they are not a diagnosis.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fer.cli.database_options import add_database_argument, cli_actor

FORMATS = ("html", "pdf", "fhir")
EXAMPLE = """\
fer report 12 --format pdf --out session-12.pdf
fer report 12 --format fhir --out session-12.json --database postgresql://fer@db/fer"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("session", type=int, help="the session's number (fer sessions list)")
    parser.add_argument("--format", choices=FORMATS, default="html")
    parser.add_argument("--out", type=Path, required=True, help="file to write")
    add_database_argument(parser)


def write_report(store, session_id: int, image_format: str, out: Path) -> Path:
    """Build the report of ``session_id`` from ``store`` and write it to ``out``."""
    import json

    from fer.models.inference import ModelNotFoundError, resolve_model_dir
    from fer.reporting.content import report_content
    from fer.reporting.fhir import report_bundle
    from fer.reporting.html import report_html
    from fer.reporting.pdf import report_pdf

    session = store.get_session(session_id)
    consent = store.get_consent(session.consent_id)
    frames = store.load_frames(session_id)
    markers = store.list_markers(session_id)
    try:
        model_dir: Path | None = resolve_model_dir(session.model)
    except (ModelNotFoundError, ValueError):
        model_dir = None
    content = report_content(session, consent, frames, model_dir, markers)
    out.parent.mkdir(parents=True, exist_ok=True)
    if image_format == "html":
        out.write_text(report_html(content), encoding="utf-8")
    elif image_format == "pdf":
        out.write_bytes(report_pdf(content))
    else:
        bundle = report_bundle(content, report_pdf(content))
        out.write_text(json.dumps(bundle, indent=1), encoding="utf-8")
    return out


def run(args: argparse.Namespace) -> int:
    from fer.accounts import AuditLog
    from fer.sessions.store import SessionStore
    from fer.storage import DatabaseError

    try:
        path = write_report(SessionStore(args.database), args.session, args.format, args.out)
        # A report carries a patient's session out of the database: logged as the app and the
        # API log theirs.
        AuditLog(args.database).record(
            cli_actor(), "export_session", f"session {args.session}",
            f"report {args.format} to {path}",
        )
    except (ValueError, FileNotFoundError, PermissionError, DatabaseError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(path)
    return 0
