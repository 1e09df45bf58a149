"""The browser's and the app's ICE servers (STUN/TURN) for live video, from the environment.

Read at the edge, on each page run that shows a camera: the Live page and the client's Join page.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import os
import time
from collections.abc import Mapping

from fer.config import minutes_from_env

ICE_SERVERS_ENV = "FER_ICE_SERVERS"
TURN_URL_ENV = "FER_TURN_URL"
TURN_USERNAME_ENV = "FER_TURN_USERNAME"
TURN_CREDENTIAL_ENV = "FER_TURN_CREDENTIAL"
TURN_SECRET_ENV = "FER_TURN_SECRET"
TURN_TTL_ENV = "FER_TURN_TTL_MIN"
# A credential must outlive the session that uses it: coturn checks the expiry again whenever the
# browser or the app refreshes its relay, which they do every few minutes while the video runs.
DEFAULT_TURN_TTL_MIN = 240.0
# Expiry times are rounded up to this step, so that every page run within it hands the browser
# the same configuration (and a rerun does not send the camera component new arguments).
TURN_EXPIRY_STEP_S = 600
TURN_USER_LABEL = "fer"
ICE_TRANSPORT_POLICY_ENV = "FER_ICE_TRANSPORT_POLICY"
ICE_TRANSPORT_POLICIES = ("all", "relay")


def _check_ice_server(server: object, where: str) -> dict:
    if not isinstance(server, dict):
        raise ValueError(f"{where}: each ICE server must be an object with 'urls', got {server!r}")
    urls = server.get("urls")
    if isinstance(urls, str):
        urls = [urls]
    if not urls or not isinstance(urls, list) or not all(isinstance(url, str) for url in urls):
        raise ValueError(f"{where}: an ICE server needs 'urls' (a string or list of strings)")
    bad = [url for url in urls if not url.startswith(("stun:", "stuns:", "turn:", "turns:"))]
    if bad:
        raise ValueError(f"{where}: ICE urls must start with stun:, stuns:, turn: or turns: {bad}")
    checked = {"urls": urls}
    for name in ("username", "credential"):
        if name in server:
            if not isinstance(server[name], str):
                raise ValueError(f"{where}: '{name}' must be a string")
            checked[name] = server[name]
    return checked


def turn_ttl_minutes(environ: Mapping[str, str] | None = None) -> float:
    """``$FER_TURN_TTL_MIN``: how long a short-lived TURN credential stays valid (default four
    hours, 10 to 1440 minutes; :func:`fer.config.minutes_from_env`)."""
    return minutes_from_env(TURN_TTL_ENV, DEFAULT_TURN_TTL_MIN, 10, 1440, environ=environ)


def short_lived_turn_credential(
    secret: str, now: float, ttl_minutes: float, label: str = TURN_USER_LABEL
) -> tuple[str, str]:
    """coturn's time-limited credential (``use-auth-secret`` with ``static-auth-secret``, the
    "TURN REST API" scheme): the username is ``EXPIRY:label`` with EXPIRY in Unix seconds, the
    credential base64(HMAC-SHA1(secret, username)). coturn recomputes the HMAC from its own copy
    of the secret and refuses the username once EXPIRY has passed, so what a browser can read
    from the page is useless after that. EXPIRY is ``now + ttl`` rounded up to
    ``TURN_EXPIRY_STEP_S``."""
    expiry = math.ceil((now + ttl_minutes * 60) / TURN_EXPIRY_STEP_S) * TURN_EXPIRY_STEP_S
    username = f"{expiry}:{label}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode("ascii")


def _turn_server(environ: Mapping[str, str], now: float | None) -> dict | None:
    """The ``FER_TURN_*`` server, with a fixed or a short-lived credential; ``None`` if unset."""
    turn_url = environ.get(TURN_URL_ENV, "").strip()
    username = environ.get(TURN_USERNAME_ENV, "")
    credential = environ.get(TURN_CREDENTIAL_ENV, "")
    secret = environ.get(TURN_SECRET_ENV, "").strip()
    if not turn_url:
        if username or credential or secret:
            raise ValueError(
                f"{TURN_USERNAME_ENV}/{TURN_CREDENTIAL_ENV}/{TURN_SECRET_ENV} are set but "
                f"{TURN_URL_ENV} is not"
            )
        return None
    if secret and (username or credential):
        raise ValueError(
            f"Set either {TURN_SECRET_ENV} (short-lived credentials) or {TURN_USERNAME_ENV} and "
            f"{TURN_CREDENTIAL_ENV} (a fixed one), not both"
        )
    if bool(username) != bool(credential):
        raise ValueError(
            f"Set both {TURN_USERNAME_ENV} and {TURN_CREDENTIAL_ENV} for the TURN server "
            "(or neither)"
        )
    turn = {"urls": turn_url}
    if secret:
        ttl = turn_ttl_minutes(environ)
        username, credential = short_lived_turn_credential(
            secret, time.time() if now is None else now, ttl
        )
    if username:
        turn.update(username=username, credential=credential)
    return _check_ice_server(turn, TURN_URL_ENV)


def rtc_configuration(
    environ: Mapping[str, str] | None = None, now: float | None = None
) -> dict:
    """The RTCConfiguration for ``webrtc_streamer``, from environment variables.

    - ``FER_ICE_SERVERS``: JSON, a list of ICE servers (``{"urls", "username", "credential"}``)
      or an object with ``"iceServers"``;
    - ``FER_TURN_URL``: one TURN server, with either ``FER_TURN_SECRET`` (coturn's
      ``static-auth-secret``: a short-lived credential is made here, valid for
      ``FER_TURN_TTL_MIN`` minutes from ``now``, default the current time) or
      ``FER_TURN_USERNAME`` and ``FER_TURN_CREDENTIAL`` (a fixed one);
    - ``FER_ICE_TRANSPORT_POLICY``: ``all`` (default) or ``relay``, which makes the browser send
      its video only through the TURN server (to check a relay, or where direct paths must not be
      used).

    Without them: ``{"iceServers": []}``, which keeps a session on this machine or LAN offline
    (streamlit-webrtc would otherwise add a public STUN server). Raises ``ValueError`` with the
    variable's name when a value is malformed.
    """
    environ = os.environ if environ is None else environ
    servers: list[dict] = []
    text = environ.get(ICE_SERVERS_ENV, "").strip()
    if text:
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"{ICE_SERVERS_ENV} is not valid JSON: {error}") from None
        if isinstance(parsed, dict) and "iceServers" in parsed:
            parsed = parsed["iceServers"]
        if not isinstance(parsed, list):
            raise ValueError(f"{ICE_SERVERS_ENV} must be a JSON list of ICE servers")
        servers.extend(_check_ice_server(server, ICE_SERVERS_ENV) for server in parsed)
    turn = _turn_server(environ, now)
    if turn is not None:
        servers.append(turn)
    policy = environ.get(ICE_TRANSPORT_POLICY_ENV, "").strip() or "all"
    if policy not in ICE_TRANSPORT_POLICIES:
        raise ValueError(f"{ICE_TRANSPORT_POLICY_ENV} must be one of {ICE_TRANSPORT_POLICIES}")
    if policy == "relay" and not any(
        url.startswith(("turn:", "turns:")) for server in servers for url in server["urls"]
    ):
        raise ValueError(f"{ICE_TRANSPORT_POLICY_ENV}=relay needs a TURN server ({TURN_URL_ENV})")
    if policy == "all":
        return {"iceServers": servers}
    return {"iceServers": servers, "iceTransportPolicy": policy}
