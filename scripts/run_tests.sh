#!/usr/bin/env bash
# Set up .venv if needed, install Chromium for the browser test (Debian, as root), then run the
# linters, the import contracts, the type checker and every test (the session store's on SQLite
# and on a throw-away PostgreSQL server).
# With FER_DATA_DIR set, data tests (checksums, shipped-model accuracy, video, browser) run too.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$REPO_ROOT/scripts/setup_env.sh"
cd "$REPO_ROOT"
# Browser tests drive Debian's chromium; the TURN test relays its video through Debian's coturn;
# the two-instance test puts Debian's nginx in front of the app.
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v turnserver >/dev/null 2>&1 || missing+=(coturn)
[ -x /usr/sbin/nginx ] || missing+=(nginx)
if [ "${#missing[@]}" -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "[tests] installing Debian ${missing[*]} for the browser tests"
  (apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null) \
    || echo "[tests] could not install ${missing[*]}; the tests needing them will be skipped"
fi
echo "[tests] ruff"
.venv/bin/python -m ruff check fer tests app.py pages ui scripts experiments
echo "[tests] import contracts (lint-imports)"
.venv/bin/lint-imports --no-cache
echo "[tests] type check of fer/ (mypy)"
.venv/bin/python -m mypy
# pyproject's default selection skips slow and browser tests (a fast loop for development);
# -m "" selects every test, as CI must. The store suite runs on SQLite and on PostgreSQL: without
# FER_TEST_POSTGRES_URL, postgres_for_tests.sh installs Debian's PostgreSQL when missing (as
# root) and runs pytest against a throw-away server that it removes afterwards.
exec bash scripts/postgres_for_tests.sh \
  .venv/bin/python -m pytest -q -p no:cacheprovider -rs -m "" "$@"
