"""What a name or a call resolves to while a language's resolver builds the call graph; shared by the languages."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["External", "Instance", "Super", "Symbol", "Unresolved"]


@dataclass(frozen=True)
class Symbol:
    name: str  # a function, method, class or module of the project


@dataclass(frozen=True)
class Instance:
    cls: str


@dataclass(frozen=True)
class Super:
    cls: str


@dataclass(frozen=True)
class External:
    name: str


@dataclass(frozen=True)
class Unresolved:
    reason: str
    # True when a class's bases could not all be resolved, so "no such attribute" would be a guess.
    unknown_base: bool = False
