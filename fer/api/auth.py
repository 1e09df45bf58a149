"""Who calls: bearer tokens checked before a request's body is read, and who may see what.

Every path under ``/v1`` but ``/v1/health`` needs ``Authorization: Bearer <token>``: a token issued
to an account (``fer users token NAME``, kept hashed in the database) or the service token the
server was started with (``FER_API_TOKEN``, compared by hash in constant time). The check runs
in :class:`BearerAuth`, an ASGI middleware, so that an unauthenticated upload is refused with 401
before any of it is parsed. Failed attempts go to the server log, not to the audit log, so that
anyone who can reach the port cannot fill the audit log.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Annotated, Any

import anyio.to_thread
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from fer.accounts.tokens import InvalidTokenError, TokenStore
from fer.accounts.users import User

logger = logging.getLogger(__name__)

SERVICE_ACTOR = "api:service"
PUBLIC_PATHS = frozenset({"/v1/health"})
PROTECTED_PREFIX = "/v1"
# A shorter service token could be guessed; `secrets.token_urlsafe(32)` gives 43 characters.
MIN_SERVICE_TOKEN_LENGTH = 32
# RFC 7235's token68, what `Authorization: Bearer <token>` carries: a token with a space, a line
# break or any other character could never be sent as it is, so it would never match.
TOKEN68 = re.compile(r"[A-Za-z0-9._~+/-]+=*")
CHALLENGE = 'Bearer realm="fer"'

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class Principal:
    """The caller of one request: an account's token, or the service (``user`` None)."""

    actor: str  # the name the audit log records
    user: User | None
    token: str  # which credential, for the audit log's detail: "api token 7", "FER_API_TOKEN"

    @property
    def is_service(self) -> bool:
        return self.user is None

    @property
    def viewer(self) -> User | None:
        """What the session store filters by; None (every session) for the service."""
        return self.user


def check_service_token(service_token: str | None, name: str = "The service token") -> None:
    """``ValueError`` for a service token too short to resist guessing, or one that no
    ``Authorization`` header can carry (not token68). The message calls it ``name`` and never
    quotes its value."""
    if service_token is None:
        return
    make_one = "make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
    if len(service_token) < MIN_SERVICE_TOKEN_LENGTH:
        raise ValueError(
            f"{name} must be at least {MIN_SERVICE_TOKEN_LENGTH} characters ({make_one})"
        )
    if not TOKEN68.fullmatch(service_token):
        raise ValueError(
            f"{name} may hold only letters, digits and - . _ ~ + / (then = signs at the end): "
            "a space, line break or other character inside it could never be sent in an "
            f"Authorization header, so no request would match ({make_one})"
        )


class Authenticator:
    """Turns an ``Authorization`` header into a :class:`Principal`, or None."""

    def __init__(self, tokens: TokenStore, service_token: str | None = None):
        check_service_token(service_token)
        self.tokens = tokens
        self._service_digest = (
            None if service_token is None else hashlib.sha256(service_token.encode()).digest()
        )

    def authenticate(self, authorization: str | None) -> Principal | None:
        token = bearer_token(authorization)
        if token is None:
            return None
        if self._service_digest is not None and hmac.compare_digest(
            hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest(),
            self._service_digest,
        ):
            return Principal(SERVICE_ACTOR, None, "FER_API_TOKEN")
        try:
            record = self.tokens.verify(token)
        except InvalidTokenError:
            return None
        if record.user is None:  # a service token issued into the database
            return Principal(SERVICE_ACTOR, None, f"api token {record.id}")
        return Principal(record.user.name, record.user, f"api token {record.id}")


# Set in a request's state by fer.api.head.HeadAsGet, which passes a HEAD on as a GET.
ANSWERED_AS_HEAD = "answered_as_head"


def requested_method(scope: Scope) -> str:
    """The method the client sent: ``HEAD`` for a request passed on as a ``GET``."""
    if scope.get("state", {}).get(ANSWERED_AS_HEAD):
        return "HEAD"
    return str(scope.get("method"))


