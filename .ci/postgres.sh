#!/usr/bin/env bash
# Start a throw-away PostgreSQL server for the class store's tests and print its address (a libpq URI).
#   .ci/postgres.sh [DIR] [PORT]     DIR: its data and socket (default a new temp dir), PORT default 55432
# PostgreSQL refuses to run as root: as root it runs as the `postgres` user (Debian's package makes it).
set -euo pipefail
DIR="${1:-$(mktemp -d /tmp/attnviz-pg.XXXXXX)}"
PORT="${2:-55432}"
BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
[ -x "$BIN/initdb" ] || { echo "PostgreSQL not installed (apt-get install postgresql)" >&2; exit 1; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
mkdir -p "$DIR"
[ "$(id -u)" = 0 ] && chown postgres "$DIR"
if [ ! -f "$DIR/data/PG_VERSION" ]; then
  as_pg "$BIN/initdb" -D "$DIR/data" -U attnviz --auth=trust -E UTF8 >"$DIR/initdb.log" 2>&1
fi
as_pg "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
  -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
as_pg "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U attnviz attnviz_test 2>/dev/null || true
echo "postgresql://attnviz@127.0.0.1:$PORT/attnviz_test"
