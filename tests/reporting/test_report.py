"""`fer report` in its three forms on a recorded session: self-contained HTML with the text a
person wrote shown as text, a PDF, and a FHIR Bundle that validates against fhir.resources."""

import base64
import json
import re
from pathlib import Path

import pytest

from fer.cli import main as fer_main
from tests.research_fixtures import make_session_db


@pytest.fixture
def session_db(tmp_path: Path) -> tuple[Path, int]:
    path = tmp_path / "sessions.db"
    session_id = make_session_db(path)
    from fer.sessions.store import SessionStore

    SessionStore(path).set_notes(session_id, "<script>alert(1)</script> ![t](http://host/x.png)")
    return path, session_id


def run_report(session_db, tmp_path: Path, image_format: str) -> Path:
    path, session_id = session_db
    out = tmp_path / f"report.{image_format}"
    command = ["report", str(session_id), "--format", image_format, "--out", str(out)]
    assert fer_main([*command, "--database", str(path)]) == 0
    return out


def test_html_is_self_contained_and_shows_notes_as_text(session_db, tmp_path):
    html = run_report(session_db, tmp_path, "html").read_text()
    assert "<svg" in html and "<script>" not in html and "&lt;script&gt;" in html
    # Nothing is fetched: no src or href attribute leaves the file.
    assert not re.search(r"""(src|href)\s*=\s*["']?https?:""", html)
    assert "not a diagnosis" in html and "fer2013" in html
    assert "Face 0" in html and "Share of time per expression" in html


def test_pdf_holds_the_charts(session_db, tmp_path):
    pdf = run_report(session_db, tmp_path, "pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and pdf.count(b"/Subtype /Image") >= 1


def test_fhir_bundle_validates_and_carries_the_pdf(session_db, tmp_path):
    from fhir.resources.R4B.bundle import Bundle

    bundle = json.loads(run_report(session_db, tmp_path, "fhir").read_text())
    Bundle.model_validate(bundle)
    kinds = [entry["resource"]["resourceType"] for entry in bundle["entry"]]
    assert kinds[:2] == ["Patient", "Consent"] and kinds[-1] == "DocumentReference"
    assert kinds.count("Observation") >= 4
    patient = bundle["entry"][0]["resource"]
    assert "Test Person" not in json.dumps(bundle)  # the pseudonym, never the name
    assert patient["identifier"][0]["value"].startswith("consent ")
    attachment = bundle["entry"][-1]["resource"]["content"][0]["attachment"]
    assert base64.b64decode(attachment["data"]).startswith(b"%PDF")


def test_an_unknown_session_is_named(session_db, tmp_path, capsys):
    path, session_id = session_db
    command = ["report", str(session_id + 99), "--out", str(tmp_path / "x.html")]
    assert fer_main([*command, "--database", str(path)]) == 2
    assert "session" in capsys.readouterr().err.lower()
