#!/usr/bin/env bash
# A PostgreSQL server of our own (Debian's packages, a data dir under .servers/postgres) for tests, CI and local
# trials. It never touches the system cluster: own data dir, own port, own socket folder.
#
#   bash scripts/postgres.sh start    start it (idempotent); the LAST line printed is the URL,
#                                     postgresql://USER:PASSWORD@127.0.0.1:PORT/pulse
#   bash scripts/postgres.sh stop     stop it (exit 0 also when it was not running)
#   bash scripts/postgres.sh status   print the URL and exit 0 when running, else exit 3 (LSB convention)
#
# As root, the server runs as the `postgres` user (apt-get installs `postgresql` when it is missing); as any other
# user, it runs as that user. Environment:
#   PULSE_POSTGRES_PORT       port on 127.0.0.1 (default 15432)
#   PULSE_POSTGRES_USER       role the URL logs in as (default pulse), owner of database `pulse`
#   PULSE_POSTGRES_PASSWORD   its password (default pulse: a local test server, reachable from 127.0.0.1 only)
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${PULSE_POSTGRES_PORT:-15432}
ROLE=${PULSE_POSTGRES_USER:-pulse}
PASSWORD=${PULSE_POSTGRES_PASSWORD:-pulse}
DATABASE=pulse
BASE=$(pwd)/.servers/postgres
DATA=$BASE/data
SOCKETS=$BASE/run
LOG=$BASE/server.log
URL="postgresql://$ROLE:$PASSWORD@127.0.0.1:$PORT/$DATABASE"

say() { printf 'postgres.sh: %s\n' "$*"; }
SHOW_LOG=0  # set once pg_ctl ran: only then does the server log say why something failed
die() {
  printf 'postgres.sh: %s\n' "$*" >&2
  if [ "$SHOW_LOG" = 1 ] && [ -s "$LOG" ]; then
    printf -- '--- last lines of %s ---\n' "$LOG" >&2
    tail -n 30 "$LOG" >&2
  fi
  exit 1
}

# The newest installed server's bin folder (Debian keeps them in /usr/lib/postgresql/<major>/bin, off PATH).
find_bindir() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$dir" ] && [ -x "$dir/pg_ctl" ] && echo "$dir"
}

BINDIR=$(find_bindir || true)
if [ "$(id -u)" = 0 ]; then
  as_server() { runuser -u postgres -- "$@"; }
  own() { chown postgres: "$@"; }
else
  as_server() { "$@"; }
  own() { :; }
fi

install_server() {
  [ -n "$BINDIR" ] && return 0
  [ "$(id -u)" = 0 ] || die "PostgreSQL is not installed; as root run: apt-get update && apt-get install -y postgresql"
  command -v apt-get >/dev/null 2>&1 || die "PostgreSQL is not installed and apt-get is not available; install PostgreSQL 13+"
  say "installing Debian's postgresql package (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq > "$BASE/apt.log" 2>&1 && apt-get install -y -qq --no-install-recommends postgresql >> "$BASE/apt.log" 2>&1 \
    || { tail -n 20 "$BASE/apt.log" >&2; die "apt-get install postgresql failed (log: $BASE/apt.log)"; }
  BINDIR=$(find_bindir) || die "apt-get installed postgresql but no /usr/lib/postgresql/*/bin/pg_ctl was found"
}

is_running() { [ -n "$BINDIR" ] && [ -f "$DATA/PG_VERSION" ] && as_server "$BINDIR/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

psql_admin() { as_server "$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCKETS" -p "$PORT" -U postgres -d postgres "$@"; }

init_cluster() {
  [ -f "$DATA/PG_VERSION" ] && return 0
  say "initdb $DATA"
  mkdir -p "$DATA"
  own "$BASE" "$DATA"
  chmod 700 "$DATA"
  # Superuser over the socket only (peer); every TCP login needs a password.
  as_server "$BINDIR/initdb" -D "$DATA" -U postgres --auth-local=peer --auth-host=scram-sha-256 -E UTF8 \
    --locale=C.UTF-8 > "$BASE/initdb.log" 2>&1 || { cat "$BASE/initdb.log" >&2; die "initdb failed"; }
  echo "include_if_exists = 'pulse.conf'" | as_server tee -a "$DATA/postgresql.conf" >/dev/null
}

# Idempotent set-up of the role (with the current password) and the database; both survive restarts.
ensure_role_and_database() {
  psql_admin -v role="$ROLE" -v password="$PASSWORD" <<'SQL' || die "could not create the role"
SELECT format('CREATE ROLE %I LOGIN', :'role') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role')\gexec
SELECT format('ALTER ROLE %I WITH LOGIN PASSWORD %L', :'role', :'password')\gexec
SQL
  psql_admin -v role="$ROLE" -v db="$DATABASE" <<'SQL' || die "could not create the database"
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'role') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db')\gexec
SQL
}

# The running server's port is the one in its pulse.conf, which may differ from PULSE_POSTGRES_PORT now.
use_running_port() {
  local port
  port=$(sed -n "s/^port = \([0-9]*\)$/\1/p" "$DATA/pulse.conf")
  [ "$port" = "$PORT" ] || say "running on port $port; PULSE_POSTGRES_PORT=$PORT applies after a stop" >&2
  PORT=$port
  URL="postgresql://$ROLE:$PASSWORD@127.0.0.1:$PORT/$DATABASE"
}

start() {
  mkdir -p "$BASE"
  [ -f .servers/.gitignore ] || echo '*' > .servers/.gitignore
  if is_running; then
    use_running_port
    ensure_role_and_database
    say "already running, data in $DATA"
    echo "$URL"
    return 0
  fi
  port_open "$PORT" && die "127.0.0.1:$PORT is taken by another process; choose another with PULSE_POSTGRES_PORT=..."
  install_server
  init_cluster
  mkdir -p "$SOCKETS"
  own "$SOCKETS"
  # Rewritten on every start so that a changed port takes effect; the data dir stays.
  as_server tee "$DATA/pulse.conf" >/dev/null <<EOF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$SOCKETS'
EOF
  local t0=$SECONDS
  SHOW_LOG=1
  as_server "$BINDIR/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start > /dev/null || die "pg_ctl start failed"
  ensure_role_and_database
  say "started in $((SECONDS - t0)) s, data in $DATA, log $LOG"
  echo "$URL"
}

stop() {
  if ! is_running; then
    say "not running"
    return 0
  fi
  # fast: roll back open transactions and stop at once (smart would wait for clients such as a `pulse serve`).
  as_server "$BINDIR/pg_ctl" -D "$DATA" -m fast -w -t 60 stop > /dev/null || die "pg_ctl stop failed"
  say "stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status)
    if is_running; then use_running_port; say "running, data in $DATA"; echo "$URL"; else say "not running"; exit 3; fi ;;
  *) echo "usage: scripts/postgres.sh start|stop|status" >&2; exit 2 ;;
esac
