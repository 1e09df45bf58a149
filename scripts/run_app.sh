#!/usr/bin/env bash
# Set up .venv if needed, then start the Streamlit workbench on http://localhost:8501.
# FER_DATA_DIR (optional) points at the data folder; see README.md, section "Data".
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$REPO_ROOT/scripts/setup_env.sh"
cd "$REPO_ROOT"
exec .venv/bin/python -m streamlit run app.py --server.headless true "$@"
