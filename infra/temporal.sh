#!/usr/bin/env bash
# Temporal's dev server (the Temporal CLI's `server start-dev`), built from the Go module proxy, for the
# benchmark's baseline only: it is not part of infra/stack.sh, `make bench` starts it.
#
#   bash infra/temporal.sh install|start|stop|status
#
# Env: TROUPE_HOME (default <repo>/.troupe), TROUPE_TEMPORAL_PORT (frontend gRPC, default 7233),
#      TROUPE_TEMPORAL_START_TIMEOUT (seconds, default 60).
# The server keeps its state in memory (the dev server's default): it is a benchmark baseline, not a store.
set -euo pipefail

readonly VERSION=v1.5.1
readonly PACKAGE=github.com/temporalio/cli/cmd/temporal
readonly HOST=127.0.0.1
readonly STOP_GRACE=15

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TROUPE_HOME=${TROUPE_HOME:-$ROOT/.troupe}
mkdir -p "$TROUPE_HOME"
TROUPE_HOME=$(cd "$TROUPE_HOME" && pwd)
PORT=${TROUPE_TEMPORAL_PORT:-7233}
START_TIMEOUT=${TROUPE_TEMPORAL_START_TIMEOUT:-60}

CACHE=$TROUPE_HOME/cache/temporal
BIN=$CACHE/bin/temporal
MARKER=$CACHE/bin/VERSION
LOG=$TROUPE_HOME/log/temporal.log
PIDFILE=$TROUPE_HOME/run/temporal.pid

NAME=temporal
# shellcheck source=infra/daemon.sh
source "$ROOT/infra/daemon.sh"

install() {
    if [[ -x $BIN && "$(cat "$MARKER" 2>/dev/null)" == "$VERSION" ]]; then
        return 0
    fi
    local started=$SECONDS
    use_go
    export GOBIN=$CACHE/bin.tmp
    say "building the Temporal CLI $VERSION from the Go module proxy (first run only, a few minutes)"
    rm -rf "$GOBIN"
    mkdir -p "$GOBIN"
    "$GO" install -trimpath "$PACKAGE@$VERSION" || die "install: 'go install $PACKAGE@$VERSION' failed"
    mkdir -p "$CACHE/bin"
    mv -f "$GOBIN/temporal" "$BIN"
    rm -rf "$GOBIN"
    echo "$VERSION" >"$MARKER"
    # The benchmark report quotes how long the build took.
    echo "$((SECONDS - started))" >"$CACHE/bin/BUILD_SECONDS"
    say "installed $VERSION at $BIN in $((SECONDS - started)) s"
}

port_open() {
    (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

# The gRPC port opens before the default namespace is registered: ready means the namespace answers.
answering() {
    port_open "$PORT" \
        && timeout 10 "$BIN" operator namespace describe --namespace default --address "$HOST:$PORT" >/dev/null 2>&1
}

start() {
    local pid
    install
    if pid=$(running_pid); then
        wait_until_answering "$pid" "$HOST:$PORT"
        say "already running on $HOST:$PORT (pid $pid)"
        return 0
    fi
    rm -f "$PIDFILE"
    if port_open "$PORT"; then
        die "start: $HOST:$PORT is already in use by another process; stop it or set TROUPE_TEMPORAL_PORT"
    fi
    mkdir -p "$(dirname "$LOG")" "$(dirname "$PIDFILE")"
    [[ ! -f $LOG ]] || mv -f "$LOG" "$LOG.1"
    say "starting on $HOST:$PORT (state in memory, log: $LOG)"
    # --headless: no web UI.
    setsid nohup "$BIN" server start-dev --ip "$HOST" --port "$PORT" --headless --log-level warn \
        >>"$LOG" 2>&1 </dev/null 9>&- &
    pid=$!
    echo "$pid" >"$PIDFILE"
    wait_until_answering "$pid" "$HOST:$PORT"
    say "running on $HOST:$PORT (pid $pid)"
}

status() {
    local pid
    if pid=$(running_pid); then
        if port_open "$PORT"; then
            echo "temporal: running on $HOST:$PORT (pid $pid)"
            return 0
        fi
        echo "temporal: pid $pid alive but not answering on $HOST:$PORT (starting, or see $LOG)"
        return 1
    fi
    echo "temporal: not running"
    return 3
}

case ${1:-} in
    install) install; say "ready: $BIN" ;;
    start) lock; start ;;
    stop) lock; stop ;;
    status) status ;;
    *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
esac
