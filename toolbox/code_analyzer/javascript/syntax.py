"""Parsing JavaScript and TypeScript with tree-sitter, and small helpers over its nodes."""

from __future__ import annotations

import functools

import tree_sitter
import tree_sitter_javascript
import tree_sitter_typescript

__all__ = ["EXTENSIONS", "Node", "field", "line", "parse", "string_value", "text"]

Node = tree_sitter.Node

# The JavaScript grammar reads JSX too; TypeScript needs its own grammar, and its TSX variant for `.tsx`.
_GRAMMARS = {
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "javascript",
    ".ts": "typescript",
    ".mts": "typescript",
    ".cts": "typescript",
    ".tsx": "tsx",
}
EXTENSIONS = tuple(_GRAMMARS)


@functools.cache
def _parser(grammar: str) -> tree_sitter.Parser:
    # Built on first use in the process that parses: parsers do not pickle, the analyser must.
    if grammar == "javascript":
        language = tree_sitter_javascript.language()
    elif grammar == "tsx":
        language = tree_sitter_typescript.language_tsx()
    else:
        language = tree_sitter_typescript.language_typescript()
    return tree_sitter.Parser(tree_sitter.Language(language))


def parse(source: bytes, suffix: str) -> tree_sitter.Tree:
    return _parser(_GRAMMARS.get(suffix, "javascript")).parse(source)


def text(node: Node | None, limit: int = 120) -> str:
    if node is None or node.text is None:
        return ""
    value = node.text.decode("utf-8", errors="replace")
    return value if len(value) <= limit else value[: limit - 3] + "..."


def field(node: Node, name: str) -> Node | None:
    return node.child_by_field_name(name)


def line(node: Node) -> int:
    return node.start_point.row + 1


def string_value(node: Node | None) -> str | None:
    """The value of a plain string literal (`'./x'`), or None for anything else (templates with holes too)."""
    if node is None or node.type not in ("string", "template_string"):
        return None
    if any(c.type == "template_substitution" for c in node.named_children):
        return None
    return text(node, limit=10_000)[1:-1]
