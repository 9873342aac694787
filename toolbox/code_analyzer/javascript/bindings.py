"""What pass 1 records: bindings per scope, units, classes, object literals, each module's exports."""

from __future__ import annotations

from dataclasses import dataclass, field

from toolbox.code_analyzer.javascript.syntax import Node
from toolbox.code_analyzer.model import FileError, FunctionKind

__all__ = [
    "EMPTY",
    "GLOBALS",
    "LITERALS",
    "MAX_DEPTH",
    "PLAIN_THIS",
    "Alias",
    "Annotated",
    "Binding",
    "ClassInfo",
    "External",
    "Imported",
    "Module",
    "ObjectOf",
    "Project",
    "Ref",
    "Scope",
    "SuperOf",
    "ThisOf",
    "Unit",
    "Unknown",
    "merge",
]

# Names every JavaScript runtime (the language, Node, browsers) defines: calls through them are external.
_GLOBAL_NAMES = """Object Function Array String Number Boolean Symbol BigInt Math JSON Date RegExp Error TypeError RangeError
    SyntaxError ReferenceError EvalError URIError AggregateError Promise Map Set WeakMap WeakSet WeakRef
    FinalizationRegistry Proxy Reflect Intl Atomics ArrayBuffer SharedArrayBuffer DataView Int8Array Uint8Array
    Uint8ClampedArray Int16Array Uint16Array Int32Array Uint32Array Float32Array Float64Array BigInt64Array
    BigUint64Array Iterator globalThis parseInt parseFloat isNaN isFinite encodeURI encodeURIComponent decodeURI
    decodeURIComponent escape unescape eval undefined NaN Infinity console setTimeout clearTimeout setInterval
    clearInterval setImmediate clearImmediate queueMicrotask structuredClone process Buffer global require
    module exports __dirname __filename fetch URL URLSearchParams TextEncoder TextDecoder AbortController
    AbortSignal Headers Request Response FormData Blob File ReadableStream WritableStream TransformStream
    WebSocket Worker EventTarget Event CustomEvent performance crypto atob btoa window document navigator
    location history localStorage sessionStorage alert confirm prompt XMLHttpRequest MutationObserver
    requestAnimationFrame cancelAnimationFrame getComputedStyle customElements HTMLElement Element Node
    Deno Bun"""
GLOBALS = frozenset(_GLOBAL_NAMES.split())
# Literals whose type is certain without running anything: `[].push` is Array's.
LITERALS = {
    "string": "String",
    "template_string": "String",
    "number": "Number",
    "array": "Array",
    "regex": "RegExp",
    "true": "Boolean",
    "false": "Boolean",
}
# Bounds the resolution of alias chains and re-exports, which may form cycles.
MAX_DEPTH = 25


@dataclass(frozen=True)
class Ref:
    """A unit of the project (function, method, class), by qualified name."""

    name: str


@dataclass(frozen=True)
class Imported:
    """Export `name` of a project module; `*` is the module itself (a namespace import, `require`)."""

    module: str
    name: str


@dataclass(frozen=True)
class External:
    """Something from outside the project: a package, a Node built-in module, a global."""

    name: str


@dataclass(frozen=True)
class Alias:
    """The value of an expression, then of `attrs` read from it in turn (`const {a} = x` is x's `a`)."""

    node: Node
    scope: Scope
    attrs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Annotated:
    """A TypeScript parameter or field with a declared type: an instance of that class."""

    type_name: Node
    scope: Scope
    name: str


@dataclass(frozen=True)
class ObjectOf:
    """An object literal whose members the analyser recorded, by its qualified name."""

    name: str


@dataclass(frozen=True)
class ThisOf:
    """`this` in a method: an instance of its class, the class itself in a static method, or an object literal."""

    owner: str
    instance: bool = True


@dataclass(frozen=True)
class SuperOf:
    """`super` in a method of this class."""

    cls: str


@dataclass(frozen=True)
class Unknown:
    reason: str


# `x = null` says "nothing yet", not what x will hold: a later real value is not a conflict with it.
EMPTY = Unknown("holds null or undefined where the analyser looked")

PLAIN_THIS = Unknown("'this' in a plain function depends on how it is called")

Binding = Ref | Imported | External | Alias | Annotated | ObjectOf | ThisOf | SuperOf | Unknown


@dataclass(eq=False)
class Scope:
    module: str
    parent: Scope | None
    bindings: dict[str, Binding] = field(default_factory=dict)

    def bind(self, name: str, binding: Binding) -> None:
        merge(self.bindings, name, binding, "bound to different things in one scope")

    def owner_of(self, name: str) -> Scope | None:
        current: Scope | None = self
        while current is not None:
            if name in current.bindings:
                return current
            current = current.parent
        return None


def merge(table: dict[str, Binding], name: str, binding: Binding, conflict: str) -> None:
    """Bind a name flow-insensitively: two different values make it unknown, rather than one of them a guess;
    a declared TypeScript type stays, as the type checker holds every value to it."""
    old = table.get(name)
    if old is None or old in (binding, EMPTY):
        table[name] = binding
    elif binding != EMPTY and not isinstance(old, Unknown | Annotated):
        table[name] = Unknown(f"'{name}' is {conflict}")


@dataclass(eq=False)
class Unit:
    name: str
    kind: FunctionKind
    file: str
    line: int
    calls: list[tuple[Node, Scope]] = field(default_factory=list)


@dataclass(eq=False)
class ClassInfo:
    name: str
    base: Node | None  # the `extends` expression
    scope: Scope  # where the class is defined, to resolve its base
    members: set[str] = field(default_factory=set)
    attributes: dict[str, Binding] = field(default_factory=dict)


@dataclass(eq=False)
class Module:
    name: str
    file: str
    scope: Scope
    exports: dict[str, Binding] = field(default_factory=dict)
    stars: list[str] = field(default_factory=list)  # modules whose exports `export * from` passes on
    whole: Binding | None = None  # `module.exports = ...` / TypeScript's `export = ...`


@dataclass(eq=False)
class Project:
    """Everything pass 1 learnt; pass 2 only reads it."""

    root: str
    files: int
    modules: dict[str, Module] = field(default_factory=dict)
    units: dict[str, Unit] = field(default_factory=dict)
    classes: dict[str, ClassInfo] = field(default_factory=dict)
    objects: dict[str, dict[str, Binding]] = field(default_factory=dict)
    errors: list[FileError] = field(default_factory=list)
