#!/usr/bin/env bash
# Local MongoDB-wire server without Docker: FerretDB 1.x on its SQLite backend, built from the Go module proxy.
#
#   bash infra/ferretdb.sh install|start|stop|status
#
# Env: TROUPE_HOME (default <repo>/.troupe): the built binary is cached there;
#      TROUPE_DATA_HOME (default $TROUPE_HOME): data, log and pid file go below it, so a second server (a fault
#      test's own, on another port) can share the binary; TROUPE_MONGO_PORT (default 27017),
#      TROUPE_FERRETDB_START_TIMEOUT (seconds, default 60).
set -euo pipefail

readonly VERSION=v1.24.2
# What is built: the release plus our one-line patch (below); a change here rebuilds the binary.
readonly BUILD="$VERSION+troupe.1"
readonly MODULE=github.com/FerretDB/FerretDB
readonly HOST=127.0.0.1
readonly STOP_GRACE=15

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TROUPE_HOME=${TROUPE_HOME:-$ROOT/.troupe}
mkdir -p "$TROUPE_HOME"
# The SQLite URL and the pid check need absolute paths.
TROUPE_HOME=$(cd "$TROUPE_HOME" && pwd)
DATA_HOME=${TROUPE_DATA_HOME:-$TROUPE_HOME}
mkdir -p "$DATA_HOME"
DATA_HOME=$(cd "$DATA_HOME" && pwd)
PORT=${TROUPE_MONGO_PORT:-27017}
START_TIMEOUT=${TROUPE_FERRETDB_START_TIMEOUT:-60}

CACHE=$TROUPE_HOME/cache/ferretdb
BIN=$CACHE/bin/ferretdb
MARKER=$CACHE/bin/VERSION
DATA=$DATA_HOME/data/ferretdb
LOG=$DATA_HOME/log/ferretdb.log
PIDFILE=$DATA_HOME/run/ferretdb.pid

NAME=ferretdb
# shellcheck source=infra/daemon.sh
source "$ROOT/infra/daemon.sh"

install() {
    if [[ -x $BIN && "$(cat "$MARKER" 2>/dev/null)" == "$BUILD" ]]; then
        return 0
    fi
    local src
    use_go
    say "building $VERSION from the Go module proxy (first run only, 1-3 min)"
    say "downloading $MODULE@$VERSION"
    src=$(module_source "$MODULE@$VERSION")

    # The module zip lacks build/version/version.txt (git-ignored upstream) and the binary panics
    # without it, so build from a writable copy with the file added.
    rm -rf "$CACHE/src"
    mkdir -p "$CACHE/bin"
    cp -R "$src" "$CACHE/src"
    chmod -R u+w "$CACHE/src"
    echo "$VERSION" >"$CACHE/src/build/version/version.txt"
    patch_id_lookups "$CACHE/src"

    say "fetching dependencies"
    (cd "$CACHE/src" && "$GO" mod download) || die "install: fetching Go dependencies failed"
    say "compiling (the slow part)"
    (cd "$CACHE/src" && "$GO" build -trimpath -o "$BIN.tmp" ./cmd/ferretdb) || die "install: go build failed"
    mv -f "$BIN.tmp" "$BIN"
    echo "$BUILD" >"$MARKER"
    say "installed $VERSION at $BIN"
}

# The SQLite backend's unique index on _id is on the expression _ferretdb_sjson->"_id", but updates and
# deletes select the row by _ferretdb_sjson->'$._id', which SQLite cannot match to that index: every
# update_one/replace_one/delete_one by _id scanned the whole table (43 ms at 8,000 documents, against 0.9 ms
# once patched; finds were already indexed). Same value, the index's spelling. See decision 4.
# shellcheck disable=SC2016  # the Go source's backquotes and $ are literal
patch_id_lookups() {
    local file=$1/internal/backends/sqlite/metadata/metadata.go
    sed -i 's|IDColumn = DefaultColumn + "->'"'"'\$._id'"'"'"|IDColumn = DefaultColumn + `->"_id"`|' "$file"
    grep -q 'IDColumn = DefaultColumn + `->"_id"`' "$file" \
        || die "install: could not patch the _id lookups of $VERSION in $file (has the source changed?)"
}

