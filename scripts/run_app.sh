#!/usr/bin/env bash
# Set up .venv if needed, then start the Streamlit workbench on http://127.0.0.1:8501 (login
# required). .streamlit/config.toml holds the safe defaults: this machine only, no usage
# statistics, no error details in the browser, XSRF protection, an upload size limit.
#
# Serving other machines needs TLS: a TLS reverse proxy on this machine in front of the default
# 127.0.0.1 (no setting needed), --server.sslCertFile and --server.sslKeyFile, or, only for a
# TLS proxy on another machine, FER_BEHIND_TLS_PROXY=1 (docs/deployment.md). Any other
# non-loopback --server.address (or STREAMLIT_SERVER_ADDRESS, or config file value) is refused.
# ui/serving.py makes that check and then runs `streamlit run app.py` with the page list left to
# app.py's st.navigation from the first request on (see its docstring).
# FER_DATA_DIR (optional) points at the data folder; see README.md, section "Data".
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$REPO_ROOT/scripts/setup_env.sh"
cd "$REPO_ROOT"
exec .venv/bin/python -m ui.serving app.py --server.headless true "$@"
