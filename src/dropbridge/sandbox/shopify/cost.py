"""Query cost, computed from the document before it runs (storefronts.md §1.6: the bucket must hold
`requestedQueryCost` first; the difference from `actualQueryCost` is refunded afterwards).

An approximation of https://shopify.dev/docs/api/usage/rate-limits#cost-calculation: a scalar costs 0,
an object 1, a connection 2 + first x (its node's cost, the node itself 1), `pageInfo` 0; `nodes(ids)`
costs per id; every mutation costs a flat 10.
"""

from __future__ import annotations

from typing import Any

from .graphql import Field, InlineFragment, Operation, resolve_value

MUTATION_COST = 10
_STRUCTURAL = {"pageInfo"}


def _page_size(field: Field, variables: dict[str, Any]) -> int | None:
    for name in ("first", "last"):
        if name in field.args:
            value = resolve_value(field.args[name], variables)
            if isinstance(value, int):
                return value
    return None


def _node_cost(selections: list, variables: dict[str, Any]) -> int:
    """Cost of one node of a connection, from the connection's own selection."""
    cost = 0
    for sel in selections:
        if isinstance(sel, InlineFragment):
            cost += _node_cost(sel.selections, variables)
        elif sel.name == "nodes" and sel.selections:
            cost += 1 + _selection_cost(sel.selections, variables)
        elif sel.name == "edges" and sel.selections:
            for sub in sel.selections:
                if isinstance(sub, Field) and sub.name == "node" and sub.selections:
                    cost += 1 + _selection_cost(sub.selections, variables)
    return cost


def _selection_cost(selections: list, variables: dict[str, Any]) -> int:
    cost = 0
    for sel in selections:
        if isinstance(sel, InlineFragment):
            cost += _selection_cost(sel.selections, variables)
            continue
        if not sel.selections or sel.name in _STRUCTURAL:
            continue
        size = _page_size(sel, variables)
        if size is not None:
            cost += 2 + size * _node_cost(sel.selections, variables)
        elif sel.name == "nodes" and "ids" in sel.args:
            ids = resolve_value(sel.args["ids"], variables) or []
            cost += len(ids) * (1 + _selection_cost(sel.selections, variables))
        else:
            cost += 1 + _selection_cost(sel.selections, variables)
    return cost


def requested_cost(op: Operation, variables: dict[str, Any]) -> int:
    if op.kind == "mutation":
        return MUTATION_COST * sum(1 for s in op.selections if isinstance(s, Field))
    return _selection_cost(op.selections, variables)

