"""How ``scripts/run_app.sh`` starts Streamlit: first a check that the app listens only on this
machine unless the connection to other machines is encrypted, then ``streamlit run`` with the
page list left to ``st.navigation`` from the very first request.

Serving beyond loopback is allowed when Streamlit itself speaks TLS (``server.sslCertFile`` and
``server.sslKeyFile``) or when ``FER_BEHIND_TLS_PROXY=1`` says a TLS reverse proxy on another
machine terminates the connections (docs/deployment.md). A proxy on this machine needs neither:
the app keeps listening on 127.0.0.1 and the proxy forwards to it. The address is read the way
Streamlit reads it: command-line flag, else ``STREAMLIT_SERVER_ADDRESS``, else
``.streamlit/config.toml`` (project, then user), else unset, which means every interface.

Why the launcher: Streamlit decides once per process, when the first browser session opens,
whether a ``pages/`` folder beside the entry point means its older multipage mode. In that mode
the first requests run a typed URL's page script directly (``/Live`` runs ``pages/1_Live.py``)
without ``app.py``, until some session has run ``app.py`` and its ``st.navigation``. The pages'
own role checks keep data out of reach even then, but the login page would not show. The
launcher settles that decision before the server starts, so ``app.py`` (login first) runs for
every request.

Run: ``python -m ui.serving SCRIPT [streamlit run flags…]``: exit status 2 with the reason on
stderr when the start is refused; otherwise it becomes ``streamlit run SCRIPT flags…``.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from collections.abc import Mapping, Sequence

PROXY_ENV = "FER_BEHIND_TLS_PROXY"
CHECKED_OPTIONS = ("server.address", "server.sslCertFile", "server.sslKeyFile")


def flag_values(argv: Sequence[str]) -> dict[str, str]:
    """The checked options given as ``--name value`` or ``--name=value`` in ``argv``."""
    values: dict[str, str] = {}
    index = 0
    while index < len(argv):
        argument = argv[index]
        for name in CHECKED_OPTIONS:
            flag = f"--{name}"
            if argument == flag and index + 1 < len(argv):
                values[name] = argv[index + 1]
                index += 1
            elif argument.startswith(flag + "="):
                values[name] = argument[len(flag) + 1 :]
        index += 1
    return values


def effective_options(
    argv: Sequence[str], environ: Mapping[str, str] | None = None
) -> dict[str, str | None]:
    """The checked options as ``streamlit run`` with ``argv`` would see them."""
    from streamlit import config
    from streamlit.web import bootstrap

    environ = os.environ if environ is None else environ
    given = flag_values(argv)
    for name in CHECKED_OPTIONS:
        variable = "STREAMLIT_" + name.upper().replace(".", "_")
        if name not in given and environ.get(variable):
            given[name] = environ[variable]
    bootstrap.load_config_options({name.replace(".", "_"): value for name, value in given.items()})
    return {name: config.get_option(name) for name in CHECKED_OPTIONS}


def is_loopback(address: str | None) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``; False for unset (every interface)."""
    if not address:
        return False
    if address.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip().strip("[]")).is_loopback
    except ValueError:  # a host name other than localhost: it may resolve to anything
        return False


def exposure_problem(
    options: Mapping[str, str | None], environ: Mapping[str, str] | None = None
) -> str | None:
    """Why starting with ``options`` is refused, or None when it is allowed."""
    environ = os.environ if environ is None else environ
    address = options.get("server.address")
    if is_loopback(address):
        return None
    if options.get("server.sslCertFile") and options.get("server.sslKeyFile"):
        return None
    if environ.get(PROXY_ENV, "").strip() == "1":
        return None
    where = f"server.address={address!r}" if address else "server.address unset (all interfaces)"
    return (
        f"Refusing to start: {where} would serve patient data to other machines without "
        "encryption. Keep the default 127.0.0.1 (also behind a TLS reverse proxy on this "
        "machine, which needs no setting), or configure TLS: either --server.sslCertFile and "
        f"--server.sslKeyFile, or, only for a TLS reverse proxy on another machine, {PROXY_ENV}=1 "
        "and a firewall that lets only the proxy reach this port (see docs/deployment.md)."
    )


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    problem = exposure_problem(effective_options(argv))
    if problem:
        print(problem, file=sys.stderr)
        return 2
    if not argv or argv[0].startswith("-"):
        print("usage: python -m ui.serving SCRIPT [streamlit run flags…]", file=sys.stderr)
        return 2
    from streamlit.web import cli

    from ui.navigation import leave_pages_folder_mode

    leave_pages_folder_mode()
    sys.argv = ["streamlit", "run", *argv]
    return cli.main()


if __name__ == "__main__":
    sys.exit(main())
