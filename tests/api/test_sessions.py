"""Sessions over REST: metadata, frames export, reports, deletion, each audited."""

from __future__ import annotations

import io
import json
import re

import pandas as pd
import pytest

from fer.accounts import AuditLog
from fer.sessions.store import SessionStore
from tests.sessions.helpers import CLASSES


def test_get_returns_the_session_s_metadata(client, world):
    a = world.sessions["a"]
    response = client.get(f"/v1/sessions/{a}", headers=world.headers("dr.a"))
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == a and body["n_frames"] == 5 and body["classes"] == list(CLASSES)
    assert body["client_code"] == "C-a" and body["source"] == "video"
    assert "consent_by" not in body


def test_frames_export_as_csv_and_json_match_the_store_s(client, world):
    a = world.sessions["a"]
    store = SessionStore(world.database)
    csv = client.get(f"/v1/sessions/{a}/frames?format=csv", headers=world.headers("dr.a"))
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert f'filename="session-{a}-frames.csv"' in csv.headers["content-disposition"]
    assert csv.text == store.export_csv(a)
    assert len(pd.read_csv(io.StringIO(csv.text), comment="#")) == 5
    as_json = client.get(f"/v1/sessions/{a}/frames?format=json", headers=world.headers("dr.a"))
    assert as_json.headers["content-type"] == "application/json"
    assert as_json.json() == json.loads(store.export_json(a))
    actions = AuditLog(world.database).entries()[["action", "detail"]].values.tolist()
    assert [action for action, _ in actions] == ["export_session", "export_session"]
    assert actions[0][1].startswith("frames json") and actions[1][1].startswith("frames csv")


def test_frames_default_to_csv(client, world):
    response = client.get(f"/v1/sessions/{world.sessions['a']}/frames",
                          headers=world.headers("dr.a"))
    assert response.headers["content-type"].startswith("text/csv")


