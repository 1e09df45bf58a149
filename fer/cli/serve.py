"""Serve the REST API for a clinic's systems (FastAPI on uvicorn): image analysis and the recorded
sessions each token's account may see. OpenAPI document at /openapi.json; see docs/api.md.

Callers send Authorization: Bearer <token>: a token of an account (fer users token NAME) or the
service token in $FER_API_TOKEN (a health-record system; reads every session, deletes none).
The server listens on 127.0.0.1 only unless --allow-remote is given; then TLS must be
terminated by a reverse proxy in front of it, since tokens and patient data cross the network.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from collections.abc import Mapping

from fer.cli.database_options import SESSION_DB_ENV

SERVICE_TOKEN_ENV = "FER_API_TOKEN"
EXAMPLE = """\
fer serve --port 8000
FER_API_TOKEN="$(cat /run/secrets/fer-api-token)" fer serve --database postgresql://fer@db/fer
fer serve --host 0.0.0.0 --allow-remote   # only behind a TLS reverse proxy"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from fer.config import DEFAULT_SESSION_DB

    parser.add_argument("--host", default="127.0.0.1", help="address to listen on "
                        "(default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument(
        "--database",
        default=os.environ.get(SESSION_DB_ENV) or str(DEFAULT_SESSION_DB),
        metavar="LOCATION",
        help=f"session database: a file or a postgresql:// URL (default: ${SESSION_DB_ENV}, "
        "else data/sessions.db)",
    )
    parser.add_argument("--model", default=None, help="model /v1/analyze serves (default: the "
                        "Live page's)")
    parser.add_argument("--allow-remote", action="store_true", help="allow a host other than "
                        "loopback (put a TLS reverse proxy in front)")
    parser.add_argument("--log-level", default="info",
                        choices=("critical", "error", "warning", "info", "debug"))


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (or ``localhost``)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def service_token_from(environ: Mapping[str, str]) -> str | None:
    """``$FER_API_TOKEN`` without surrounding whitespace (a secret file's line break, a CR), None
    when unset or blank. ``ValueError`` naming the variable, never its value, for a token that
    is too short or that no ``Authorization`` header can carry."""
    from fer.api.auth import check_service_token

    token = environ.get(SERVICE_TOKEN_ENV, "").strip() or None
    check_service_token(token, name=f"${SERVICE_TOKEN_ENV}")
    return token


def run(args: argparse.Namespace) -> int:
    if not is_loopback(args.host) and not args.allow_remote:
        print(
            f"error: refusing to listen on {args.host}: the API serves patient data. Listen on "
            "127.0.0.1 behind a TLS reverse proxy, or pass --allow-remote once TLS is "
            "terminated by a proxy in front of this server (docs/api.md).",
            file=sys.stderr,
        )
        return 2
    if not 0 < args.port < 65536:
        print(f"error: --port must be 1..65535, got {args.port}", file=sys.stderr)
        return 2
    import logging

    import uvicorn

    from fer.api import create_app
    from fer.models.cards import resolve_model_dir
    from fer.storage import DatabaseError

    # The API logs refused tokens and errors (by id) under "fer.api"; the edge sets where to.
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # schema checks at every start
    try:
        service_token = service_token_from(os.environ)
        if args.model is not None:
            resolve_model_dir(args.model)  # a wrong name fails now, not on the first image
        app = create_app(args.database, model_name=args.model, service_token=service_token)
    except (ValueError, OSError, DatabaseError) as error:  # ModelNotFoundError too
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not is_loopback(args.host):
        print(f"warning: listening on {args.host}; TLS must be terminated by a reverse proxy "
              "in front of this server", file=sys.stderr)
    if service_token is None:
        print(f"note: ${SERVICE_TOKEN_ENV} is not set: only account tokens are accepted",
              file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level,
                server_header=False, proxy_headers=False)
    return 0
