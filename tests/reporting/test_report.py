"""`fer report` in its three forms on a recorded session: self-contained HTML with the text a
person wrote shown as text, a PDF, and a FHIR Bundle that validates against fhir.resources."""

import base64
import json
import re
from html import escape
from pathlib import Path

import pytest

from fer.cli import main as fer_main
from tests.research_fixtures import make_session_db


@pytest.fixture
def session_db(tmp_path: Path) -> tuple[Path, int]:
    path = tmp_path / "sessions.db"
    session_id = make_session_db(path)
    from fer.sessions.store import SessionStore

    store = SessionStore(path)
    store.set_notes(session_id, "<script>alert(1)</script> ![t](http://host/x.png)")
    store.add_marker(session_id, 3.0, "client <b>paused</b> here")
    store.add_marker(session_id, 0.5, "settling in")
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


def test_the_session_s_markers_appear_in_the_report(session_db, tmp_path):
    html = run_report(session_db, tmp_path, "html").read_text()
    section = html.split("Clinician's markers</h2>", 1)[1]
    assert "None." not in section.split("<h2", 1)[0]
    assert "settling in" in section and "client &lt;b&gt;paused&lt;/b&gt; here" in section
    assert section.index("0.5 s") < section.index("3.0 s")  # in time order
    assert "<b>paused</b>" not in html  # a person's text stays text


def test_a_recording_without_brightness_says_it_was_not_measured(session_db, tmp_path):
    html = run_report(session_db, tmp_path, "html").read_text()
    assert "Lighting: not measured for this recording." in html


