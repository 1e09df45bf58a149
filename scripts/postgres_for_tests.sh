#!/usr/bin/env bash
# Run a command with FER_TEST_POSTGRES_URL pointing at a throw-away PostgreSQL cluster.
#
#   bash scripts/postgres_for_tests.sh .venv/bin/python -m pytest tests/sessions
#
# With FER_TEST_POSTGRES_URL already set, the command runs against that server instead. Otherwise
# PostgreSQL comes from Debian's packages (installed when missing, as root), a cluster is made in
# a private temporary folder (0700; as the `postgres` user when root: the server refuses to run
# as root), and it is stopped and removed when the command ends. Tuned for tests, not for data:
# fsync is off. Without PostgreSQL the command still runs and its PostgreSQL tests are skipped;
# under CI that is an error instead.
#
# The cluster trusts every connection (superuser `fer`, no password), so it listens on no TCP
# port at all, only on a Unix socket inside that private folder: nobody but this account (and
# root) can reach it. Reachable by others, a trusting superuser would let any local account run
# programs as the server's account (COPY ... TO PROGRAM). Clients get the folder as `host=`.
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

# No TCP listener, so no port clash: the port only names the socket file in the private folder.
PORT=5432
DIR="$(mktemp -d "${TMPDIR:-/tmp}/fer-postgres.XXXXXX")"
chmod 700 "$DIR"
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

as_server "'$BIN/initdb' -D '$DIR/data' --auth-local=trust --auth-host=reject -U fer -E UTF8 \
  --no-sync" >"$DIR/initdb.log" 2>&1 \
  || { cat "$DIR/initdb.log" >&2; unavailable "initdb failed" "$@"; }
# Appended last, so these win over initdb's own lines.
as_server "cat >> '$DIR/data/postgresql.conf'" <<EOF
listen_addresses = ''
unix_socket_directories = '$DIR'
unix_socket_permissions = 0700
port = $PORT
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
as_server "'$BIN/pg_ctl' -D '$DIR/data' -l '$DIR/server.log' -w start" >/dev/null \
  || { cat "$DIR/server.log" >&2; unavailable "the PostgreSQL server did not start" "$@"; }
log "throw-away server $("$BIN/postgres" --version | awk '{print $3}'), Unix socket only, in $DIR"

HOST="$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$DIR")"
export FER_TEST_POSTGRES_URL="postgresql://fer@/postgres?host=$HOST&port=$PORT"
set +e
"$@"
status=$?
set -e
exit "$status"
