#!/usr/bin/env bash
# Troupe's four services as background processes on this machine (the local stack must be up).
# Usage: infra/services.sh start|stop|status. Logs in $TROUPE_HOME/log/<service>.log, pids in $TROUPE_HOME/run.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TROUPE_HOME="${TROUPE_HOME:-$REPO_ROOT/.troupe}"
PYTHON="${TROUPE_PYTHON:-$REPO_ROOT/.venv/bin/python}"
GATEWAY_PORT="${TROUPE_GATEWAY_PORT:-8000}"
START_TIMEOUT="${TROUPE_SERVICE_START_TIMEOUT:-60}"
# What tasks may read besides their own workspace: the sample projects, unless told otherwise. Never the repo
# root: .troupe/ holds the admin key and the database files.
export TROUPE_EXECUTOR_READ_ONLY_ROOTS="${TROUPE_EXECUTOR_READ_ONLY_ROOTS:-[\"$REPO_ROOT/samples\"]}"
services=(planner_svc executor_svc reviewer_svc gateway_svc)
# Only the gateway is handed the admin key: the one in the environment, else the local key file.
admin_key="${TROUPE_ADMIN_API_KEY:-}"
if [[ -z $admin_key && -s "$TROUPE_HOME/admin-api-key" ]]; then admin_key="$(cat "$TROUPE_HOME/admin-api-key")"; fi
unset TROUPE_ADMIN_API_KEY

say() { printf '==> services: %s\n' "$*"; }
pid_file() { echo "$TROUPE_HOME/run/$1.pid"; }
log_file() { echo "$TROUPE_HOME/log/$1.log"; }

running_pid() {
  local f pid
  f="$(pid_file "$1")"
  [[ -f $f ]] || return 1
  pid="$(cat "$f")"
  # /proc/PID/cmdline separates arguments with NUL bytes.
  if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "-m $1"; then
    echo "$pid"
  else
    rm -f "$f"
    return 1
  fi
}

# A worker is ready once FastStream says its subscribers started; the gateway once /healthz answers.
ready() {
  if [[ $1 == gateway_svc ]]; then
    (exec 3<>"/dev/tcp/127.0.0.1/$GATEWAY_PORT") 2>/dev/null || return 1
    "$PYTHON" -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$GATEWAY_PORT/healthz', timeout=2)" 2>/dev/null
  else
    grep -q "started successfully" "$(log_file "$1")" 2>/dev/null
  fi
}

start_one() {
  local name=$1 pid waited=0 i
  if pid="$(running_pid "$name")"; then
    say "$name already running (pid $pid)"
    return 0
  fi
  mkdir -p "$TROUPE_HOME/run" "$TROUPE_HOME/log"
  [[ -f "$(log_file "$name")" ]] && mv "$(log_file "$name")" "$(log_file "$name").1"
  rm -f "$(pid_file "$name")"
  # Own session, so the service outlives this script; exec all the way down, so no shell is left holding
  # the caller's output open, and the inner bash writes its own pid before it becomes python. The admin key
  # goes into the subshell's environment, never onto a command line, which any user can read.
  # shellcheck disable=SC2016  # $$ and $@ belong to the inner bash
  (cd "$REPO_ROOT" && if [[ $name == gateway_svc && -n $admin_key ]]; then export TROUPE_ADMIN_API_KEY="$admin_key"; fi &&
    exec setsid nohup bash -c 'printf "%s\n" "$$" >"$0"; exec "$@"' "$(pid_file "$name")" \
    "$PYTHON" -m "$name") >"$(log_file "$name")" 2>&1 </dev/null &
  for ((i = 0; i < 50; i++)); do [[ -s "$(pid_file "$name")" ]] && break; sleep 0.1; done
  pid="$(cat "$(pid_file "$name")")"
  until ready "$name"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "services: ERROR: $name exited while starting; log: $(log_file "$name")" >&2
      tail -n 30 "$(log_file "$name")" >&2
      exit 1
    fi
    if ((waited >= START_TIMEOUT * 5)); then
      echo "services: ERROR: $name not ready after ${START_TIMEOUT}s; log: $(log_file "$name")" >&2
      tail -n 30 "$(log_file "$name")" >&2
      exit 1
    fi
    sleep 0.2
    waited=$((waited + 1))
  done
  say "$name running (pid $pid); log: $(log_file "$name")"
}

stop_one() {
  local name=$1 pid i
  pid="$(running_pid "$name")" || return 0
  kill "$pid" 2>/dev/null || true
  for ((i = 0; i < 75; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$(pid_file "$name")"
  say "$name stopped"
}

case "${1:-}" in
  start) for s in "${services[@]}"; do start_one "$s"; done ;;
  stop) for s in "${services[@]}"; do stop_one "$s"; done ;;
  status)
    rc=0
    for s in "${services[@]}"; do
      if pid="$(running_pid "$s")"; then echo "$s: running (pid $pid)"; else echo "$s: not running"; rc=3; fi
    done
    exit "$rc"
    ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