def test_pdf_holds_the_charts(session_db, tmp_path):
    pdf = run_report(session_db, tmp_path, "pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and pdf.count(b"/Subtype /Image") >= 1


def test_fhir_bundle_validates_and_carries_the_pdf(session_db, tmp_path):
    from fhir.resources.R4B.bundle import Bundle

    from fer.sessions.store import SessionStore

    bundle = json.loads(run_report(session_db, tmp_path, "fhir").read_text())
    Bundle.model_validate(bundle)
    kinds = [entry["resource"]["resourceType"] for entry in bundle["entry"]]
    assert kinds[:2] == ["Patient", "Consent"] and kinds[-1] == "DocumentReference"
    assert kinds.count("Observation") >= 4
    patient = bundle["entry"][0]["resource"]
    assert "Test Person" not in json.dumps(bundle)  # the pseudonym, never the name
    installation_id = SessionStore(session_db[0]).installation_id()
    assert patient["identifier"] == [  # no client code: the consent record's number
        {"system": f"urn:fer-workbench:{installation_id}:consent-record", "value": "1"}
    ]
    attachment = bundle["entry"][-1]["resource"]["content"][0]["attachment"]
    assert base64.b64decode(attachment["data"]).startswith(b"%PDF")


def test_an_unknown_session_is_named(session_db, tmp_path, capsys):
    path, session_id = session_db
    command = ["report", str(session_id + 99), "--out", str(tmp_path / "x.html")]
    assert fer_main([*command, "--database", str(path)]) == 2
    assert "session" in capsys.readouterr().err.lower()


def neutral_session_with_one_smile(store, with_pose: bool = False) -> int:
    """An ended session: 4 s of a neutral face with one happy frame at 3.0 s (valence, arousal,
    AU4 and AU12; ``with_pose`` adds asymmetry, head pose and a bright first second)."""
    import numpy as np

    from fer.sessions.records import FrameRecord

    consent = store.record_consent("Test Person", client_code="C-17")
    session_id = store.create_session(consent.id, "fer2013", ["neutral", "happy"], "live")
    records = []
    for step in range(40):
        spike = step == 30
        probs = np.array([0.2, 0.8] if spike else [0.8, 0.2], np.float32)
        extra = {} if not with_pose else dict(
            au_asymmetry={"AU12": 0.0, "AU4": 0.0}, head_pose={"yaw": 0, "pitch": 0, "roll": 0},
            clipped_share=0.5 if step < 10 else 0.0,  # a window behind the client, at first
        )
        records.append(FrameRecord(
            t_seconds=step / 10, track_id=0, bbox=(0, 0, 48, 48), probs=probs, smoothed=probs,
            label="happy" if spike else "neutral", confidence=0.8,
            valence=0.7 if spike else 0.0, arousal=0.1,
            action_units={"AU12": 0.9 if spike else 0.1, "AU4": 0.05}, **extra,
        ))
    store.add_frames(session_id, records)
    return session_id


def test_a_session_recorded_with_signals_reports_them_with_the_markers_nearby(tmp_path):
    from fer.sessions.store import SessionStore

    path = tmp_path / "signals.db"
    store = SessionStore(path)
    session_id = neutral_session_with_one_smile(store, with_pose=True)
    store.add_marker(session_id, 3.1, "laughed at the joke")
    store.end_session(session_id)
    out = tmp_path / "report.html"
    command = ["report", str(session_id), "--out", str(out), "--database", str(path)]
    assert fer_main(command) == 0
    html = out.read_text()
    assert "Expressivity" in html and "AU12 0.90" in html
    moments = html.split("Notable moments", 1)[1]
    assert "3.0 s: " not in moments and "3.1 s: laughed at the joke" in moments
    assert "C-17" in html and "Test Person" not in html
    assert "too bright to read reliably in 25% of 40 readings" in html
    fhir = tmp_path / "report.json"
    command = ["report", str(session_id), "--out", str(fhir), "--format", "fhir",
               "--database", str(path)]
    assert fer_main(command) == 0
    observations = [entry["resource"] for entry in json.loads(fhir.read_text())["entry"]
                    if entry["resource"]["resourceType"] == "Observation"]
    (bright,) = [o for o in observations if "over-exposed" in o["code"]["text"]]
    assert bright["valueQuantity"]["value"] == 0.25


def test_unreliable_expressions_are_flagged_beside_their_share_of_time(session_db, tmp_path):
    from fer.config import MODELS_DIR
    from fer.models.reliability import model_reliability

    unreliable = model_reliability(MODELS_DIR / "fer2013")  # the session's model
    assert unreliable, "the shipped fer2013 model's suite flags some classes"
    html = run_report(session_db, tmp_path, "html").read_text()
    table = html.split("Share of time per expression</h3>", 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr><td>(.*?)</td><td>.*?</td><td>(.*?)</td></tr>", table)
    assert rows
    for emotion, caution in rows:
        assert caution.startswith("unreliable: ") == (emotion in unreliable), emotion
    assert "Read with caution" in html


def test_model_summary_carries_the_reliability_of_its_classes(tmp_path):
    from fer.reporting.content import model_summary, reliability_text

    (tmp_path / "card.json").write_text(json.dumps({"name": "tiny", "classes": ["a", "b"]}))
    summary = model_summary(tmp_path, "tiny", ("a", "b"))
    assert summary.unreliable == {} and "not measured" in summary.reliability
    clean = {"recall": {"a": 0.9, "b": 0.2}, "recall_95": {"a": [0.8, 0.95], "b": [0.1, 0.4]},
             "support": {"a": 50, "b": 20}}
    evaluation = {"format": 1, "model": "tiny", "reports": {},
                  "robustness": {"PrivateTest": {"command": "x", "conditions": {"clean": clean}}}}
    (tmp_path / "evaluation.json").write_text(json.dumps(evaluation))
    summary = model_summary(tmp_path, "tiny", ("a", "b"))
    assert list(summary.unreliable) == ["b"]
    assert reliability_text(summary, "b").startswith("unreliable: recognised 20% of the 20 b")
    assert reliability_text(summary, "a") == ""


def test_writing_a_report_is_recorded_in_the_audit_log(session_db, tmp_path):
    from fer.accounts import AuditLog

    path, session_id = session_db
    run_report(session_db, tmp_path, "pdf")
    entries = AuditLog(path).entries()
    (entry,) = entries[entries["action"] == "export_session"].itertuples()
    assert entry.actor.startswith("cli:") and entry.target == f"session {session_id}"
    assert entry.detail == "report pdf to a file"


def test_the_database_comes_from_the_environment(session_db, tmp_path, monkeypatch):
    path, session_id = session_db
    monkeypatch.setenv("FER_SESSION_DB", str(path))
    out = tmp_path / "from-env.html"
    assert fer_main(["report", str(session_id), "--out", str(out)]) == 0
    assert out.is_file()


def test_a_failed_report_is_not_logged(session_db, tmp_path):
    from fer.accounts import AuditLog

    path, session_id = session_db
    command = ["report", str(session_id + 99), "--out", str(tmp_path / "x.html")]
    assert fer_main([*command, "--database", str(path)]) == 2
    entries = AuditLog(path).entries()
    assert "export_session" not in set(entries["action"])


def test_a_session_given_a_deleted_session_s_id_gets_bundle_ids_of_its_own(tmp_path):
    from fer.sessions.store import SessionStore
    from tests.sessions.helpers import forget_deleted_session_ids

    path = tmp_path / "reused.db"
    store = SessionStore(path)

    def fhir_ids(session_id: int) -> set[str]:
        out = tmp_path / f"bundle-{session_id}-{len(list(tmp_path.iterdir()))}.json"
        command = ["report", str(session_id), "--format", "fhir", "--out", str(out)]
        assert fer_main([*command, "--database", str(path)]) == 0
        bundle = json.loads(out.read_text())
        return {bundle["id"]} | {entry["resource"]["id"] for entry in bundle["entry"]}

    first = store.create_session(store.record_consent("Alice").id, "fer2013", ["happy"], "live")
    alice = fhir_ids(first)
    assert fhir_ids(first) == alice  # a resent bundle updates the same resources
    store.delete_session(first)
    forget_deleted_session_ids(path)  # a database from before r0006
    second = store.create_session(store.record_consent("Bob").id, "fer2013", ["happy"], "live")
    assert second == first  # SQLite handed the newest deleted id on
    assert not fhir_ids(second) & alice


def test_the_audit_entry_of_a_report_does_not_hold_the_file_name(session_db, tmp_path):
    import sqlite3

    path, session_id = session_db
    out = tmp_path / "Dana Client report.html"
    assert fer_main(["report", str(session_id), "--out", str(out), "--database", str(path)]) == 0
    assert out.stat().st_mode & 0o077 == 0  # a client's report is its owner's to read
    with sqlite3.connect(path) as connection:
        details = connection.execute(
            "SELECT detail FROM audit_log WHERE action = 'export_session'"
        ).fetchall()
    assert details == [("report html to a file",)]


def test_a_report_that_cannot_be_written_or_audited_leaves_no_file(
    session_db, tmp_path, monkeypatch, capsys
):
    from fer.accounts import AuditLog

    path, session_id = session_db
    command = ["report", str(session_id), "--database", str(path), "--out"]
    assert fer_main([*command, str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err
    (tmp_path / "afile").write_text("x")
    assert fer_main([*command, str(tmp_path / "afile" / "r.html")]) == 2
    assert "Traceback" not in capsys.readouterr().err

    def refuse(*args, **kwargs):
        raise ValueError("the audit log refused the entry")

    monkeypatch.setattr(AuditLog, "record", refuse)
    out = tmp_path / "unaudited.html"
    assert fer_main([*command, str(out)]) == 2
    assert "refused the entry" in capsys.readouterr().err
    assert not out.exists()


def test_an_existing_file_is_replaced_only_with_overwrite(session_db, tmp_path, capsys):
    path, session_id = session_db
    out = tmp_path / "kept.html"
    out.write_text("an earlier report")
    command = ["report", str(session_id), "--out", str(out), "--database", str(path)]
    assert fer_main(command) == 2
    assert "already exists" in capsys.readouterr().err
    assert out.read_text() == "an earlier report"
    assert fer_main([*command, "--overwrite"]) == 0
    assert "<svg" in out.read_text()


def test_a_mistyped_database_path_makes_no_database(tmp_path, capsys):
    typo = tmp_path / "typo.db"
    out = tmp_path / "x.html"
    assert fer_main(["report", "1", "--out", str(out), "--database", str(typo)]) == 2
    assert f"error: no session database at {typo}" in capsys.readouterr().err
    assert not typo.exists() and not out.exists()


def test_the_pdf_prints_what_each_figure_is_and_is_not_under_it(tmp_path, monkeypatch):
    import fpdf

    from fer.reporting.document import session_report
    from fer.sessions.insights import ABOUT
    from fer.sessions.store import SessionStore

    printed: list[str] = []
    multi_cell = fpdf.FPDF.multi_cell

    def recording_multi_cell(self, w, h=None, text="", *args, **kwargs):
        printed.append(text)
        return multi_cell(self, w, h, text, *args, **kwargs)

    monkeypatch.setattr(fpdf.FPDF, "multi_cell", recording_multi_cell)
    store = SessionStore(tmp_path / "signals.db")
    session_id = neutral_session_with_one_smile(store)
    store.end_session(session_id)
    html = session_report(store, session_id, "html").decode()
    session_report(store, session_id, "pdf")
    for key, explanation in ABOUT.items():
        assert escape(explanation) in html, key
        assert explanation in printed, key
    flat_affect = next(i for i, text in enumerate(printed) if text.startswith("Flat affect:"))
    assert printed[flat_affect + 1] == ABOUT["flat_affect"]  # under its figure
