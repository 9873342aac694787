"""Pass 1: walk every module once and record scopes, bindings, units, classes, objects, exports and calls."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import tree_sitter

from toolbox.code_analyzer.javascript.bindings import (
    EMPTY,
    LITERALS,
    PLAIN_THIS,
    Alias,
    Annotated,
    Binding,
    ClassInfo,
    External,
    Imported,
    Module,
    ObjectOf,
    Project,
    Ref,
    Scope,
    SuperOf,
    ThisOf,
    Unit,
    Unknown,
    merge,
)
from toolbox.code_analyzer.javascript.modules import ModuleTable
from toolbox.code_analyzer.javascript.syntax import Node, field, line, parse, string_value, text
from toolbox.code_analyzer.model import FileError, FunctionKind
from toolbox.code_analyzer.source_files import read_source

__all__ = ["collect"]

_FUNCTIONS = frozenset({"arrow_function", "function_expression", "function", "generator_function"})
_FUNCTION_DECLARATIONS = frozenset({"function_declaration", "generator_function_declaration"})
_CLASSES = frozenset({"class_declaration", "abstract_class_declaration", "class"})
# Wrappers that do not change the value: `(x)`, TypeScript's `x as T`, `x!`, `x satisfies T`, `<T>x`.
_TRANSPARENT = frozenset(
    {
        "parenthesized_expression",
        "as_expression",
        "non_null_expression",
        "satisfies_expression",
        "type_assertion",
    }
)
_FOLLOWED = frozenset(
    {"identifier", "member_expression", "new_expression", "call_expression", "this", "subscript_expression"}
)
# Nodes that hold no calls and no bindings: TypeScript's types, and literals without code in them.
_INERT = frozenset(
    {
        "comment",
        "string",
        "number",
        "regex",
        "interface_declaration",
        "type_alias_declaration",
        "type_annotation",
        "type_arguments",
        "type_parameters",
        "implements_clause",
        "function_signature",
        "method_signature",
        "abstract_method_signature",
        "ambient_declaration",
    }
)


@dataclass(frozen=True)
class _Ctx:
    module: Module
    scope: Scope
    unit: Unit
    prefix: str  # qualified name of the enclosing unit, the prefix of the names defined in it


def collect(root: Path, files: Sequence[Path], table: ModuleTable) -> Project:
    collector = _Collector(root, table)
    for rel in table.files:
        collector.load(rel)
    collector.project.files = len(table.files)
    return collector.project


def unwrap(node: Node) -> Node:
    while node.type in _TRANSPARENT and node.named_children:
        node = node.named_children[0]
    return node


class _Collector:
    def __init__(self, root: Path, table: ModuleTable) -> None:
        self.root = root
        self.table = table
        self.project = Project(root=str(root), files=0)

    def load(self, rel: str) -> None:
        path = self.root / rel
        try:
            source = read_source(path)
        except OSError as e:
            self.project.errors.append(FileError(file=rel, line=None, message=f"cannot read: {e}"))
            return
        tree = parse(source, Path(rel).suffix)
        if tree.root_node.has_error:
            # tree-sitter recovers from errors, so the rest of the file is still analysed.
            bad = _first_error(tree.root_node.walk())
            self.project.errors.append(
                FileError(
                    file=rel, line=line(bad) if bad else None, message="syntax error (the rest is analysed)"
                )
            )
        name = self.table.names[rel]
        scope = Scope(module=name, parent=None)
        scope.bind("this", Unknown("'this' at the top of a module"))
        module = Module(name=name, file=rel, scope=scope)
        self.project.modules[name] = module
        unit = Unit(name=name, kind="module", file=rel, line=1)
        self.project.units[name] = unit
        try:
            self._walk_all(tree.root_node.named_children, _Ctx(module, scope, unit, name))
        except RecursionError:
            # Nesting deeper than Python's stack (generated code, or an attack): what was read so far stays.
            self.project.errors.append(
                FileError(file=rel, line=None, message="nested too deeply; analysed only in part")
            )

    # --- walking --------------------------------------------------------------------------------------------

    def _walk_all(self, nodes: Sequence[Node], ctx: _Ctx) -> None:
        for node in nodes:
            self._walk(node, ctx)

    def _walk(self, node: Node, ctx: _Ctx) -> None:
        kind = node.type
        if kind in _INERT or not node.named_child_count:
            return  # about half the nodes: names, literals, types; building their child lists is most of the cost
        if kind in _FUNCTION_DECLARATIONS:
            name = field(node, "name")
            if name is not None:
                ctx.scope.bind(text(name), self._function(node, self._qualify(ctx, text(name)), ctx))
        elif kind in ("class_declaration", "abstract_class_declaration"):
            name = field(node, "name")
            if name is not None:
                ctx.scope.bind(text(name), self._class(node, self._qualify(ctx, text(name)), ctx))
        elif kind in ("lexical_declaration", "variable_declaration"):
            for declarator in node.named_children:
                if declarator.type == "variable_declarator":
                    self._declarator(declarator, ctx)
        elif kind == "import_statement":
            self._import(node, ctx)
        elif kind == "export_statement":
            self._export(node, ctx)
        elif kind == "assignment_expression":
            self._assignment(node, ctx)
        elif kind == "augmented_assignment_expression":
            self._shadow(field(node, "left"), ctx)
            self._walk_all(node.named_children, ctx)
        elif kind == "binary_expression":
            # `a + b + c + ...` nests to the left as deep as it is long: walk down its spine in a loop.
            left: Node | None = node
            while left is not None and left.type == "binary_expression":
                right = field(left, "right")
                if right is not None:
                    self._walk(right, ctx)
                left = field(left, "left")
            if left is not None:
                self._walk(left, ctx)
        elif kind in ("call_expression", "new_expression"):
            ctx.unit.calls.append((node, ctx.scope))
            self._walk_all(node.named_children, ctx)
        elif kind in ("jsx_opening_element", "jsx_self_closing_element"):
            tag = field(node, "name")
            if tag is not None and (tag.type == "member_expression" or text(tag)[:1].isupper()):
                ctx.unit.calls.append((node, ctx.scope))  # a component rendered is a component called
            self._walk_all(node.named_children, ctx)
        elif kind in _FUNCTIONS or kind == "method_definition":
            self._anonymous(node, ctx)
        elif kind == "class":
            self._class(node, self._qualify(ctx, f"class@{line(node)}"), ctx)
        elif kind in ("for_in_statement",):
            self._shadow(field(node, "left"), ctx)
            self._walk_all(node.named_children, ctx)
        elif kind == "catch_clause":
            self._shadow(field(node, "parameter"), ctx)
            self._walk_all(node.named_children, ctx)
        else:
            self._walk_all(node.named_children, ctx)

    def _qualify(self, ctx: _Ctx, name: str) -> str:
        qualified = f"{ctx.prefix}.{name}"
        if qualified in self.project.units:
            qualified = f"{qualified}@{_free_suffix(self.project.units, qualified)}"
        return qualified

    def _shadow(self, target: Node | None, ctx: _Ctx) -> None:
        """Every name in an assignment target the analyser does not follow becomes unknown."""
        if target is None:
            return
        if target.type in ("identifier", "shorthand_property_identifier_pattern"):
            owner = ctx.scope.owner_of(text(target)) or ctx.scope
            owner.bind(text(target), Unknown(f"'{text(target)}' is assigned at run time"))
            return
        if target.type in ("lexical_declaration", "variable_declaration"):
            for declarator in target.named_children:
                self._shadow(field(declarator, "name"), ctx)
            return
        for child in target.named_children:
            if child.type not in ("member_expression", "subscript_expression"):
                self._shadow(child, ctx)

    # --- definitions ----------------------------------------------------------------------------------------

    def _function(
        self, node: Node, name: str, ctx: _Ctx, kind: FunctionKind = "function", this: Binding | None = None
    ) -> Ref:
        unit = Unit(name=name, kind=kind, file=ctx.module.file, line=line(node))
        self.project.units[name] = unit
        if this is None and node.type != "arrow_function":
            # A plain function's `this` is an instance if the function turns out to be a constructor.
            this = ThisOf(name)
        self._body(node, _Ctx(ctx.module, Scope(module=ctx.module.name, parent=ctx.scope), unit, name), this)
        return Ref(name)

    def _anonymous(self, node: Node, ctx: _Ctx) -> None:
        """A function with no name to call it by (a callback, an IIFE): its calls count as the enclosing unit's."""
        self._body(node, replace(ctx, scope=Scope(module=ctx.module.name, parent=ctx.scope)), None)

    def _body(self, node: Node, ctx: _Ctx, this: Binding | None) -> None:
        if this is not None:
            ctx.scope.bind("this", this)
        elif node.type != "arrow_function":
            ctx.scope.bind("this", PLAIN_THIS)  # arrow functions see the `this` of where they are written
        params = field(node, "parameters") or field(node, "parameter")
        if params is not None:
            self._params(params, ctx)
        body = field(node, "body")
        if body is not None:
            self._walk_all(body.named_children if body.type == "statement_block" else [body], ctx)

    def _params(self, params: Node, ctx: _Ctx) -> None:
        items = params.named_children if params.type == "formal_parameters" else [params]
        for param in items:
            pattern = (
                field(param, "pattern")
                if param.type in ("required_parameter", "optional_parameter")
                else param
            )
            declared = _declared_type(param)
            if pattern is not None and pattern.type == "identifier" and declared is not None:
                ctx.scope.bind(
                    text(pattern), Annotated(declared, ctx.scope.parent or ctx.scope, text(pattern))
                )
                continue
            if pattern is not None and pattern.type == "assignment_pattern":
                self._walk(field(pattern, "right") or pattern, ctx)
                pattern = field(pattern, "left")
            for name in _identifiers(pattern):
                ctx.scope.bind(name, Unknown(f"'{name}' is a parameter the analyser does not follow"))

    def _class(self, node: Node, name: str, ctx: _Ctx) -> Ref:
        base: Node | None = None
        for heritage in node.named_children:
            if heritage.type == "class_heritage":
                for clause in heritage.named_children:
                    if clause.type == "extends_clause":
                        base = field(clause, "value")
                    elif clause.type != "implements_clause":
                        base = clause
        if base is not None:
            self._walk(base, ctx)
        self._walk_all([d for d in node.children if d.type == "decorator"], ctx)
        info = ClassInfo(name=name, base=base, scope=ctx.scope)
        self.project.classes[name] = info
        self.project.units[name] = Unit(name=name, kind="class", file=ctx.module.file, line=line(node))
        body = field(node, "body")
        for member in body.named_children if body is not None else []:
            self._class_member(member, info, ctx)
        return Ref(name)

    def _class_member(self, member: Node, info: ClassInfo, ctx: _Ctx) -> None:
        static = any(c.type == "static" for c in member.children)
        self._walk_all([d for d in member.children if d.type == "decorator"], ctx)
        this = ThisOf(info.name, instance=not static)
        name_node = field(member, "name") or field(member, "property")
        key = _key(name_node)
        inner = replace(ctx, prefix=info.name)
        if member.type == "method_definition" and key is not None and field(member, "body") is not None:
            qualified = f"{info.name}.{key}"
            unit = Unit(name=qualified, kind="method", file=ctx.module.file, line=line(member))
            self.project.units[qualified] = unit
            info.members.add(key)
            scope = Scope(module=ctx.module.name, parent=ctx.scope)
            scope.bind("super", SuperOf(info.name))
            self._body(member, _Ctx(ctx.module, scope, unit, qualified), this)
            if key == "constructor":
                self._parameter_properties(member, info, scope)
        elif member.type in ("field_definition", "public_field_definition") and key is not None:
            value = field(member, "value")
            if value is not None and unwrap(value).type in _FUNCTIONS:
                info.members.add(key)
                self._function(unwrap(value), f"{info.name}.{key}", inner, "method", this)
            elif value is not None:
                scope = Scope(module=ctx.module.name, parent=ctx.scope)
                scope.bind("this", this)
                info.attributes[key] = self._value(value, f"{info.name}.{key}", replace(inner, scope=scope))
            elif (declared := _declared_type(member)) is not None:
                info.attributes[key] = Annotated(declared, ctx.scope, key)
        elif member.type == "class_static_block":
            scope = Scope(module=ctx.module.name, parent=ctx.scope)
            scope.bind("this", ThisOf(info.name, instance=False))
            self._walk_all(member.named_children, replace(ctx, scope=scope))

    def _parameter_properties(self, ctor: Node, info: ClassInfo, scope: Scope) -> None:
        """TypeScript's `constructor(private svc: Service)` also sets `this.svc`."""
        params = field(ctor, "parameters")
        for param in params.named_children if params is not None else []:
            pattern = field(param, "pattern")
            promoted = any(c.type in ("accessibility_modifier", "readonly") for c in param.children)
            if promoted and pattern is not None and pattern.type == "identifier":
                info.attributes[text(pattern)] = scope.bindings.get(
                    text(pattern), Unknown(f"'{text(pattern)}' is a parameter the analyser does not follow")
                )

    def _object(self, node: Node, name: str, ctx: _Ctx) -> ObjectOf:
        members: dict[str, Binding] = {}
        self.project.objects[name] = members
        this = ThisOf(name)
        for item in node.named_children:
            if item.type == "pair":
                key, value = _key(field(item, "key")), field(item, "value")
                if key is not None and value is not None:
                    method = unwrap(value).type in _FUNCTIONS - {"arrow_function"}
                    members[key] = self._value(
                        value, f"{name}.{key}", ctx, this if method else None, "method"
                    )
                elif value is not None:
                    self._walk(value, ctx)
            elif item.type == "method_definition" and (key := _key(field(item, "name"))) is not None:
                members[key] = self._function(item, f"{name}.{key}", ctx, "method", this)
            elif item.type == "shorthand_property_identifier":
                members[text(item)] = Alias(item, ctx.scope)
            else:
                self._walk(item, ctx)
        return ObjectOf(name)

    def _value(
        self, value: Node, name: str, ctx: _Ctx, this: Binding | None = None, kind: FunctionKind = "function"
    ) -> Binding:
        """What a name bound to `value` holds; functions, classes and objects in it become units named `name`."""
        node = unwrap(value)
        if node.type in _FUNCTIONS:
            return self._function(node, name, ctx, kind, this)
        if node.type in _CLASSES:
            return self._class(node, name, ctx)
        if node.type == "object":
            return self._object(node, name, ctx)
        self._walk(value, ctx)
        if node.type in ("null", "undefined"):
            return EMPTY
        if node.type in LITERALS:
            return External(LITERALS[node.type])
        if node.type in _FOLLOWED:
            return Alias(node, ctx.scope)
        return Unknown(
            f"'{name.rsplit('.', 1)[-1]}' holds a value ({node.type}) the analyser does not follow"
        )

    def _declarator(self, declarator: Node, ctx: _Ctx) -> None:
        target, value = field(declarator, "name"), field(declarator, "value")
        if target is None:
            return
        if target.type == "identifier":
            name = text(target)
            if value is not None:
                ctx.scope.bind(name, self._value(value, self._qualify(ctx, name), ctx))
            elif (declared := _declared_type(declarator)) is not None:
                ctx.scope.bind(name, Annotated(declared, ctx.scope, name))
            return
        if value is not None:
            self._walk(value, ctx)
        if target.type == "object_pattern" and value is not None:
            self._destructure(target, unwrap(value), ctx)
        else:
            self._shadow(target, ctx)

    def _destructure(self, pattern: Node, value: Node, ctx: _Ctx) -> None:
        for item in pattern.named_children:
            if item.type == "shorthand_property_identifier_pattern":
                ctx.scope.bind(text(item), Alias(value, ctx.scope, (text(item),)))
            elif item.type == "pair_pattern":
                key, target = _key(field(item, "key")), field(item, "value")
                if key is not None and target is not None and target.type == "identifier":
                    ctx.scope.bind(text(target), Alias(value, ctx.scope, (key,)))
                else:
                    self._shadow(target, ctx)
            else:
                self._shadow(item, ctx)

    # --- assignments ----------------------------------------------------------------------------------------

    def _assignment(self, node: Node, ctx: _Ctx) -> None:
        left, right = field(node, "left"), field(node, "right")
        if left is None or right is None:
            return
        left = unwrap(left)
        module = ctx.module
        if left.type == "identifier":
            owner = ctx.scope.owner_of(text(left)) or module.scope
            owner.bind(text(left), self._value(right, self._qualify(ctx, text(left)), ctx))
            return
        if left.type != "member_expression":
            self._walk(right, ctx)
            self._shadow(left, ctx)
            return
        obj, prop = field(left, "object"), _key(field(left, "property"))
        path = text(left)
        if path == "module.exports" and _unbound(ctx, "module"):
            value = unwrap(right)
            own = field(value, "name")
            # `module.exports = {...}`: its members are named as the module's own, as if exported one by one.
            name = (
                module.name if value.type == "object" else f"{module.name}.{text(own) if own else 'exports'}"
            )
            module.whole = self._value(right, name, ctx)
            return
        if obj is None or prop is None:
            self._walk_all([left, right], ctx)
            return
        if (text(obj) == "exports" and _unbound(ctx, "exports")) or (
            text(obj) == "module.exports" and _unbound(ctx, "module")
        ):
            module.exports[prop] = self._value(right, f"{module.name}.{prop}", ctx)
            return
        holder = self._holder(obj, ctx)
        if isinstance(holder, ClassInfo):
            method = unwrap(right).type in _FUNCTIONS - {"arrow_function"}
            this = ThisOf(holder.name, instance=text(obj).endswith(".prototype") or obj.type == "this")
            binding = self._value(right, f"{holder.name}.{prop}", ctx, this if method else None, "method")
            if isinstance(binding, Ref):
                holder.members.add(prop)
            else:
                merge(holder.attributes, prop, binding, f"set to different things on {holder.name}")
            return
        if isinstance(holder, dict):
            name = self._object_name(obj, ctx)
            merge(
                holder, prop, self._value(right, f"{name}.{prop}", ctx), f"set to different things on {name}"
            )
            return
        self._walk_all([left, right], ctx)

    def _holder(self, obj: Node, ctx: _Ctx) -> ClassInfo | dict[str, Binding] | None:
        """The class (`this.x = `, `C.prototype.x = `, `C.x = `) or object literal (`o.x = `) being assigned to."""
        if obj.type == "this":
            this = ctx.scope.owner_of("this")
            binding = this.bindings["this"] if this is not None else None
            if isinstance(binding, ThisOf):
                return self._class_of(binding.owner, ctx.scope) or self.project.objects.get(binding.owner)
            return None
        if obj.type == "member_expression" and _key(field(obj, "property")) == "prototype":
            obj = field(obj, "object") or obj
        if obj.type != "identifier":
            return None
        owner = ctx.scope.owner_of(text(obj))
        binding = owner.bindings[text(obj)] if owner is not None else None
        if isinstance(binding, ObjectOf):
            return self.project.objects.get(binding.name)
        if isinstance(binding, Ref) and owner is not None:
            return self._class_of(binding.name, owner)
        return None

    def _class_of(self, name: str, scope: Scope) -> ClassInfo | None:
        """The class `name` is; a function given members (`F.prototype.m = `, `this.x = ` in F) is a class
        written the ES5 way."""
        unit = self.project.units.get(name)
        if name not in self.project.classes and unit is not None and unit.kind == "function":
            self.project.classes[name] = ClassInfo(name=name, base=None, scope=scope)
        return self.project.classes.get(name)

    def _object_name(self, obj: Node, ctx: _Ctx) -> str:
        owner = ctx.scope.owner_of(text(obj))
        binding = owner.bindings.get(text(obj)) if owner is not None else None
        return binding.name if isinstance(binding, ObjectOf) else f"{ctx.prefix}.{text(obj)}"

    # --- modules --------------------------------------------------------------------------------------------

    def _imported(self, ctx: _Ctx, specifier: str, name: str) -> Binding:
        file = self.table.resolve(ctx.module.file, specifier)
        if file is not None:
            return Imported(self.table.names[file], name)
        if specifier.startswith((".", "/")):
            return Unknown(f"'{specifier}' is not a file under the analysed folder")
        return External(specifier if name in ("*", "default") else f"{specifier}.{name}")

    def _import(self, node: Node, ctx: _Ctx) -> None:
        specifier = string_value(field(node, "source"))
        for clause in node.named_children:
            if clause.type == "import_require_clause":
                spec = string_value(field(clause, "source"))
                ident = next((c for c in clause.named_children if c.type == "identifier"), None)
                if spec is not None and ident is not None:
                    ctx.scope.bind(text(ident), self._imported(ctx, spec, "*"))
            if clause.type != "import_clause" or specifier is None:
                continue
            for part in clause.named_children:
                if part.type == "identifier":
                    ctx.scope.bind(text(part), self._imported(ctx, specifier, "default"))
                elif part.type == "namespace_import" and part.named_children:
                    ctx.scope.bind(text(part.named_children[-1]), self._imported(ctx, specifier, "*"))
                elif part.type == "named_imports":
                    for item in part.named_children:
                        original, alias = field(item, "name"), field(item, "alias")
                        if item.type == "import_specifier" and original is not None:
                            imported = string_value(original) or text(original)
                            local = text(alias or original)
                            ctx.scope.bind(local, self._imported(ctx, specifier, imported))

    def _export(self, node: Node, ctx: _Ctx) -> None:
        module = ctx.module
        exports = module.exports
        specifier = string_value(field(node, "source"))
        declaration, value = field(node, "declaration"), field(node, "value")
        default = any(c.type == "default" for c in node.children)
        if declaration is not None:
            self._walk(declaration, ctx)
            for name in _declared_names(declaration):
                exports["default" if default else name] = ctx.scope.bindings.get(
                    name, Unknown(f"'{name}' is exported but not bound")
                )
            return
        if value is not None:
            exports["default"] = self._value(value, f"{module.name}.default", ctx)
            return
        if any(c.type == "=" for c in node.children) and node.named_children:
            module.whole = self._value(node.named_children[-1], f"{module.name}.exports", ctx)
            return
        for part in node.named_children:
            if part.type == "export_clause":
                for item in part.named_children:
                    original, alias = field(item, "name"), field(item, "alias")
                    if original is None:
                        continue
                    exported = text(alias or original)
                    if specifier is not None:
                        exports[exported] = self._imported(
                            ctx, specifier, string_value(original) or text(original)
                        )
                    else:
                        exports[exported] = Alias(original, module.scope)
            elif part.type == "namespace_export" and specifier is not None and part.named_children:
                exports[text(part.named_children[-1])] = self._imported(ctx, specifier, "*")
        if specifier is not None and not any(
            p.type in ("export_clause", "namespace_export") for p in node.named_children
        ):
            file = self.table.resolve(module.file, specifier)
            if file is not None:
                module.stars.append(self.table.names[file])


