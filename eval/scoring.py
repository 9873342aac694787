"""Whether a task's answer is right: the rule docs/eval.md states, as pure functions.

A returned path matches an expected one when both start at the same function and end at the same function and
every hop of the expected path appears in the returned one, in order (a subsequence). Expected paths list every
hop the code makes, so a returned path with nothing added is equal to one; hops added between them (a wrapper
the hand-written path skipped) are tolerated, hops left out or out of order are not. Names are compared exactly,
as qualified names (`package.module.Class.method`; JavaScript: `folder/module.Class.method`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pydantic import JsonValue

__all__ = ["Verdict", "judge", "path_matches", "paths_in"]


def path_matches(expected: Sequence[str], returned: Sequence[str]) -> bool:
    if not expected or not returned or expected[0] != returned[0] or expected[-1] != returned[-1]:
        return False
    remaining = iter(returned)
    return all(hop in remaining for hop in expected)


def paths_in(result: JsonValue) -> list[list[str]] | None:
    """The call paths a task's final result carries, or None when it carries none: code_analyzer's output
    itself, the excerpt kept beside its artefact, or a reviewer's answer that quotes the paths."""
    if not isinstance(result, Mapping):
        return None
    for key in ("paths", "call_sequences"):
        found = result.get(key)
        if isinstance(found, list) and all(
            isinstance(p, list) and all(isinstance(n, str) for n in p) for p in found
        ):
            return [[str(n) for n in p] for p in found if isinstance(p, list)]
    for key in ("excerpt", "result", "value"):
        if (inner := paths_in(result.get(key))) is not None:
            return inner
    return None


def _importable(name: str) -> str:
    return name.removeprefix("src.")


@dataclass(frozen=True)
class Verdict:
    right: bool
    reason: str


def judge(
    status: str | None, reason: str | None, result: JsonValue, expected: Sequence[Sequence[str]]
) -> Verdict:
    """Right when the task succeeded and one of its paths matches one of the expected ones; else why not."""
    if status is None:
        return Verdict(False, "no end heard within the harness's time limit")
    if status != "succeeded":
        return Verdict(False, f"task {status}: {reason or 'no reason given'}")
    paths = paths_in(result)
    if paths is None:
        return Verdict(False, "the result carries no call paths")
    if not paths:
        return Verdict(False, "no call path found")
    if any(path_matches(want, got) for want in expected for got in paths):
        return Verdict(True, "")
    if any(path_matches(want, [_importable(n) for n in got]) for want in expected for got in paths):
        return Verdict(
            False, "the expected path, but named from the `src/` folder (src layout not recognised)"
        )
    return Verdict(False, f"{len(paths)} path(s), none the expected one; shortest: {' -> '.join(paths[0])}")