def read_bearer(authorization: str | None) -> tuple[str | None, str | None]:
    """Read an ``Authorization`` header as RFC 6750 (2.1) writes a bearer credential,
    ``Bearer 1*SP token68``, the scheme in any case.

    Returns ``(token, None)`` for a well-formed one; ``(None, why)`` for a header that names the
    bearer scheme but is malformed, ``why`` a clause for a person; ``(None, None)`` for no header
    or another scheme.
    """
    # RFC 9110 (5.5): only spaces and tabs around a field value are not part of it.
    credentials = (authorization or "").strip(" \t")
    scheme_end = next(
        (index for index, character in enumerate(credentials) if character.isspace()),
        len(credentials),
    )
    scheme, after_scheme = credentials[:scheme_end], credentials[scheme_end:]
    token = after_scheme.lstrip()
    separator = after_scheme[: len(after_scheme) - len(token)]
    if scheme.lower() != "bearer":
        return None, None
    if not token:
        return None, "no token follows the Bearer scheme"
    if separator.strip(" "):  # RFC 9110 (11.4): spaces, and only spaces, before the token
        return None, "the scheme and the token must be separated by a space"
    if any(character.isspace() for character in token):
        return None, "the token must not contain spaces or other whitespace"
    # No token the server issues or accepts holds another character, so none could match.
    if not TOKEN68.fullmatch(token):
        return None, (
            "the token may hold only letters, digits and - . _ ~ + / (then = signs at the end)"
        )
    return token, None


def bearer_token(authorization: str | None) -> str | None:
    """The token of a well-formed ``Authorization: Bearer <token>`` header, None otherwise."""
    return read_bearer(authorization)[0]


def refusal(authorization: str | None) -> tuple[str, str]:
    """The detail and the ``WWW-Authenticate`` challenge of a 401 for ``authorization``: an
    error code only when bearer credentials were sent (RFC 6750, 3.1), and a detail that says
    what was wrong with them."""
    token, malformation = read_bearer(authorization)
    if token is not None:
        return "The bearer token is not valid.", CHALLENGE + ', error="invalid_token"'
    if malformation is not None:
        return (
            f"The Authorization header is malformed: {malformation}.",
            CHALLENGE + ', error="invalid_request"',
        )
    if not (authorization or "").strip(" \t"):
        return "A bearer token is needed.", CHALLENGE
    return "A bearer token is needed: the Authorization header names another scheme.", CHALLENGE


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


async def send_json(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]):
    """Answer a request from a middleware (the body is JSON already)."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BearerAuth:
    """ASGI middleware: 401 (with ``WWW-Authenticate``) for a protected path without a valid
    token; otherwise the principal is put in the request's state for :func:`current_principal`."""

    def __init__(self, app: Any, authenticator: Authenticator):
        self.app = app
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        protected = path == PROTECTED_PREFIX or path.startswith(PROTECTED_PREFIX + "/")
        if scope["type"] != "http" or not protected or path in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        header = _header(scope, b"authorization")
        # The token lookup reads the database: off the event loop.
        principal = await anyio.to_thread.run_sync(self.authenticator.authenticate, header)
        if principal is None:
            detail, challenge = refusal(header)
            # %r: a path is the caller's text, and a decoded newline in it would forge a line.
            logger.warning("refused %s %r: %s", requested_method(scope), path, detail)
            body = json.dumps({"detail": f"{detail} Send Authorization: Bearer <token>."})
            await send_json(send, 401, body.encode(), [(b"www-authenticate", challenge.encode())])
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)


# Declares the scheme in the OpenAPI document; the check itself is BearerAuth's.
_bearer_scheme = HTTPBearer(auto_error=False, description="an API token: fer users token NAME")


def current_principal(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer_scheme)],
) -> Principal:
    principal = getattr(request.state, "principal", None)
    if not isinstance(principal, Principal):  # only if BearerAuth is not installed
        raise HTTPException(401, "A bearer token is needed.", {"WWW-Authenticate": CHALLENGE})
    return principal
