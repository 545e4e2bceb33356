#!/usr/bin/env bash
# A throwaway PostgreSQL 15 for the tests and benchmarks: its data folder
# under target/pg, a private port and socket folder, fsync on. Usable by
# hand too:
#
#   bash .ci/postgres.sh start     # prints the export line for UPLINE_PG_URL
#   bash .ci/postgres.sh stop      # pg_ctl stop -m fast
#   bash .ci/postgres.sh restart-immediate   # crash it and start it again
#   bash .ci/postgres.sh stop-immediate      # crash it (pg_ctl stop -m immediate)
#   bash .ci/postgres.sh standby    # a streaming standby of the server on
#                                   # UPLINE_PG_PRIMARY_PORT (pg_basebackup -R)
#   bash .ci/postgres.sh promote    # pg_ctl promote: the standby takes writes
#   bash .ci/postgres.sh destroy    # crash it and delete its folder
#   bash .ci/postgres.sh url
#
# Installs Debian's postgresql-15 with apt-get when its binaries are
# missing. Runs the server as the `postgres` user (initdb refuses root).
# Environment: UPLINE_PG_PORT (default 54329), UPLINE_PG_DIR (default
# target/pg), UPLINE_PG_OPTS (more server options, `-c name=value …`: the
# failover test sets `synchronous_standby_names` on the primary and a
# `cluster_name` on the standby), UPLINE_PG_PRIMARY_PORT (for `standby`).
# The crash and failover tests run their own servers through this script,
# each in its own folder and on its own port.
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
         -c shared_buffers=128MB ${UPLINE_PG_OPTS:-}" >/dev/null \
        || { cat "$log" >&2; exit 1; }
    echo "export UPLINE_PG_URL=$url"
}

standby() {
    install
    primary="${UPLINE_PG_PRIMARY_PORT:?standby needs UPLINE_PG_PRIMARY_PORT}"
    mkdir -p "$base"
    if [ "$(id -u)" = 0 ]; then
        chown postgres "$base"
    fi
    # -R writes standby.signal and primary_conninfo; -X stream copies the
    # WAL written meanwhile. A second try after a failed one starts over.
    tries=0
    until [ -f "$data/PG_VERSION" ]; do
        if as_postgres "$bin/pg_basebackup" -h 127.0.0.1 -p "$primary" -U postgres \
            -D "$data" -R -X stream -c fast >"$base/basebackup.log" 2>&1; then
            break
        fi
        cat "$base/basebackup.log" >&2
        rm -rf "$data"
        tries=$((tries + 1))
        [ "$tries" -lt 3 ] || exit 1
        sleep 1
    done
    start
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
    stop-immediate) stop immediate ;;
    standby) standby ;;
    promote)
        as_postgres "$bin/pg_ctl" -D "$data" -w -t 60 promote >/dev/null \
            || { tail -n 20 "$log" >&2; exit 1; }
        ;;
    destroy)
        stop immediate
        rm -rf "$base"
        ;;
    url) echo "$url" ;;
    *)
        echo "usage: $0 start|stop|stop-immediate|restart-immediate|standby|promote|destroy|url" >&2
        exit 2
        ;;
esac
