"""Planner service: turns a submitted task, or a review asking for a revision, into a validated plan."""
