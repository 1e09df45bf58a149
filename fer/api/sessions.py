"""``/v1/sessions``: list, read, export, report and delete recorded sessions.

Each caller sees what their account sees in the app (:mod:`fer.sessions.queries`): a clinician
the sessions they recorded or that were shared with them, an admin all of them; a reviewer no
patient data (403). A session the caller may not see answers 404, as a missing one does. The
service token reads every session but deletes none: deleting a recording is a clinician's or an
admin's decision, made under an account the audit log can name. Every access, and every refusal
of an authenticated caller, is written to the audit log; a ``HEAD`` is recorded as the check it
is (``check_session``, ``check_sessions``), never as the view or export it did not send.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi import Path as PathParameter
from fastapi.responses import Response

from fer.api.auth import Principal, current_principal
from fer.api.head import is_head
from fer.api.schemas import Session, SessionList, error_responses
from fer.sessions.records import AccessDeniedError, SessionNotFoundError

router = APIRouter(prefix="/sessions", tags=["sessions"])

# SQLite and PostgreSQL keep ids in 64-bit integers; a larger number is no session.
MAX_ID = 2**63 - 1
SessionId = Annotated[int, PathParameter(ge=1, le=MAX_ID, description="the session's number")]
Caller = Annotated[Principal, Depends(current_principal)]

REPORT_TYPES = {"html": "text/html; charset=utf-8", "pdf": "application/pdf",
                "fhir": "application/fhir+json"}
REPORT_SUFFIXES = {"html": "html", "pdf": "pdf", "fhir": "json"}
# What a HEAD is recorded as in place of the GET's action. It sends the GET's status and headers
# (type, size, file name) but no patient data, so calling it a view or an export would tell an
# auditor that data left which did not; it is still recorded, as every access is, because it
# confirms that the caller may see the session.
HEAD_ACTIONS = {"list_sessions": "check_sessions", "view_session": "check_session",
                "export_session": "check_session"}


def _document(media_types: dict[str, dict[str, Any]], description: str) -> dict[int | str, Any]:
    return {200: {"description": description, "content": media_types}}


def _audit(request: Request, principal: Principal, action: str, target: str = "",
           detail: str = "") -> None:
    detail = f"{detail}; {principal.token}" if detail else principal.token
    request.app.state.audit.record(principal.actor, action, target, detail)


def _audit_answer(request: Request, principal: Principal, action: str, target: str = "",
                  detail: str = "") -> None:
    """Record an access about to be answered: as ``action``, or for a HEAD as the check it is."""
    if is_head(request):
        action = HEAD_ACTIONS[action]
        detail = f"{detail}, headers only" if detail else "headers only"
    _audit(request, principal, action, target, detail)


def _patient_data_viewer(request: Request, principal: Principal, target: str) -> Any:
    """The viewer to filter by; 403 (audited) for an account that sees no patient data."""
    if principal.user is not None and not principal.user.sees_patient_data:
        _audit(request, principal, "access_denied", target, f"role {principal.user.role}")
        raise HTTPException(403, "This account's role (reviewer) gives no access to sessions.")
    return principal.viewer


def _not_found(request: Request, principal: Principal, session_id: int) -> HTTPException:
    """The 404 for a session missing or not visible, audited as every refusal is (also when
    it was deleted between being read and being exported or deleted)."""
    _audit(request, principal, "access_denied", f"session {session_id}",
           "not found or not visible")
    return HTTPException(404, f"No session {session_id} that you may see.")


def _visible(request: Request, principal: Principal, session_id: int) -> Any:
    viewer = _patient_data_viewer(request, principal, f"session {session_id}")
    try:
        return request.app.state.store.get_session(session_id, viewer=viewer)
    except SessionNotFoundError:
        raise _not_found(request, principal, session_id) from None


@router.get("", response_model=SessionList, summary="The sessions the caller may see",
            responses=error_responses(401, 403))
def list_sessions(request: Request, principal: Caller) -> SessionList:
    viewer = _patient_data_viewer(request, principal, "sessions")
    infos = request.app.state.store.list_sessions(viewer=viewer)
    _audit_answer(request, principal, "list_sessions", detail=f"{len(infos)} sessions")
    return SessionList(sessions=[Session.from_info(info) for info in infos])


@router.get("/{session_id}", response_model=Session, summary="One session's metadata",
            responses=error_responses(401, 403, 404, 422))
def get_session(request: Request, principal: Caller, session_id: SessionId) -> Session:
    info = _visible(request, principal, session_id)
    _audit_answer(request, principal, "view_session", f"session {info.id}")
    return Session.from_info(info)


@router.get(
    "/{session_id}/frames",
    response_class=Response,
    summary="A session's per-frame results as CSV or JSON",
    responses={
        **_document(
            {"text/csv": {"schema": {"type": "string"}},
             "application/json": {"schema": {"type": "object"}}},
            "The frames export, as the app's download buttons give it",
        ),
        **error_responses(401, 403, 404, 422),
    },
)
def export_frames(
    request: Request,
    principal: Caller,
    session_id: SessionId,
    format: Annotated[Literal["csv", "json"], Query(description="csv or json")] = "csv",
) -> Response:
    info = _visible(request, principal, session_id)
    store = request.app.state.store
    try:
        if format == "csv":
            body = store.export_csv(info.id, viewer=principal.viewer)
            media_type = "text/csv; charset=utf-8"
        else:
            body = store.export_json(info.id, viewer=principal.viewer)
            media_type = "application/json"
    except SessionNotFoundError:  # deleted since it was read
        raise _not_found(request, principal, session_id) from None
    _audit_answer(request, principal, "export_session", f"session {info.id}", f"frames {format}")
    filename = f"session-{info.id}-frames.{format}"
    return Response(body, media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get(
    "/{session_id}/report",
    response_class=Response,
    summary="A session's report for the health record: HTML, PDF or a FHIR R4 Bundle",
    responses={
        **_document(
            {"text/html": {"schema": {"type": "string"}},
             "application/pdf": {"schema": {"type": "string", "format": "binary"}},
             "application/fhir+json": {"schema": {"type": "object"}}},
            "The report (fer report gives the same files)",
        ),
        **error_responses(401, 403, 404, 422),
    },
)
def session_report(
    request: Request,
    principal: Caller,
    session_id: SessionId,
    format: Annotated[Literal["html", "pdf", "fhir"], Query(description="html, pdf or fhir")] = (
        "html"
    ),
) -> Response:
    from fer.reporting.document import session_report

    info = _visible(request, principal, session_id)
    try:
        body = session_report(request.app.state.store, info.id, format, viewer=principal.viewer)
    except SessionNotFoundError:  # deleted since it was read
        raise _not_found(request, principal, session_id) from None
    _audit_answer(request, principal, "export_session", f"session {info.id}", f"report {format}")
    filename = f"session-{info.id}-report.{REPORT_SUFFIXES[format]}"
    return Response(body, media_type=REPORT_TYPES[format],
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.delete(
    "/{session_id}",
    status_code=204,
    response_class=Response,
    summary="Delete a session and its frames (the consent record stays)",
    responses={204: {"description": "Deleted"}, **error_responses(401, 403, 404, 422)},
)
def delete_session(request: Request, principal: Caller, session_id: SessionId) -> Response:
    target = f"session {session_id}"
    if principal.is_service:
        _audit(request, principal, "access_denied", target, "delete with the service token")
        raise HTTPException(403, "The service token may not delete sessions; use an account.")
    info = _visible(request, principal, session_id)
    try:
        # The audit entry commits with the deletion, or neither happens.
        request.app.state.store.delete_session(
            info.id, viewer=principal.viewer, actor=principal.actor, detail=principal.token
        )
    except AccessDeniedError as error:
        _audit(request, principal, "access_denied", target, "delete: not the owner")
        raise HTTPException(403, str(error)) from None
    except SessionNotFoundError:  # deleted since it was read
        raise _not_found(request, principal, session_id) from None
    return Response(status_code=204)
