"""A toy shop: packages, relative imports and classes for the call-graph analyser."""

from .cli import main as entry

__all__ = ["entry"]
