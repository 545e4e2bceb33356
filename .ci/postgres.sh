#!/usr/bin/env bash
# A throwaway PostgreSQL 15 for the tests and benchmarks: its data folder
# under target/pg, a private port and socket folder, fsync on. Usable by
# hand too:
#
#   bash .ci/postgres.sh start     # prints the export line for UPLINE_PG_URL
#   bash .ci/postgres.sh stop      # pg_ctl stop -m fast
#   bash .ci/postgres.sh restart-immediate   # crash it and start it again
#
# Installs Debian's postgresql-15 with apt-get when its binaries are
# missing. Runs the server as the `postgres` user (initdb refuses root).
# Environment: UPLINE_PG_PORT (default 54329), UPLINE_PG_DIR (default
# target/pg).
set -euo pipefail
cd "$(dirname "$0")/.."

port="${UPLINE_PG_PORT:-54329}"
base="$(pwd)/${UPLINE_PG_DIR:-target/pg}"
bin=/usr/lib/postgresql/15/bin
data="$base/data"
sock="$base/sock"
log="$base/server.log"
url="postgresql://postgres@127.0.0.1:$port/postgres"

as_postgres() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

install() {
    if [ -x "$bin/initdb" ]; then
        return
    fi
    echo "postgres.sh: installing postgresql-15 with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends postgresql-15 >&2
}

start() {
    install
    mkdir -p "$base"
    if [ "$(id -u)" = 0 ]; then
        chown postgres "$base"
        # The server user must reach the folder through every parent.
        dir="$base"
        while [ "$dir" != / ]; do
            chmod o+x "$dir" 2>/dev/null || true
            dir="$(dirname "$dir")"
        done
    fi
    if [ ! -f "$data/PG_VERSION" ]; then
        as_postgres "$bin/initdb" -D "$data" -U postgres --auth=trust \
            --no-instructions -E UTF8 --locale=C >"$base/initdb.log" 2>&1 \
            || { cat "$base/initdb.log" >&2; exit 1; }
    fi
    as_postgres mkdir -p "$sock"
    if as_postgres "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        echo "export UPLINE_PG_URL=$url"
        return
    fi
    as_postgres "$bin/pg_ctl" -D "$data" -l "$log" -w -t 60 start -o \
        "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$sock \
         -c fsync=on -c synchronous_commit=on -c max_connections=200 \
         -c shared_buffers=128MB" >/dev/null \
        || { cat "$log" >&2; exit 1; }
    echo "export UPLINE_PG_URL=$url"
}

stop() {
    if [ -f "$data/PG_VERSION" ]; then
        as_postgres "$bin/pg_ctl" -D "$data" -w stop -m "${1:-fast}" >/dev/null 2>&1 || true
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop fast ;;
    restart-immediate)
        stop immediate
        start >/dev/null
        ;;
    url) echo "$url" ;;
    *)
        echo "usage: $0 start|stop|restart-immediate|url" >&2
        exit 2
        ;;
esac
