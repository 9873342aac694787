"""Run a service with every MongoDB command it sends counted: `python bench/db_commands.py planner_svc`.

Started by path, from the checkout whose code it runs (that checkout is the working directory), so the
same file counts a baseline checkout's services too. A listener registered before the service builds its
client counts each command by (command, collection, key shape); SIGUSR1 writes the counts so far as JSON to
`$TROUPE_BENCH_DB_COUNTS` (`bench/dbops.py` reads them before and after a measured phase).
"""

from __future__ import annotations

import json
import os
import re
import runpy
import signal
import sys
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import Any

from pymongo import monitoring

COUNTS_VARIABLE = "TROUPE_BENCH_DB_COUNTS"
_PLUMBING = frozenset({"hello", "ismaster", "isMaster", "saslStart", "saslContinue", "endSessions"})
# Task ids and generated ids become one placeholder, so a key's shape is counted, not each key.
_IDS = re.compile(r"bench-[0-9a-f]{16}|[0-9a-f]{16,}|[0-9a-f-]{36}")


def key_shape(command_name: str, command: Any) -> str:
    """The shape of the `_id` a command names (`plan:T:1`), or '' when it names none by `_id`."""
    found: Any = None
    if command_name == "find":
        found = command.get("filter", {}).get("_id")
    elif command_name == "insert":
        found = (command.get("documents") or [{}])[0].get("_id")
    elif command_name in ("update", "delete"):
        entries = command.get("updates" if command_name == "update" else "deletes") or [{}]
        found = entries[0].get("q", {}).get("_id")
    elif command_name == "findAndModify":
        found = command.get("query", {}).get("_id")
    if isinstance(found, str):
        return _IDS.sub("T", found)
    return "" if found is None else type(found).__name__


class Counts(monitoring.CommandListener):
    def __init__(self) -> None:
        self.seen: Counter[tuple[str, str, str]] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name in _PLUMBING:
            return
        collection = event.command.get(event.command_name)
        target = collection if isinstance(collection, str) else ""
        self.seen[(event.command_name, target, key_shape(event.command_name, event.command))] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def main() -> None:
    module = sys.argv[1]
    sys.path[0] = os.getcwd()  # the checkout being measured, not this file's folder
    counts = Counts()
    monitoring.register(counts)
    out = Path(os.environ[COUNTS_VARIABLE])

    def dump(signum: int, frame: FrameType | None) -> None:
        rows = [[*key, n] for key, n in counts.seen.items()]
        out.with_suffix(".tmp").write_text(json.dumps(rows))
        out.with_suffix(".tmp").replace(out)

    signal.signal(signal.SIGUSR1, dump)
    sys.argv = [module]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
