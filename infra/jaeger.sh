#!/usr/bin/env bash
# Local trace store without Docker: Jaeger v2 all-in-one (Badger storage on local disk), built from the Go
# module proxy. The services export OTLP/HTTP to it; its HTTP API answers trace queries
# (/api/v3/traces/<id> in OTLP JSON, /api/traces/<id> in Jaeger's JSON). See docs/observability.md for why
# Jaeger rather than Tempo here.
#
#   bash infra/jaeger.sh install|start|stop|status
#
# Env: TROUPE_HOME (default <repo>/.troupe), TROUPE_OTLP_PORT (OTLP/HTTP receiver, default 4318),
#      TROUPE_JAEGER_PORT (query API and UI, default 16686), TROUPE_JAEGER_GRPC_PORT (query gRPC, 16685),
#      TROUPE_JAEGER_HEALTH_PORT (health check, 13133), TROUPE_JAEGER_START_TIMEOUT (seconds, default 90).
set -euo pipefail

# Jaeger v2.13.0: the module is tagged v1.76.0 (the v2 binary ships from the v1 module).
readonly VERSION=v1.76.0
readonly MODULE=github.com/jaegertracing/jaeger
readonly HOST=127.0.0.1
readonly STOP_GRACE=20

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TROUPE_HOME=${TROUPE_HOME:-$ROOT/.troupe}
mkdir -p "$TROUPE_HOME"
# The pid check matches the binary's absolute path.
TROUPE_HOME=$(cd "$TROUPE_HOME" && pwd)
OTLP_PORT=${TROUPE_OTLP_PORT:-4318}
PORT=${TROUPE_JAEGER_PORT:-16686}
GRPC_PORT=${TROUPE_JAEGER_GRPC_PORT:-16685}
HEALTH_PORT=${TROUPE_JAEGER_HEALTH_PORT:-13133}
START_TIMEOUT=${TROUPE_JAEGER_START_TIMEOUT:-90}

CACHE=$TROUPE_HOME/cache/jaeger
BIN=$CACHE/bin/jaeger
MARKER=$CACHE/bin/VERSION
DATA=$TROUPE_HOME/data/jaeger
CONFIG=$DATA/jaeger.yaml
LOG=$TROUPE_HOME/log/jaeger.log
PIDFILE=$TROUPE_HOME/run/jaeger.pid

NAME=jaeger
# shellcheck source=infra/daemon.sh
source "$ROOT/infra/daemon.sh"

install() {
    if [[ -x $BIN && "$(cat "$MARKER" 2>/dev/null)" == "$VERSION" ]]; then
        return 0
    fi
    local src started=$SECONDS
    use_go
    say "building $VERSION from the Go module proxy (first run only, 10-25 min)"
    say "downloading $MODULE@$VERSION"
    src=$(module_source "$MODULE@$VERSION")

    # `go install module@version` refuses modules with replace directives, which Jaeger has; building
    # inside a copy of the module honours them.
    rm -rf "$CACHE/src"
    mkdir -p "$CACHE/bin"
    cp -R "$src" "$CACHE/src"
    chmod -R u+w "$CACHE/src"

    # Only the modules the binary imports (~1.3 GB), not the whole module graph `go mod download` would fetch
    # (~2.9 GB). Its hundreds of "go: downloading" lines are shown only if it fails.
    say "fetching dependencies"
    (cd "$CACHE/src" && "$GO" list -deps ./cmd/jaeger >/dev/null 2>"$CACHE/fetch.log") \
        || { tail -n 30 "$CACHE/fetch.log" >&2; die "install: fetching Go dependencies failed"; }
    say "compiling (the slow part)"
    (cd "$CACHE/src" && "$GO" build -trimpath -o "$BIN.tmp" ./cmd/jaeger) || die "install: go build failed"
    mv -f "$BIN.tmp" "$BIN"
    echo "$VERSION" >"$MARKER"
    rm -rf "$CACHE/src" "$CACHE/fetch.log"
    say "installed $VERSION at $BIN in $((SECONDS - started))s"
}

