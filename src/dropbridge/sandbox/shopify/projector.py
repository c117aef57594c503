"""Execution of a parsed query against emulated objects, counting the actual cost as it goes.

Objects are dicts with "__typename" (and "__implements" for interfaces); a callable value is a field
that takes arguments. Only requested fields are returned; a field the emulated type lacks is the
top-level error Shopify gives (storefronts.md §1.8: errors[] with HTTP 200).
"""

from __future__ import annotations

from typing import Any

from .graphql import Field, GraphQLError, InlineFragment, resolve_value

_UNCOUNTED_TYPES = {"PageInfo", "__Edge"}


class _Projector:
    def __init__(self, variables: dict[str, Any]):
        self.variables = variables
        self.actual = 0

    def project(self, obj: dict[str, Any], selections: list, path: list) -> dict[str, Any]:
        typename = obj.get("__typename", "Object")
        if typename == "__Connection":
            self.actual += 2
        elif typename not in _UNCOUNTED_TYPES:
            self.actual += 1
        out: dict[str, Any] = {}
        for sel in selections:
            if isinstance(sel, InlineFragment):
                if sel.type_condition is None or sel.type_condition == typename or (
                    sel.type_condition in obj.get("__implements", ())
                ):
                    out.update(self.project(obj, sel.selections, path))
                continue
            out[sel.key] = self.field(obj, sel, path + [sel.key])
        return out

    def field(self, obj: dict[str, Any], sel: Field, path: list) -> Any:
        if sel.name == "__typename":
            return obj.get("__typename")
        if sel.name not in obj:
            shown = obj.get("__typename", "Object")
            if shown == "__Connection":
                shown = obj.get("__of", "Connection")
            raise GraphQLError(f"Field '{sel.name}' doesn't exist on type '{shown}'", "undefinedField", path)
        value = obj[sel.name]
        if callable(value):
            value = value(resolve_value(sel.args, self.variables))
        return self.shape(value, sel, path)

    def shape(self, value: Any, sel: Field, path: list) -> Any:
        if value is None:
            return None
        if isinstance(value, list):
            return [self.shape(v, sel, path + [i]) for i, v in enumerate(value)]
        if isinstance(value, dict):
            if not sel.selections:
                raise GraphQLError(f"Field '{sel.name}' of type object must have a selection of subfields",
                                   "selectionMismatch", path)
            return self.project(value, sel.selections, path)
        if sel.selections:
            raise GraphQLError(f"Selections can't be made on scalars (field '{sel.name}')",
                               "selectionMismatch", path)
        return value

