"""``HEAD`` requests: answered as their ``GET`` would be, without the body, and still known to
the routes as ``HEAD`` so that the audit log never records as sent what was not."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from fastapi import Request

from fer.api.auth import ANSWERED_AS_HEAD, Receive, Scope, Send, requested_method


class HeadAsGet:
    """ASGI middleware: a ``HEAD`` request is answered as its ``GET`` would be, status and
    headers, without the body (RFC 9110, 9.3.2). FastAPI's routes answer only the methods they
    declare (fastapi/fastapi#1773), so a ``HEAD`` would otherwise get 405; declaring ``HEAD`` on
    each route would list it in the OpenAPI document as a second operation."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def without_body(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        # A copy: the server reads the method of its own scope to leave a HEAD answer bodiless.
        state = {**scope.get("state", {}), ANSWERED_AS_HEAD: True}
        await self.app({**scope, "method": "GET", "state": state}, receive, without_body)


def is_head(request: Request) -> bool:
    """Whether ``request`` is a ``HEAD`` that :class:`HeadAsGet` passed on as a ``GET``: its
    answer carries the status and headers but none of the body the route builds."""
    return requested_method(request.scope) == "HEAD"
