#!/usr/bin/env bash
# Run a command with FER_TEST_POSTGRES_URL pointing at a throw-away PostgreSQL cluster.
#
#   bash scripts/postgres_for_tests.sh .venv/bin/python -m pytest tests/sessions
#
# With FER_TEST_POSTGRES_URL already set, the command runs against that server instead. Otherwise
# PostgreSQL comes from Debian's packages (installed when missing, as root), a cluster is made in
# a temporary folder on a free port (as the `postgres` user when root: the server refuses to run
# as root), and it is stopped and removed when the command ends. Tuned for tests, not for data:
# fsync is off. Without PostgreSQL the command still runs and its PostgreSQL tests are skipped;
# under CI that is an error instead.
set -euo pipefail

if [ -n "${FER_TEST_POSTGRES_URL:-}" ]; then
  exec "$@"
fi

log() { echo "[postgres] $*" >&2; }
newest_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
unavailable() {  # unavailable REASON COMMAND...
  local reason="$1"
  shift
  if [ -n "${CI:-}" ]; then
    log "$reason; CI needs PostgreSQL for the store suite"
    exit 1
  fi
  log "$reason; PostgreSQL tests will be skipped"
  exec "$@"
}

BIN="$(newest_bin)"
if [ -z "$BIN" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  log "installing Debian's postgresql"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql \
    >/dev/null) || log "apt-get install postgresql failed"
  BIN="$(newest_bin)"
fi
if [ -z "$BIN" ] || [ ! -x "$BIN/initdb" ]; then
  unavailable "no PostgreSQL server programs under /usr/lib/postgresql" "$@"
fi

PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
DIR="$(mktemp -d "${TMPDIR:-/tmp}/fer-postgres.XXXXXX")"
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --home-dir "$DIR" --shell /bin/sh postgres
  chown postgres: "$DIR"
  as_server() { su postgres -s /bin/sh -c "$1"; }
else
  as_server() { sh -c "$1"; }
fi

cleanup() {
  as_server "'$BIN/pg_ctl' -D '$DIR/data' -m fast -w stop" >/dev/null 2>&1 || true
  rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

as_server "'$BIN/initdb' -D '$DIR/data' -A trust -U fer -E UTF8 --no-sync" >"$DIR/initdb.log" 2>&1 \
  || { cat "$DIR/initdb.log" >&2; unavailable "initdb failed" "$@"; }
OPTIONS="-k $DIR -p $PORT -c listen_addresses=127.0.0.1 -c max_connections=200"
OPTIONS="$OPTIONS -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
as_server "'$BIN/pg_ctl' -D '$DIR/data' -o '$OPTIONS' -l '$DIR/server.log' -w start" >/dev/null \
  || { cat "$DIR/server.log" >&2; unavailable "the PostgreSQL server did not start" "$@"; }
log "throw-away server $("$BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT"

export FER_TEST_POSTGRES_URL="postgresql://fer@127.0.0.1:$PORT/postgres"
set +e
"$@"
status=$?
set -e
exit "$status"
