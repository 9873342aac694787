"""Reviewer service: judges an execution and approves it, asks for a revision, or fails the task."""
