"""How the API fails: every error is JSON ``{"detail": …}``; bad input is a 4xx with a message
for a person; anything unexpected is a 500 with an error id only, the details in the server log.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from typing import Any

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from fer.api.auth import Receive, Scope, Send, send_json

logger = logging.getLogger(__name__)

# Where FastAPI finds a parameter, in words.
_PLACES = {"path": "path parameter", "query": "query parameter", "body": "form field",
           "header": "header", "cookie": "cookie"}


def _describe(error: dict[str, Any]) -> str:
    location = [str(part) for part in error.get("loc", ())]
    place = _PLACES.get(location[0], location[0]) if location else "request"
    name = ".".join(location[1:])
    message = str(error.get("msg", "is not valid"))
    if error.get("type") == "missing":
        return f"{place} {name!r} is missing" if name else f"the {place} is missing"
    if "Expected UploadFile" in message:  # pydantic's wording names a Python class
        return f"{place} {name!r} must be an uploaded file, not text"
    return f"{place} {name!r}: {message}" if name else f"{place}: {message}"


async def validation_error(_request: Request, error: Exception) -> JSONResponse:
    """422 with one sentence naming each bad parameter (FastAPI's own list holds the input)."""
    errors = error.errors() if isinstance(error, RequestValidationError) else []
    detail = "; ".join(_describe(item) for item in errors) or "The request is not valid."
    return JSONResponse({"detail": detail[:1000]}, status_code=422)


class BodyTooLarge(HTTPException):
    def __init__(self, max_bytes: int):
        super().__init__(
            413, f"The request body is larger than {max_bytes // (1024 * 1024)} MiB."
        )


class BodySizeLimit:
    """ASGI middleware refusing bodies over ``max_bytes``: at once when ``Content-Length`` says
    so, else (a chunked body) as soon as the bytes received pass the limit."""

    def __init__(self, app: Any, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = next(
            (bytes(value) for key, value in scope.get("headers", []) if key == b"content-length"),
            None,
        )
        if declared is not None:
            if not declared.strip().isdigit():
                await send_json(send, 400, b'{"detail": "Content-Length is not a number."}', [])
                return
            if int(declared) > self.max_bytes:
                too_large = BodyTooLarge(self.max_bytes)
                body = json.dumps({"detail": too_large.detail}).encode()
                await send_json(send, 413, body, [(b"connection", b"close")])
                return
        received = 0

        async def limited() -> Any:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # FastAPI passes an HTTPException from reading the body on as it is.
                    raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, limited, send)


CUT_SHORT = (
    "The multipart body ends before its closing boundary: it was cut short or is not "
    "multipart data."
)
_BOUNDARY = re.compile(rb'boundary="?([^";]+)"?', re.IGNORECASE)


def multipart_boundary(scope: Scope) -> bytes | None:
    """The boundary of a ``multipart/form-data`` request (None for any other body)."""
    content_type = next(
        (bytes(value) for key, value in scope.get("headers", []) if key == b"content-type"), b""
    )
    if not content_type.lower().startswith(b"multipart/form-data"):
        return None
    found = _BOUNDARY.search(content_type)
    return found.group(1).strip() if found else None


class CompleteMultipart:
    """ASGI middleware refusing (400) a multipart body that ends before its closing boundary.

    The form parser drops a part the body cuts off without saying so, which would answer a
    truncated upload with "form field 'file' is missing" (422) as if the client had sent no
    file; the close delimiter is looked for in the bytes as they stream past.
    """

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        boundary = multipart_boundary(scope) if scope["type"] == "http" else None
        if boundary is None:
            await self.app(scope, receive, send)
            return
        closing = b"--" + boundary + b"--"
        window, closed = b"", False

        async def checked() -> Any:
            nonlocal window, closed
            message = await receive()
            if message["type"] != "http.request" or closed:
                return message
            # Kept across chunks: the delimiter may straddle two of them.
            window = window[-(len(closing) - 1):] + message.get("body", b"")
            closed = closing in window
            if not closed and not message.get("more_body", False):
                # FastAPI passes an HTTPException from reading the body on as it is.
                raise HTTPException(400, CUT_SHORT)
            return message

        await self.app(scope, checked, send)


class UnexpectedErrors:
    """ASGI middleware, outermost: an exception that nothing handled becomes a 500 whose body
    holds only an error id; the traceback goes to the server log under that id."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except Exception:
            error_id = uuid.uuid4().hex[:12]
            logger.exception(
                "error %s in %s %r", error_id, scope.get("method"), scope.get("path")
            )
            if started:  # the status line is out; the connection is dropped by the server
                raise
            body = json.dumps(
                {"detail": f"Internal error (error id {error_id}).", "error_id": error_id}
            ).encode()
            await send_json(send, 500, body, [])