def _first_error(cursor: tree_sitter.TreeCursor) -> Node | None:
    """The first node tree-sitter could not parse, found without recursion (trees can be very deep)."""
    while True:
        node = cursor.node
        if node is None:
            return None
        if node.is_error or node.is_missing:
            return node
        if node.has_error and cursor.goto_first_child():
            continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                return None


def _free_suffix(units: dict[str, Unit], name: str) -> int:
    """A suffix that tells apart two units of one name in one scope (`f` defined in two branches)."""
    n = 2
    while f"{name}@{n}" in units:
        n += 1
    return n


def _unbound(ctx: _Ctx, name: str) -> bool:
    return ctx.scope.owner_of(name) is None


def _key(node: Node | None) -> str | None:
    if node is None or node.type == "computed_property_name":
        return None
    return string_value(node) or text(node)


def _declared_type(node: Node) -> Node | None:
    """The class a TypeScript annotation names (`x: Foo`, `x: Foo<T>`, `x: ns.Foo`), or None."""
    annotation = field(node, "type")
    if annotation is None or not annotation.named_children:
        return None
    declared = annotation.named_children[0]
    if declared.type == "generic_type":
        declared = field(declared, "name") or declared
    return declared if declared.type in ("type_identifier", "nested_type_identifier") else None


def _identifiers(node: Node | None) -> list[str]:
    if node is None:
        return []
    if node.type in ("identifier", "shorthand_property_identifier_pattern"):
        return [text(node)]
    if node.type in ("assignment_pattern", "object_assignment_pattern"):
        return _identifiers(field(node, "left"))
    if node.type == "pair_pattern":
        return _identifiers(field(node, "value"))
    return [name for child in node.named_children for name in _identifiers(child)]


def _declared_names(declaration: Node) -> list[str]:
    if declaration.type in ("lexical_declaration", "variable_declaration"):
        return [
            name
            for d in declaration.named_children
            if d.type == "variable_declarator"
            for name in _identifiers(field(d, "name"))
        ]
    name = field(declaration, "name")
    return [text(name)] if name is not None else []