# All-in-one Jaeger v2 (an OpenTelemetry Collector build): OTLP/HTTP in, Badger storage on local disk, the
# query API out. Metrics and logs sent to the same endpoint are accepted and dropped, so services that
# export all three signals to it see no errors. Nothing listens beyond loopback, nothing calls out.
write_config() {
    mkdir -p "$DATA"
    cat >"$CONFIG" <<EOF
# Written by infra/jaeger.sh on every start; edit the script, not this file.
service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
    metrics:
      receivers: [otlp]
      exporters: [nop]
    logs:
      receivers: [otlp]
      exporters: [nop]
  telemetry:
    resource:
      service.name: jaeger
    metrics:
      level: none
    logs:
      level: warn
extensions:
  healthcheckv2:
    use_v2: true
    http:
      endpoint: $HOST:$HEALTH_PORT
  jaeger_query:
    storage:
      traces: local_store
    http:
      endpoint: $HOST:$PORT
    grpc:
      endpoint: $HOST:$GRPC_PORT
  jaeger_storage:
    backends:
      local_store:
        badger:
          directories:
            keys: $DATA/keys
            values: $DATA/values
          ephemeral: false
          ttl:
            spans: 72h
receivers:
  otlp:
    protocols:
      http:
        endpoint: $HOST:$OTLP_PORT
processors:
  batch:
    timeout: 200ms
exporters:
  jaeger_storage_exporter:
    trace_storage: local_store
  nop:
EOF
}

port_open() {
    (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

# The health check answers 200 once every component (the OTLP receiver, storage, query) is up; the query
# API must answer too, since that is what readers use.
answering() {
    local code
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://$HOST:$HEALTH_PORT/status" 2>/dev/null) \
        || return 1
    [[ $code == 200 ]] || return 1
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://$HOST:$PORT/api/services" 2>/dev/null) \
        || return 1
    [[ $code == 200 ]]
}

start() {
    local pid port
    install
    if pid=$(running_pid); then
        if answering; then
            say "already running: OTLP http://$HOST:$OTLP_PORT, API http://$HOST:$PORT (pid $pid)"
            return 0
        fi
        say "pid $pid is starting, waiting for it"
        wait_until_answering "$pid" "http://$HOST:$PORT"
        say "running: OTLP http://$HOST:$OTLP_PORT, API http://$HOST:$PORT (pid $pid)"
        return 0
    fi
    rm -f "$PIDFILE"
    for port in "$PORT" "$OTLP_PORT" "$GRPC_PORT" "$HEALTH_PORT"; do
        if port_open "$port"; then
            die "start: $HOST:$port is already in use by another process; stop it or set the TROUPE_OTLP_PORT/TROUPE_JAEGER_*_PORT variables"
        fi
    done

    write_config
    mkdir -p "$(dirname "$LOG")" "$(dirname "$PIDFILE")"
    echo "=== $(date -u +%FT%TZ) start $VERSION: OTLP $HOST:$OTLP_PORT, API $HOST:$PORT ===" >>"$LOG"
    say "starting: OTLP http://$HOST:$OTLP_PORT, API http://$HOST:$PORT (data: $DATA, log: $LOG)"
    # setsid detaches it from this shell's session, so Ctrl-C in the caller's terminal does not reach it;
    # closing fd 9 keeps the server from holding our lock.
    setsid nohup "$BIN" --config "$CONFIG" >>"$LOG" 2>&1 </dev/null 9>&- &
    pid=$!
    echo "$pid" >"$PIDFILE"
    wait_until_answering "$pid" "http://$HOST:$PORT"
    say "running: OTLP http://$HOST:$OTLP_PORT, API http://$HOST:$PORT (pid $pid)"
}

status() {
    local pid
    if pid=$(running_pid); then
        if answering; then
            echo "jaeger: running: OTLP http://$HOST:$OTLP_PORT, API http://$HOST:$PORT (pid $pid)"
            return 0
        fi
        echo "jaeger: pid $pid alive but not ready on http://$HOST:$PORT (starting, or see $LOG)"
        return 1
    fi
    echo "jaeger: not running"
    return 3
}

case ${1:-} in
    install) install; say "ready: $BIN" ;;
    start) lock; start ;;
    stop) lock; stop ;;
    status) status ;;
    *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
esac
