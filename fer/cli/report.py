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

from fer.cli.database_options import (
    add_database_argument,
    cli_actor,
    error_line,
    require_existing_database,
)
from fer.reporting import REPORT_FORMATS

EXAMPLE = """\
fer report 12 --format pdf --out session-12.pdf
fer report 12 --format pdf --out session-12.pdf --overwrite
fer report 12 --format fhir --out session-12.json --database postgresql://fer@db/fer"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("session", type=int, help="the session's number (fer sessions list)")
    parser.add_argument("--format", choices=REPORT_FORMATS, default="html")
    parser.add_argument("--out", type=Path, required=True, help="file to write")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    add_database_argument(parser)


def write_report(store, session_id: int, image_format: str, out: Path, audit=None) -> Path:
    """Build the report of ``session_id`` from ``store`` and write it to ``out`` (whole, or not
    at all). ``audit()``, called once the file is in place, records the export; when it fails
    the file is removed, so no report leaves the database unrecorded."""
    from fer.files import write_bytes_atomically
    from fer.reporting.document import session_report

    if out.is_dir():
        raise ValueError(f"--out {out} is a folder; give the report's file name")
    document = session_report(store, session_id, image_format)
    write_bytes_atomically(out, document, private=True)
    if audit is not None:
        try:
            audit()
        except BaseException:
            out.unlink(missing_ok=True)
            raise
    return out


def run(args: argparse.Namespace) -> int:
    from fer.accounts import AuditLog
    from fer.sessions.store import SessionStore
    from fer.storage import DatabaseError

    def audit() -> None:
        # A report carries a patient's session out of the database: logged as the app and the
        # API log theirs. Not the file's name: a user may have named it after the client, and
        # the audit log keeps every entry for good.
        AuditLog(args.database).record(
            cli_actor(), "export_session", f"session {args.session}",
            f"report {args.format} to a file",
        )

    try:
        if args.out.exists() and not args.out.is_dir() and not args.overwrite:
            raise ValueError(f"--out {args.out} already exists; give --overwrite to replace it")
        require_existing_database(args.database)  # a mistyped path must not make a database
        path = write_report(
            SessionStore(args.database), args.session, args.format, args.out, audit
        )
    except (ValueError, OSError, DatabaseError) as error:
        print(f"error: {error_line(error, args.database)}", file=sys.stderr)
        return 2
    print(path)
    return 0
