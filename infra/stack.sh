#!/usr/bin/env bash
# The local stack without Docker: a real Kafka broker (Maven Central jars) and FerretDB (Go module proxy).
# Usage: infra/stack.sh up|down|status. Everything it downloads, builds and stores lives under .troupe/.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
servers=(kafka ferretdb sandbox jaeger)

case "${1:-}" in
  up)
    for s in "${servers[@]}"; do bash "$here/$s.sh" start; done
    ;;
  down)
    # Reverse order, and keep going so one failure does not leave the other running.
    rc=0
    for ((i = ${#servers[@]} - 1; i >= 0; i--)); do bash "$here/${servers[$i]}.sh" stop || rc=$?; done
    exit "$rc"
    ;;
  status)
    rc=0
    for s in "${servers[@]}"; do bash "$here/$s.sh" status || rc=$?; done
    exit "$rc"
    ;;
  *)
    echo "usage: $0 up|down|status" >&2
    exit 2
    ;;
esac