listen_addr_of() {
    ps -o args= -p "$1" | sed -n 's/.*--listen-addr=\([^ ]*\).*/\1/p'
}

port_open() {
    (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null
}

# OP_MSG {ping: 1, $db: "admin"}: 16-byte header (length 51, requestID 1, opCode 2013), flags, body section.
# shellcheck disable=SC2016  # "$db" is the literal BSON key, not a variable.
readonly PING_MSG='\x33\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\xdd\x07\x00\x00\x00\x00\x00\x00\x00\x1e\x00\x00\x00\x10ping\x00\x01\x00\x00\x00\x02$db\x00\x06\x00\x00\x00admin\x00\x00'
# BSON element `ok: 1.0` (type 0x01, "ok", little-endian double).
readonly OK_HEX=016f6b00000000000000f03f

# A real MongoDB `ping` over the wire protocol in plain bash, so the script needs no Python or mongosh:
# an open port alone does not prove the server answers commands.
answering() {
    local reply
    # shellcheck disable=SC2016  # the inner script expands its own arguments.
    reply=$(timeout 5 bash -c '
        exec 3<>"/dev/tcp/$0/$1"
        printf "$2" >&3
        len=$(head -c 4 <&3 | od -An -tu4 --endian=little | tr -d " ")
        head -c $((len - 4)) <&3 | od -An -v -tx1 | tr -d " \n"
    ' "$HOST" "$PORT" "$PING_MSG" 2>/dev/null) || return 1
    [[ $reply == *"$OK_HEX"* ]]
}

start() {
    local pid addr
    install
    if pid=$(running_pid); then
        addr=$(listen_addr_of "$pid")
        [[ $addr == "$HOST:$PORT" ]] \
            || die "start: our server (pid $pid) already listens on $addr, not $HOST:$PORT; run '$0 stop' first"
        if answering; then
            say "already running on $HOST:$PORT (pid $pid)"
            return 0
        fi
        say "pid $pid is starting, waiting for it"
        wait_until_answering "$pid" "$HOST:$PORT"
        say "running on $HOST:$PORT (pid $pid)"
        return 0
    fi
    rm -f "$PIDFILE"
    if port_open; then
        die "start: $HOST:$PORT is already in use by another process; stop it or set TROUPE_MONGO_PORT"
    fi

    mkdir -p "$DATA" "$(dirname "$LOG")" "$(dirname "$PIDFILE")"
    echo "=== $(date -u +%FT%TZ) start $VERSION on $HOST:$PORT ===" >>"$LOG"
    say "starting on $HOST:$PORT (data: $DATA, log: $LOG)"
    # setsid detaches it from this shell's session, so Ctrl-C in the caller's terminal does not reach it;
    # closing fd 9 keeps the server from holding our lock.
    setsid nohup "$BIN" \
        --handler=sqlite --sqlite-url="file:$DATA/" --state-dir="$DATA" \
        --listen-addr="$HOST:$PORT" --telemetry=disable --debug-addr=- \
        >>"$LOG" 2>&1 </dev/null 9>&- &
    pid=$!
    echo "$pid" >"$PIDFILE"
    wait_until_answering "$pid" "$HOST:$PORT"
    say "running on $HOST:$PORT (pid $pid)"
}

status() {
    local pid addr
    if pid=$(running_pid); then
        addr=$(listen_addr_of "$pid")
        if [[ $addr != "$HOST:$PORT" ]]; then
            echo "ferretdb: running on $addr (pid $pid), not on $HOST:$PORT"
            return 1
        fi
        if answering; then
            echo "ferretdb: running on $HOST:$PORT (pid $pid)"
            return 0
        fi
        echo "ferretdb: pid $pid alive but not answering on $HOST:$PORT (starting, or see $LOG)"
        return 1
    fi
    echo "ferretdb: not running"
    return 3
}

case ${1:-} in
    install) install; say "ready: $BIN" ;;
    start) lock; start ;;
    stop) lock; stop ;;
    status) status ;;
    *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
esac
