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


def test_a_waiting_task_shows_why_and_every_decision(capsys: pytest.CaptureFixture[str]) -> None:
    decision = {
        "decision": "approve",
        "decided_by": "k_1",
        "role": "approver",
        "decided_at": "2026-01-01T00:00:00Z",
        "plan_hash": "ab" * 32,
        "comment": "fine",
    }
    task = {
        "task_id": "t-1",
        "status": "awaiting_approval",
        "progress": 0.0,
        "description": "run code",
        "approval": {"expires_at": "2026-01-01T01:00:00Z", "reasons": ["step 'a' uses python_exec"]},
        "decisions": [decision],
    }
    _print_task(task)
    shown = capsys.readouterr().out
    assert "awaits approval until 2026-01-01T01:00:00Z" in shown and "step 'a' uses python_exec" in shown
    assert "approve by k_1 (approver) at 2026-01-01T00:00:00Z, plan abababababab: fine" in shown
