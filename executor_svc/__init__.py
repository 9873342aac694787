"""Executor service: runs a plan's steps through the tool registry and reports each step."""
