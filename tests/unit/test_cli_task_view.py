"""What `troupe status` prints of a task."""

from __future__ import annotations

import pytest

from troupe.cli import _print_task


def test_a_tasks_review_is_shown_with_each_verifier_finding(capsys: pytest.CaptureFixture[str]) -> None:
    finding = {"id": "s1:paths_found", "status": "failed", "detail": "no call path was found"}
    task = {
        "task_id": "t-1",
        "status": "planning",
        "progress": 0.0,
        "description": "find the call path",
        "review": {"verdict": "revise", "feedback": "approval overruled", "findings": [finding]},
    }
    _print_task(task)
    shown = capsys.readouterr().out
    assert "review: revise approval overruled" in shown
    assert "failed       s1:paths_found: no call path was found" in shown
