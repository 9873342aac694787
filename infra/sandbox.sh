#!/usr/bin/env bash
# The code sandbox without Docker: Podman's Docker-compatible API service on a unix socket, running containers
# from a Python image built locally (there is no image registry here), plus bubblewrap for the fallback backend.
#
#   bash infra/sandbox.sh install   apt packages if missing; build the image once (debootstrap, cached tarball)
#   bash infra/sandbox.sh start     install if needed, start the API service, return once it answers /_ping
#   bash infra/sandbox.sh stop      stop the service we started
#   bash infra/sandbox.sh status    exit 0 if running, 3 if not
#
# Env: TROUPE_HOME (default <repo>/.troupe), TROUPE_TOOLS_IMAGE (default troupe-sandbox:1),
#      TROUPE_SANDBOX_MIRROR (Debian mirror, default http://deb.debian.org/debian),
#      TROUPE_SANDBOX_START_TIMEOUT (seconds, default 30).
set -euo pipefail

readonly SUITE=bookworm
readonly PACKAGES=(podman runc debootstrap bubblewrap)
readonly STOP_GRACE=10

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TROUPE_HOME=${TROUPE_HOME:-$ROOT/.troupe}
mkdir -p "$TROUPE_HOME"
TROUPE_HOME=$(cd "$TROUPE_HOME" && pwd)
IMAGE=${TROUPE_TOOLS_IMAGE:-troupe-sandbox:1}
MIRROR=${TROUPE_SANDBOX_MIRROR:-http://deb.debian.org/debian}
START_TIMEOUT=${TROUPE_SANDBOX_START_TIMEOUT:-30}

CACHE=$TROUPE_HOME/cache/sandbox
# The tarball name carries what is in it, so a change of suite or contents builds a new one.
ROOTFS_TAR=$CACHE/rootfs-$SUITE-minbase-python3.tar
DATA=$TROUPE_HOME/data/sandbox
CONF=$DATA/containers.conf
SOCK=$TROUPE_HOME/run/podman.sock
LOG=$TROUPE_HOME/log/sandbox.log
INSTALL_LOG=$TROUPE_HOME/log/sandbox-install.log
PIDFILE=$TROUPE_HOME/run/sandbox.pid

say() { echo "==> sandbox: $*"; }
die() { echo "sandbox: error: $*" >&2; exit 1; }

# A failed step: name it, point at its log and show the tail so the cause is visible right away.
fail() {
    local log=$2
    echo "sandbox: error: $1" >&2
    echo "sandbox: log file: $log" >&2
    if [[ -f $log ]]; then
        echo "--- last 30 lines of $log ---" >&2
        tail -n 30 "$log" >&2
    fi
    exit 1
}

# apt, debootstrap and podman's root storage need root; use sudo only when we are not root already.
as_root() {
    if ((EUID == 0)); then
        "$@"
    elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        sudo -n "$@"
    else
        die "'$1' needs root (run as root or give passwordless sudo)"
    fi
}

# --- install ---------------------------------------------------------------------------------------------

missing_packages() {
    local p
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"
    done
}

install_packages() {
    local missing
    mapfile -t missing < <(missing_packages)
    ((${#missing[@]})) || return 0
    command -v apt-get >/dev/null || die "install: missing ${missing[*]} and no apt-get to install them"
    say "installing ${missing[*]} with apt-get (first run only; log: $INSTALL_LOG)"
    # Only the packages' hard dependencies: podman's recommends (buildah, slirp4netns, ...) are for rootless
    # and networked containers, which the sandbox never uses.
    as_root apt-get update >>"$INSTALL_LOG" 2>&1 || fail "install: apt-get update failed" "$INSTALL_LOG"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" \
        >>"$INSTALL_LOG" 2>&1 || fail "install: apt-get install ${missing[*]} failed" "$INSTALL_LOG"
}

build_rootfs() {
    [[ -s $ROOTFS_TAR ]] && return 0
    local tree=$CACHE/rootfs.tmp started=$SECONDS
    as_root rm -rf "$tree"
    mkdir -p "$CACHE"
    say "building the sandbox root filesystem: debootstrap $SUITE minbase + python3 (first run only, ~1-3 min)"
    as_root debootstrap --variant=minbase --include=python3 "$SUITE" "$tree" "$MIRROR" >>"$INSTALL_LOG" 2>&1 \
        || fail "install: debootstrap $SUITE from $MIRROR failed" "$INSTALL_LOG"
    # Nothing in the sandbox installs packages or reads docs: drop them to keep the image small.
    as_root rm -rf "$tree"/var/cache/apt/* "$tree"/var/lib/apt/lists/* "$tree"/usr/share/doc/* \
        "$tree"/usr/share/man/* "$tree"/usr/share/locale/* "$tree"/var/log/*
    as_root tar --numeric-owner -C "$tree" -cf "$ROOTFS_TAR.tmp" . || fail "install: packing the root filesystem failed" "$INSTALL_LOG"
    mv -f "$ROOTFS_TAR.tmp" "$ROOTFS_TAR"
    as_root rm -rf "$tree"
    say "root filesystem cached at $ROOTFS_TAR ($(du -h "$ROOTFS_TAR" | cut -f1), $((SECONDS - started))s)"
}

build_image() {
    if as_root podman image exists "$IMAGE" 2>/dev/null; then
        return 0
    fi
    build_rootfs
    say "importing $ROOTFS_TAR as $IMAGE"
    as_root podman import --change 'CMD ["/usr/bin/python3"]' "$ROOTFS_TAR" "$IMAGE" >>"$INSTALL_LOG" 2>&1 \
        || fail "install: podman import of $ROOTFS_TAR failed" "$INSTALL_LOG"
}

install() {
    mkdir -p "$(dirname "$INSTALL_LOG")"
    install_packages
    build_image
}

# --- start -----------------------------------------------------------------------------------------------

# From infra notes (run on this machine kind): the default ulimits and pids limit cannot be applied here, and
# podman's systemd cgroup manager is not available; crun fails on these cgroups, so the service uses runc.
write_config() {
    mkdir -p "$DATA"
    cat >"$CONF" <<'EOF'
# Generated by infra/sandbox.sh on each start: edit the script, not this file.
[containers]
default_ulimits = []
pids_limit = 0

[engine]
cgroup_manager = "cgroupfs"
EOF
}

# Prints the pid of our service, if the pid file names a live podman serving our socket.
running_pid() {
    local pid args
    [[ -f $PIDFILE ]] || return 1
    pid=$(<"$PIDFILE")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    args=$(ps -o args= -p "$pid" 2>/dev/null) || return 1
    [[ $args == *"system service"*"unix://$SOCK"* ]] || return 1
    echo "$pid"
}

answering() {
    [[ -S $SOCK ]] && [[ $(curl -s --max-time 2 --unix-socket "$SOCK" http://d/_ping 2>/dev/null) == OK ]]
}

wait_until_answering() {
    local pid=$1 started=$SECONDS waited
    while ! answering; do
        waited=$((SECONDS - started))
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$PIDFILE"
            fail "start: the podman service (pid $pid) exited during startup" "$LOG"
        fi
        if ((waited >= START_TIMEOUT)); then
            fail "start: no answer on $SOCK after ${START_TIMEOUT}s (pid $pid still running)" "$LOG"
        fi
        sleep 0.2
    done
}

start() {
    local pid
    if ((EUID != 0)); then
        # Rootful Podman is what runs here (rootless needs subuid ranges and user services): without root,
        # leave it off and let python_exec fall back to bubblewrap (TROUPE_TOOLS_SANDBOX_BACKEND=auto).
        say "skipped: the Podman API service needs root; python_exec will use bubblewrap (bash $0 install as root enables containers)"
        return 0
    fi
    command -v curl >/dev/null || die "start: curl not found (used to ping the service)"
    install
    if pid=$(running_pid); then
        if answering; then
            say "already running on unix://$SOCK (pid $pid)"
            return 0
        fi
        say "pid $pid is starting, waiting for it"
        wait_until_answering "$pid"
        say "running on unix://$SOCK (pid $pid)"
        return 0
    fi
    rm -f "$PIDFILE" "$SOCK"
    write_config
    mkdir -p "$(dirname "$LOG")" "$(dirname "$PIDFILE")"
    echo "=== $(date -u +%FT%TZ) start podman service on unix://$SOCK ===" >>"$LOG"
    say "starting the podman API service on unix://$SOCK (image $IMAGE, log: $LOG)"
    # setsid detaches it from this shell's session, so Ctrl-C in the caller's terminal does not reach it.
    CONTAINERS_CONF=$CONF setsid nohup podman --runtime runc system service --time=0 "unix://$SOCK" \
        >>"$LOG" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$PIDFILE"
    wait_until_answering "$pid"
    say "running on unix://$SOCK (pid $pid)"
}

# --- stop / status ---------------------------------------------------------------------------------------

stop() {
    local pid deadline
    if ! pid=$(running_pid); then
        rm -f "$PIDFILE"
        say "not running"
        return 0
    fi
    say "stopping pid $pid"
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + STOP_GRACE))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
        sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "no exit after ${STOP_GRACE}s, sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$PIDFILE" "$SOCK"
    say "stopped"
}

status() {
    local pid
    if pid=$(running_pid); then
        if answering; then
            echo "sandbox: running on unix://$SOCK (pid $pid, image $IMAGE)"
            return 0
        fi
        echo "sandbox: pid $pid alive but not answering on $SOCK (starting, or see $LOG)"
        return 1
    fi
    echo "sandbox: not running"
    return 3
}

case ${1:-} in
    install) install; say "ready: image $IMAGE, bwrap $(command -v bwrap)" ;;
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
esac
