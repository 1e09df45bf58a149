"""The report as a FHIR R4 Bundle: the client (pseudonymous Patient), the Consent, one
Observation per summary figure, and a DocumentReference carrying the PDF. An Observation of an
expression the model's card marks unreliable says why in a note, as the HTML and PDF do beside it.

Resources are built and validated with ``fhir.resources``' R4B models (R4 with its technical
corrections; these five resources have the same JSON shape in R4).
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from typing import Any

from fer.reporting.content import DISCLAIMER, ReportContent, summary_figures

CLIENT_CODE_SYSTEM = "urn:fer-workbench:client-code"
# A fixed namespace keeps resource ids stable for one session, so a resent bundle updates. The
# session's ids also hold when it began: a SQLite database gave a deleted newest session's id to
# the next session before schema revision r0006, and that session's bundle must not replace
# another client's record (consents are never deleted).
_NAMESPACE = uuid.UUID("6f0b6a7e-3c1e-4f5e-9a5d-2b8e4c9f7a10")


def _id(*parts: Any) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join(map(str, parts))))


def report_bundle(content: ReportContent, pdf: bytes) -> dict[str, Any]:
    """The Bundle as a JSON-ready dict, validated against the FHIR models."""
    from fhir.resources.R4B.bundle import Bundle

    patient_id = _id("patient", content.client)
    session_key = f"{content.session_id}@{content.started_at.isoformat()}"
    patient_ref = {"reference": f"urn:uuid:{patient_id}"}
    period = {"start": content.started_at.isoformat()}
    if content.ended_at:
        period["end"] = content.ended_at.isoformat()
    withdrawn = content.consent["withdrawn_at"]
    resources: list[dict[str, Any]] = [
        {
            "resourceType": "Patient",
            "id": patient_id,
            "identifier": [{"system": CLIENT_CODE_SYSTEM, "value": content.client}],
        },
        {
            "resourceType": "Consent",
            "id": _id("consent", content.consent["id"]),
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
            "id": _id("observation", session_key, figure.name),
            "status": "final",
            "category": [{"text": "facial-expression session summary (descriptive)"}],
            "code": {"text": figure.name},
            "subject": patient_ref,
            "effectivePeriod": period,
            "valueQuantity": {"value": round(float(figure.value), 4), "unit": figure.unit},
            "note": notes,
            "device": {"display": f"fer-workbench model {content.model.name}"},
        })
    resources.append({
        "resourceType": "DocumentReference",
        "id": _id("document", session_key),
        "status": "current",
        "description": f"Facial-expression session report, session {content.session_id}",
        "subject": patient_ref,
        "date": content.generated_at.astimezone().isoformat(),
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
        "id": _id("bundle", session_key),
        "type": "collection",
        "entry": [
            {"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource}
            for resource in resources
        ],
    }
    return Bundle.model_validate(bundle).model_dump(mode="json", exclude_none=True)
