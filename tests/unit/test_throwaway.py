"""A test session deletes only its own throwaway topics on the shared broker."""

from __future__ import annotations

from tests.throwaway import owned_by_this_session, throwaway_suffix


def test_a_session_owns_the_topics_named_with_its_suffixes_and_no_other_sessions_of_the_same_shape() -> None:
    mine = throwaway_suffix(8)
    assert owned_by_this_session(f"fault-{mine}.tasks.submitted")
    assert owned_by_this_session(f"it.{throwaway_suffix()}.parallel")
    # Another session's deployment, created while this one ran: same shape, not this session's to delete.
    assert not owned_by_this_session("faultfafc47d7.tasks.submitted")
    assert not owned_by_this_session("bench1a2b3c4d.tasks.submitted")
