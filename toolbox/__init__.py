"""The tool registry and the tools the executor runs (sandboxed where they execute code)."""
