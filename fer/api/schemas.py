"""The API's request and response shapes (pydantic), which the OpenAPI document describes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field


class ErrorResponse(BaseModel):
    """Every error: a message for a person; ``error_id`` only for a server error (the id to
    quote to whoever runs the server, who finds the details in its log)."""

    detail: str
    error_id: str | None = None


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Face(BaseModel):
    """One face of an analysed image. Signals are None where they need landmarks that the
    detector could not give (the Haar fallback)."""

    track_id: int
    bbox: Annotated[list[int], Field(min_length=4, max_length=4)] = Field(
        description="x, y, width, height in pixels of the image"
    )
    label: str = Field(description='a class name, or "uncertain" when the top probability is low')
    confidence: float
    probs: dict[str, float] = Field(description="class name -> probability, in the model's order")
    valence: float | None = Field(description="-1 (unpleasant) .. 1 (pleasant)")
    arousal: float | None = Field(description="-1 (calm) .. 1 (activated)")
    action_units: dict[str, float] | None = Field(description="FACS action unit -> 0..1")
    head_pose: dict[str, float] | None = Field(description="yaw, pitch, roll in degrees")
    overexposed: bool = Field(
        default=False,
        description="the face is too bright (clipped white) for its expression to be read "
        "reliably",
    )


class Analysis(BaseModel):
    model: str
    classes: list[str]
    faces: list[Face]
    detector_warning: str | None = Field(
        default=None, description="set when the fallback face detector was used"
    )


class Session(BaseModel):
    """A recorded session's metadata. The client appears only by pseudonym (``client_code``) and
    consent id; the name on the consent stays in the frames export."""

    id: int
    consent_id: int
    client_code: str | None
    started_at: datetime
    ended_at: datetime | None
    source: str
    model: str
    classes: list[str]
    n_frames: int
    owner_id: int | None
    consent_withdrawn_at: datetime | None
    notes: str

    @classmethod
    def from_info(cls, info: Any) -> Session:
        return cls(
            id=info.id,
            consent_id=info.consent_id,
            client_code=info.client_code,
            started_at=info.started_at,
            ended_at=info.ended_at,
            source=info.source,
            model=info.model,
            classes=list(info.classes),
            n_frames=info.n_frames,
            owner_id=info.owner_id,
            consent_withdrawn_at=info.consent_withdrawn_at,
            notes=info.notes,
        )


class SessionList(BaseModel):
    sessions: list[Session]


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` entry of a route for the error statuses it may answer."""
    texts = {
        400: "Bad input (not an image, an empty file, a body that does not parse)",
        401: "No valid bearer token",
        403: "The caller's role may not do this",
        404: "No such session, or none the caller may see",
        413: "The request body is too large",
        422: "A missing or malformed parameter or field",
        503: "Too many images are being analysed; retry after the Retry-After seconds",
    }
    return {status: {"model": ErrorResponse, "description": texts[status]} for status in statuses}
