"""The FastAPI application: routes under ``/v1``, its OpenAPI document at ``/openapi.json``.

Requests pass, outermost first: :class:`~fer.api.head.HeadAsGet` (a ``HEAD`` answered as its
``GET``, without the body), :class:`~fer.api.errors.UnexpectedErrors` (a 500 with an error
id for anything unhandled), :class:`~fer.api.auth.BearerAuth` (401 without a valid token, before
the body is read), :class:`~fer.api.errors.BodySizeLimit` (413),
:class:`~fer.api.errors.CompleteMultipart` (400 for a multipart body cut short), then FastAPI's
routing and validation (422 with a sentence per bad parameter).
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartParser
from starlette.responses import Response

from fer.accounts.audit import AuditLog
from fer.accounts.tokens import TokenStore
from fer.api import analysis, sessions
from fer.api.auth import Authenticator, BearerAuth, check_service_token
from fer.api.errors import (
    BodySizeLimit,
    CompleteMultipart,
    UnexpectedErrors,
    validation_error,
)
from fer.api.head import HeadAsGet
from fer.api.schemas import Health
from fer.sessions.store import SessionStore

API_VERSION = "v1"
# An image larger than this is refused before it is parsed; photos of a face need far less.
MAX_BODY_BYTES = 20 * 1024 * 1024

DESCRIPTION = """\
Facial-expression analysis and recorded sessions for a clinic's systems.

Every endpoint but `/v1/health` needs `Authorization: Bearer <token>`: a token issued to an
account (`fer users token NAME`) or the service token the server was started with
(`FER_API_TOKEN`). The figures describe what software read from a face; they are not a diagnosis.
"""

health_router = APIRouter(tags=["health"])


@health_router.get("/health", response_model=Health, summary="Whether the server answers")
def health() -> Health:
    return Health()


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """The methods the OpenAPI document gives the path template that ``path`` matches, and
    ``HEAD`` wherever there is ``GET`` (:class:`~fer.api.head.HeadAsGet`)."""
    methods: set[str] = set()
    for template, operations in app.openapi()["paths"].items():
        pattern = re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path):
            methods |= {method.upper() for method in operations}
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


async def _http_error(request: Request, error: Exception) -> Response:
    """FastAPI's JSON error, with an ``Allow`` header listing every method of the path on a 405
    (Starlette's names only the methods of the first route that matched the path)."""
    if not isinstance(error, StarletteHTTPException):  # registered for that class only
        raise error
    if error.status_code == 405:
        allow = ", ".join(allowed_methods(request.app, request.url.path))
        error.headers = {**(error.headers or {}), "Allow": allow}
    return await http_exception_handler(request, error)


def create_app(
    database_location: str | Path,
    model_name: str | None = None,
    service_token: str | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> FastAPI:
    """The API over the session database at ``database_location`` (a file or a
    ``postgresql://`` URL).

    ``model_name`` is the model ``/v1/analyze`` serves (default: the Live page's), loaded on
    the first image; ``service_token`` the token of the service principal (None: none), read from
    the environment by the caller, never here. Raises ``ValueError`` for a service token shorter
    than :data:`fer.api.auth.MIN_SERVICE_TOKEN_LENGTH`.
    """
    check_service_token(service_token)  # before the database is created or migrated
    tokens = TokenStore(database_location)
    authenticator = Authenticator(tokens, service_token)
    # Starlette writes an uploaded file over its spool size (1 MiB) to a temporary file on disk;
    # a client's photograph must never reach the disk, and the body limit already bounds what
    # a request may hold in memory.
    MultiPartParser.spool_max_size = max(MultiPartParser.spool_max_size, max_body_bytes)
    app = FastAPI(
        title="fer workbench API",
        version=API_VERSION,
        description=DESCRIPTION,
        openapi_url="/openapi.json",
        # The interactive pages load their scripts from a CDN; a clinic's server fetches nothing.
        docs_url=None,
        redoc_url=None,
    )
    app.state.store = SessionStore(database_location)
    app.state.audit = AuditLog(database_location)
    app.state.tokens = tokens
    app.state.analyser = analysis.Analyser(model_name)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    prefix = f"/{API_VERSION}"
    app.include_router(health_router, prefix=prefix)
    app.include_router(analysis.router, prefix=prefix)
    app.include_router(sessions.router, prefix=prefix)
    # Added innermost first: the last one added sees the request first.
    app.add_middleware(CompleteMultipart)
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)
    app.add_middleware(BearerAuth, authenticator=authenticator)
    app.add_middleware(UnexpectedErrors)
    app.add_middleware(HeadAsGet)
    return app
