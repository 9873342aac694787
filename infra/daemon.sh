# What the scripts of the servers built from the Go module proxy (ferretdb.sh, jaeger.sh, temporal.sh) share:
# messages, the log's tail, the Go toolchain, the pid file and its lock, waiting for the server to answer, and
# stopping.
#
# Sourced, not run. The sourcing script sets first:
#   TROUPE_HOME where builds and downloads are cached
#   NAME        the server's name in messages ("ferretdb")
#   BIN         the binary it runs: a pid counts as the server's only if its command line starts with it
#   LOG         the server's log
#   PIDFILE     where its pid is kept
#   STOP_GRACE  seconds between SIGTERM and SIGKILL
#   START_TIMEOUT  seconds a start may take to answer
# and defines `answering`: whether the server answers as it should once started.

say() { echo "==> $NAME: $*"; }
die() { echo "$NAME: error: $*" >&2; exit 1; }

show_log() {
    [[ -f $LOG ]] || return 0
    echo "--- last 30 lines of $LOG ---" >&2
    tail -n 30 "$LOG" >&2
}

# Sets GO to the Go toolchain, and keeps every Go download and build artefact inside TROUPE_HOME
# (-modcacherw lets `rm -rf .troupe` work).
use_go() {
    if command -v go >/dev/null; then
        GO=$(command -v go)
    elif [[ -x /usr/local/go/bin/go ]]; then
        GO=/usr/local/go/bin/go
    else
        die "install: Go toolchain not found (need 'go' on PATH or /usr/local/go/bin/go)"
    fi
    export GOPATH=$TROUPE_HOME/cache/go
    export GOMODCACHE=$GOPATH/mod GOCACHE=$GOPATH/build GOFLAGS=-modcacherw CGO_ENABLED=0
}

# Downloads module@version $1 from the Go module proxy and prints where its source is.
module_source() {
    local json src
    json=$("$GO" mod download -json "$1") || die "install: 'go mod download $1' failed: $json"
    src=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' <<<"$json")
    [[ -d $src ]] || die "install: go mod download returned no source directory"
    echo "$src"
}

# Prints the pid of our server, if the pid file names a live process running our binary (a stale file may
# name a pid the kernel has since reused for something else).
running_pid() {
    local pid args
    [[ -f $PIDFILE ]] || return 1
    pid=$(<"$PIDFILE")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    args=$(ps -o args= -p "$pid" 2>/dev/null) || return 1
    [[ $args == "$BIN "* ]] || return 1
    echo "$pid"
}

# Serialises start and stop, so two concurrent starts cannot launch two servers behind one pid file.
lock() {
    mkdir -p "$(dirname "$PIDFILE")"
    exec 9>"$PIDFILE.lock"
    if command -v flock >/dev/null; then flock 9; fi
}

# Waits until the server (pid $1, reached at $2) answers; says so every 5 s, and gives up with its log's tail
# if it exits or START_TIMEOUT runs out.
wait_until_answering() {
    local pid=$1 where=$2 started=$SECONDS waited reported=0
    until answering; do
        waited=$((SECONDS - started))
        if ! kill -0 "$pid" 2>/dev/null; then
            show_log
            die "start: server process $pid exited during startup (log: $LOG)"
        fi
        if ((waited >= START_TIMEOUT)); then
            show_log
            die "start: no answer on $where after ${START_TIMEOUT}s (pid $pid still running; log: $LOG)"
        fi
        if ((waited - reported >= 5)); then
            say "waiting for $where (${waited}s/${START_TIMEOUT}s)"
            reported=$waited
        fi
        sleep 0.25
    done
}

wait_for_exit() {
    local pid=$1 i
    for ((i = 0; i < $2 * 5; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.2
    done
    ! kill -0 "$pid" 2>/dev/null
}

stop() {
    local pid
    if ! pid=$(running_pid); then
        rm -f "$PIDFILE"
        say "not running"
        return 0
    fi
    say "stopping pid $pid"
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_for_exit "$pid" "$STOP_GRACE"; then
        say "no exit after ${STOP_GRACE}s, sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        wait_for_exit "$pid" 5 || die "stop: pid $pid survived SIGKILL"
    fi
    rm -f "$PIDFILE"
    say "stopped"
}
