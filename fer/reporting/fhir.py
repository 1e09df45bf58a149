"""The report as a FHIR R4 Bundle: the client (pseudonymous Patient), the Consent, one
Observation per summary figure of the client's face, and a DocumentReference carrying the PDF.
An Observation of an expression the model's card marks unreliable says why in a note, as the HTML
and PDF do beside it.

Only the client's face (the one seen longest, as the client history takes it) is filed as the
patient's Observations: another face in the picture is another person, whom the record must not
attribute to the client, and who gave no consent to be filed. The DocumentReference's description
names the faces left out; their figures are in the attached PDF only. While the session is still
open, the Observations are ``preliminary`` and the document's ``docStatus`` too; ``final`` once it
has ended.

Consent numbers and client codes repeat across installations (consent 1, or client code "C-17",
of one clinic is someone else in another), so every resource id is a UUID5 name in the namespace
of the database's installation id (:mod:`fer.storage.installation`), and the Patient's
identifier systems name the installation too. A bundle resent from one database updates the
resources it made before; one from another database never touches them. Ids were the same in
every installation before schema revision r0007: a bundle resent after that upgrade creates new
resources beside the old ones instead of updating them.

Resources are built and validated with ``fhir.resources``' R4B models (R4 with its technical
corrections; these five resources have the same JSON shape in R4).
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from typing import Any

from fer.realtime.tracking import face_name
from fer.reporting.content import (
    DISCLAIMER,
    ReportContent,
    client_face_of,
    other_faces,
    report_time,
    summary_figures,
)


def client_code_system(installation_id: uuid.UUID) -> str:
    """The identifier system of the client codes of one installation: a client code is the
    clinic's own pseudonym, which another clinic may give someone else."""
    return f"urn:fer-workbench:{installation_id}:client-code"


def consent_record_system(installation_id: uuid.UUID) -> str:
    """The identifier system of a client without a code, known by the number of their consent
    record in one installation's database: not a client code, and unique in that database only."""
    return f"urn:fer-workbench:{installation_id}:consent-record"


def _id(content: ReportContent, *parts: Any) -> str:
    # The installation's namespace keeps ids stable for resends from one database and apart from
    # every other database's. A session's ids also hold when it began: a SQLite database gave a
    # deleted newest session's id to the next session before schema revision r0006, and that
    # session's bundle must not replace another client's record (consents are never deleted).
    return str(uuid.uuid5(content.installation_id, "/".join(map(str, parts))))


def report_bundle(content: ReportContent, pdf: bytes) -> dict[str, Any]:
    """The Bundle as a JSON-ready dict, validated against the FHIR models."""
    from fhir.resources.R4B.bundle import Bundle

    patient_id = _id(content, "patient", content.client)
    session_key = f"{content.session_id}@{content.started_at.isoformat()}"
    patient_ref = {"reference": f"urn:uuid:{patient_id}"}
    period = {"start": report_time(content.started_at)}
    if content.ended_at:
        period["end"] = report_time(content.ended_at)
    withdrawn = content.consent["withdrawn_at"]
    # A session still being recorded may gain frames: its figures can still change.
    status = "final" if content.ended_at else "preliminary"
    resources: list[dict[str, Any]] = [
        {
            "resourceType": "Patient",
            "id": patient_id,
            "identifier": [
                {"system": client_code_system(content.installation_id),
                 "value": content.client_code}
                if content.client_code
                else {"system": consent_record_system(content.installation_id),
                      "value": str(content.consent["id"])}
            ],
        },
        {
            "resourceType": "Consent",
            "id": _id(content, "consent", content.consent["id"]),
            "status": "inactive" if withdrawn else "active",
            "scope": {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                "code": "patient-privacy",
            }]},
            "category": [{"text": "Facial-expression analysis during a remote session"}],
            "patient": patient_ref,
            "dateTime": content.consent["given_at"],
            "policyRule": {"text": content.consent["statement"]},
        },
    ]
    for figure in summary_figures(content):
        notes = [{"text": DISCLAIMER}]
        if figure.caution:
            notes.append({"text": f"Read with caution: {figure.caution}"})
        resources.append({
            "resourceType": "Observation",
            "id": _id(content, "observation", session_key, figure.name),
            "status": status,
            "category": [{"text": "facial-expression session summary (descriptive)"}],
            "code": {"text": figure.name},
            "subject": patient_ref,
            "effectivePeriod": period,
            "valueQuantity": {"value": round(float(figure.value), 4), "unit": figure.unit},
            "note": notes,
            "device": {"display": f"fer-workbench model {content.model.name}"},
        })
    description = f"Facial-expression session report, session {content.session_id}"
    left_out = other_faces(content)
    client = client_face_of(content)
    if left_out and client is not None:
        one = len(left_out) == 1
        description += (
            f". Its Observations describe {face_name(client['track_id'])}, taken as the "
            f"client's (the face seen longest); {', '.join(left_out)} "
            f"{'was' if one else 'were'} not filed under the client and "
            f"{'is' if one else 'are'} in the attached report only."
        )
    resources.append({
        "resourceType": "DocumentReference",
        "id": _id(content, "document", session_key),
        "status": "current",
        "docStatus": status,
        "description": description,
        "subject": patient_ref,
        "date": report_time(content.generated_at),
        "content": [{"attachment": {
            "contentType": "application/pdf",
            "data": base64.b64encode(pdf).decode("ascii"),
            "hash": base64.b64encode(hashlib.sha1(pdf).digest()).decode("ascii"),
            "title": f"session-{content.session_id}.pdf",
        }}],
        "context": {"period": period},
    })
    bundle = {
        "resourceType": "Bundle",
        "id": _id(content, "bundle", session_key),
        "type": "collection",
        "entry": [
            {"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource}
            for resource in resources
        ],
    }
    return Bundle.model_validate(bundle).model_dump(mode="json", exclude_none=True)
