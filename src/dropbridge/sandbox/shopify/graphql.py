"""GraphQL for the Shopify emulator: lexer, parser and variable resolution.

A real parser of the query language as clients send it (storefronts.md §1.1: every Admin call is one
GraphQL document): operations, variables with defaults, aliases, arguments of every literal kind, lists,
input objects, directives, inline fragments and named fragments (`fragment F on T {...}` spread as
`...F`; unknown, unused and cyclic fragments are the errors GraphQL defines). Named fragments are
expanded into inline fragments at parse time, so cost and execution see one shape. No introspection.
"""

from __future__ import annotations

import json
import re
from typing import Any


class GraphQLError(Exception):
    """A top-level GraphQL error (HTTP 200, `errors[]`)."""

    def __init__(self, message: str, code: str | None = None, path: list | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.path = path

    def as_json(self) -> dict[str, Any]:
        err: dict[str, Any] = {"message": self.message}
        if self.path:
            err["path"] = self.path
        if self.code:
            err["extensions"] = {"code": self.code}
        return err


_TOKEN_RE = re.compile(
    r"""
    (?P<ws>[\s,\ufeff]+|\#[^\n]*)
  | (?P<spread>\.\.\.)
  | (?P<punct>[!$&()\[\]{}:=@|])
  | (?P<block>\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\")
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<number>-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)
  | (?P<name>[_A-Za-z][_0-9A-Za-z]*)
    """,
    re.VERBOSE,
)


def _lex(source: str) -> list[tuple[str, str, int]]:
    tokens: list[tuple[str, str, int]] = []
    pos = 0
    while pos < len(source):
        m = _TOKEN_RE.match(source, pos)
        if not m:
            raise GraphQLError(f"Parse error on {source[pos:pos + 10]!r} at offset {pos}", "PARSE_ERROR")
        kind = m.lastgroup or ""
        if kind != "ws":
            tokens.append((kind, m.group(), pos))
        pos = m.end()
    tokens.append(("eof", "", pos))
    return tokens


class Var:
    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name


class Enum(str):
    """An enum literal in a query (kept distinct from strings only for clarity)."""


class Field:
    __slots__ = ("alias", "name", "args", "directives", "selections")

    def __init__(self, alias, name, args, directives, selections):
        self.alias: str | None = alias
        self.name: str = name
        self.args: dict[str, Any] = args
        self.directives: dict[str, dict[str, Any]] = directives
        self.selections: list | None = selections

    @property
    def key(self) -> str:
        return self.alias or self.name


class InlineFragment:
    __slots__ = ("type_condition", "selections")

    def __init__(self, type_condition: str | None, selections: list):
        self.type_condition = type_condition
        self.selections = selections


class FragmentSpread:
    __slots__ = ("name", "directives")

    def __init__(self, name: str, directives: dict[str, dict[str, Any]]):
        self.name = name
        self.directives = directives


class FragmentDefinition:
    __slots__ = ("name", "type_condition", "selections")

    def __init__(self, name: str, type_condition: str, selections: list):
        self.name = name
        self.type_condition = type_condition
        self.selections = selections


class Operation:
    def __init__(self, kind: str, name: str | None, var_defaults: dict[str, Any], selections: list):
        self.kind = kind
        self.name = name
        self.var_defaults = var_defaults
        self.selections = selections


class _Parser:
    def __init__(self, source: str):
        self.tokens = _lex(source)
        self.i = 0

    def peek(self, value: str | None = None, kind: str | None = None) -> bool:
        k, v, _ = self.tokens[self.i]
        return (value is None or v == value) and (kind is None or k == kind)

    def take(self, value: str | None = None, kind: str | None = None) -> str:
        k, v, pos = self.tokens[self.i]
        if (value is not None and v != value) or (kind is not None and k != kind):
            want = value or kind
            raise GraphQLError(f"Parse error on {v or 'end of query'!r} at offset {pos}: expected {want}",
                               "PARSE_ERROR")
        self.i += 1
        return v

    def document(self) -> tuple[list[Operation], dict[str, FragmentDefinition]]:
        ops = []
        fragments: dict[str, FragmentDefinition] = {}
        while not self.peek(kind="eof"):
            if self.peek("{"):
                ops.append(Operation("query", None, {}, self.selection_set()))
                continue
            kind = self.take(kind="name")
            if kind == "fragment":
                name = self.take(kind="name")
                if name == "on":
                    raise GraphQLError("Parse error on \"on\": a fragment needs a name", "PARSE_ERROR")
                self.take("on")
                condition = self.take(kind="name")
                self.directives()
                if name in fragments:
                    raise GraphQLError(f'Fragment name "{name}" must be unique', "fragmentNamesAreUnique")
                fragments[name] = FragmentDefinition(name, condition, self.selection_set())
                continue
            if kind not in ("query", "mutation", "subscription"):
                raise GraphQLError(f"Parse error on {kind!r}", "PARSE_ERROR")
            name = self.take(kind="name") if self.peek(kind="name") else None
            defaults: dict[str, Any] = {}
            if self.peek("("):
                self.take("(")
                while not self.peek(")"):
                    self.take("$")
                    var = self.take(kind="name")
                    self.take(":")
                    self.type_ref()
                    if self.peek("="):
                        self.take("=")
                        defaults[var] = self.value(const=True)
                    self.directives()
                self.take(")")
            self.directives()
            ops.append(Operation(kind, name, defaults, self.selection_set()))
        return ops, fragments

    def type_ref(self) -> None:
        if self.peek("["):
            self.take("[")
            self.type_ref()
            self.take("]")
        else:
            self.take(kind="name")
        if self.peek("!"):
            self.take("!")

    def selection_set(self) -> list:
        self.take("{")
        out: list = []
        while not self.peek("}"):
            if self.peek(kind="spread"):
                self.take(kind="spread")
                cond = None
                if self.peek("on"):
                    self.take("on")
                    cond = self.take(kind="name")
                elif self.peek(kind="name"):
                    out.append(FragmentSpread(self.take(kind="name"), self.directives()))
                    continue
                self.directives()
                out.append(InlineFragment(cond, self.selection_set()))
                continue
            name = self.take(kind="name")
            alias = None
            if self.peek(":"):
                self.take(":")
                alias, name = name, self.take(kind="name")
            args = self.arguments()
            directives = self.directives()
            sels = self.selection_set() if self.peek("{") else None
            out.append(Field(alias, name, args, directives, sels))
        self.take("}")
        if not out:
            raise GraphQLError("Parse error: empty selection set", "PARSE_ERROR")
        return out

    def arguments(self) -> dict[str, Any]:
        args: dict[str, Any] = {}
        if self.peek("("):
            self.take("(")
            while not self.peek(")"):
                name = self.take(kind="name")
                self.take(":")
                args[name] = self.value()
            self.take(")")
        return args

    def directives(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        while self.peek("@"):
            self.take("@")
            name = self.take(kind="name")
            out[name] = self.arguments()
        return out

    def value(self, const: bool = False) -> Any:
        k, v, _ = self.tokens[self.i]
        if v == "$" and not const:
            self.take("$")
            return Var(self.take(kind="name"))
        if v == "[":
            self.take("[")
            items = []
            while not self.peek("]"):
                items.append(self.value(const))
            self.take("]")
            return items
        if v == "{":
            self.take("{")
            obj = {}
            while not self.peek("}"):
                key = self.take(kind="name")
                self.take(":")
                obj[key] = self.value(const)
            self.take("}")
            return obj
        self.i += 1
        if k == "string":
            return json.loads(v)
        if k == "block":
            return v[3:-3].replace('\\"""', '"""').strip("\n")
        if k == "number":
            return float(v) if any(c in v for c in ".eE") else int(v)
        if k == "name":
            if v == "true":
                return True
            if v == "false":
                return False
            if v == "null":
                return None
            return Enum(v)
        raise GraphQLError(f"Parse error on {v!r}", "PARSE_ERROR")


def parse(source: str, operation_name: str | None = None) -> Operation:
    ops, fragments = _Parser(source).document()
    if not ops:
        raise GraphQLError("No operations in the document", "PARSE_ERROR")
    used: set[str] = set()
    for op in ops:
        op.selections = _expand(op.selections, fragments, used, ())
    unused = [name for name in fragments if name not in used]
    if unused:
        raise GraphQLError(f"Fragment {unused[0]} was defined, but not used", "useAndDefineFragment")
    if operation_name:
        for op in ops:
            if op.name == operation_name:
                return op
        raise GraphQLError(f"No operation named {operation_name!r}", "PARSE_ERROR")
    if len(ops) > 1:
        raise GraphQLError("An operation name is required when the document has several", "PARSE_ERROR")
    return ops[0]


def _expand(selections: list, fragments: dict[str, FragmentDefinition], used: set[str],
            stack: tuple[str, ...]) -> list:
    """Named fragment spreads become inline fragments on the fragment's type condition."""
    out: list = []
    for sel in selections:
        if isinstance(sel, FragmentSpread):
            fragment = fragments.get(sel.name)
            if fragment is None:
                raise GraphQLError(f"Fragment {sel.name} was used, but not defined", "useAndDefineFragment")
            if sel.name in stack:
                raise GraphQLError(f"Fragment {sel.name} contains an infinite loop", "fragmentSpreadsAreFinite")
            used.add(sel.name)
            inner = _expand(fragment.selections, fragments, used, stack + (sel.name,))
            out.append(InlineFragment(fragment.type_condition, inner))
        elif isinstance(sel, InlineFragment):
            out.append(InlineFragment(sel.type_condition, _expand(sel.selections, fragments, used, stack)))
        elif sel.selections:
            out.append(Field(sel.alias, sel.name, sel.args, sel.directives,
                             _expand(sel.selections, fragments, used, stack)))
        else:
            out.append(sel)
    return out


def resolve_value(value: Any, variables: dict[str, Any]) -> Any:
    if isinstance(value, Var):
        return variables.get(value.name)
    if isinstance(value, list):
        return [resolve_value(v, variables) for v in value]
    if isinstance(value, dict):
        # An input-object field given as an unset variable is absent, not null.
        return {
            k: resolve_value(v, variables)
            for k, v in value.items()
            if not (isinstance(v, Var) and v.name not in variables)
        }
    return value