@pytest.mark.parametrize(
    ("report_format", "media_type", "starts"),
    [("html", "text/html", b"<!DOCTYPE html>"), ("pdf", "application/pdf", b"%PDF-"),
     ("fhir", "application/fhir+json", b"{")],
)
def test_reports_in_each_format(client, world, report_format, media_type, starts):
    shared = world.sessions["shared_with_a"]
    response = client.get(f"/v1/sessions/{shared}/report?format={report_format}",
                          headers=world.headers("dr.a"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media_type)
    assert response.content.lstrip()[: len(starts)].lower() == starts.lower()
    if report_format == "fhir":
        bundle = response.json()
        assert bundle["resourceType"] == "Bundle"
        kinds = {entry["resource"]["resourceType"] for entry in bundle["entry"]}
        assert {"Patient", "Consent", "Observation", "DocumentReference"} <= kinds
    (entry,) = AuditLog(world.database).entries().to_dict("records")
    assert (entry["actor"], entry["action"], entry["target"]) == (
        "dr.a", "export_session", f"session {shared}"
    )
    assert entry["detail"].startswith(f"report {report_format}")


def test_the_report_is_the_one_the_app_and_the_command_line_give(client, world, tmp_path):
    """With the clinician's markers, and the recorded model found from its label (the API's
    report once had neither)."""
    from fer.accounts import AccountStore
    from fer.cli import main as fer_main
    from tests.sessions.helpers import record

    store = SessionStore(world.database)
    dr_a = AccountStore(world.database).get_user_by_name("dr.a")
    consent = store.record_consent("Client of m", client_code="C-m")
    session_id = store.create_session(
        consent.id, "ferplus, tta mirror+zoom", CLASSES, "live", owner_id=dr_a.id,
        frames=[record(t_seconds=0.1 * index) for index in range(1, 6)],
    )
    store.add_marker(session_id, 0.3, note="looked away", created_by=dr_a)
    store.end_session(session_id)
    response = client.get(f"/v1/sessions/{session_id}/report?format=html",
                          headers=world.headers("dr.a"))
    assert response.status_code == 200
    html = response.text
    assert "0.3 s" in html and "looked away" in html
    assert "card is not installed" not in html and "accuracy, macro-F1" in html
    out = tmp_path / "cli.html"
    command = ["report", str(session_id), "--out", str(out), "--database", str(world.database)]
    assert fer_main(command) == 0
    # The same document, but for the time of writing and the charts' random SVG ids.
    varying = re.compile(r"report made</td><td>[^<]*|<svg.*?</svg>", re.DOTALL)
    assert varying.sub("", out.read_text()) == varying.sub("", html)


def test_the_service_token_gets_any_report(client, world):
    response = client.get(f"/v1/sessions/{world.sessions['b']}/report?format=pdf",
                          headers=world.headers("service"))
    assert response.status_code == 200 and response.content.startswith(b"%PDF-")


def test_the_owner_deletes_and_the_session_is_gone(client, world):
    a = world.sessions["a"]
    response = client.delete(f"/v1/sessions/{a}", headers=world.headers("dr.a"))
    assert response.status_code == 204 and response.content == b""
    assert client.get(f"/v1/sessions/{a}", headers=world.headers("dr.a")).status_code == 404
    assert a not in {info.id for info in SessionStore(world.database).list_sessions()}
    assert client.delete(f"/v1/sessions/{a}", headers=world.headers("dr.a")).status_code == 404
    entries = AuditLog(world.database).entries()
    assert ("dr.a", "delete_session", f"session {a}") in list(
        zip(entries["actor"], entries["action"], entries["target"], strict=True)
    )


def test_a_deletion_s_audit_entry_names_the_token_used(client, world):
    """As every other entry of the API does: once the entry moved into the deletion's
    transaction it named no token, so a leaked token's deletions could not be told apart."""
    a = world.sessions["a"]
    assert client.delete(f"/v1/sessions/{a}", headers=world.headers("dr.a")).status_code == 204
    (entry,) = AuditLog(world.database).entries().to_dict("records")
    assert (entry["actor"], entry["action"], entry["target"]) == (
        "dr.a", "delete_session", f"session {a}"
    )
    assert re.fullmatch(r"api token \d+", entry["detail"])


def test_a_deletion_whose_audit_entry_cannot_be_written_does_not_happen(
    client, world, monkeypatch
):
    def refuse(*args, **kwargs):
        raise RuntimeError("the audit log cannot be written")

    monkeypatch.setattr("fer.sessions.deletion.append_entry", refuse)
    a = world.sessions["a"]
    response = client.delete(f"/v1/sessions/{a}", headers=world.headers("dr.a"))
    assert response.status_code == 500 and "error id" in response.json()["detail"]
    assert a in {info.id for info in SessionStore(world.database).list_sessions()}


def test_a_clinician_the_session_was_only_shared_with_may_not_delete_it(client, world):
    shared = world.sessions["shared_with_a"]
    response = client.delete(f"/v1/sessions/{shared}", headers=world.headers("dr.a"))
    assert response.status_code == 403
    assert client.get(f"/v1/sessions/{shared}", headers=world.headers("dr.a")).status_code == 200


def test_the_service_token_deletes_nothing_an_admin_deletes_anything(client, world):
    b = world.sessions["b"]
    refused = client.delete(f"/v1/sessions/{b}", headers=world.headers("service"))
    assert refused.status_code == 403 and "service token" in refused.json()["detail"]
    assert client.get(f"/v1/sessions/{b}", headers=world.headers("service")).status_code == 200
    assert client.delete(f"/v1/sessions/{b}", headers=world.headers("boss")).status_code == 204
    assert client.get(f"/v1/sessions/{b}", headers=world.headers("service")).status_code == 404


@pytest.mark.parametrize(("method", "suffix"),
                         [("GET", "/frames"), ("GET", "/report"), ("DELETE", "")])
def test_a_session_deleted_while_being_served_is_an_audited_404(
    client, world, monkeypatch, method, suffix
):
    """Read, then deleted by someone else before its export or deletion: the 404 was the
    only refusal of an authenticated caller that left no audit entry."""
    a = world.sessions["a"]
    get_session = SessionStore.get_session

    def read_then_deleted_elsewhere(self, session_id, viewer=None):
        info = get_session(self, session_id, viewer=viewer)
        SessionStore(world.database).delete_session(session_id, actor="boss", erase=False)
        return info

    monkeypatch.setattr(SessionStore, "get_session", read_then_deleted_elsewhere)
    response = client.request(method, f"/v1/sessions/{a}{suffix}", headers=world.headers("dr.a"))
    assert response.status_code == 404
    newest = AuditLog(world.database).entries().iloc[0]
    assert (newest.actor, newest.action, newest.target) == (
        "dr.a", "access_denied", f"session {a}"
    )
    assert newest.detail.startswith("not found or not visible")
