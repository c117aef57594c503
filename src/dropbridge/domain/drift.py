"""Mapping drift: a supplier reusing a SKU for another item.

An offer remembers what its supplier said the SKU is: the GTIN, the parent SKU (the product it belongs to)
and its option values. A later feed or catalog pull that states any of these differently describes another
item under the same SKU, and the offer is quarantined until a person confirms or remaps it. A title is not
part of the identity: suppliers edit titles all the time. Only what both sides state is compared: a feed
that stops carrying GTINs, or starts to, is not drift.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from .catalog import gtin_key

FIELDS = ("gtin", "parent_sku", "options")
LABELS = {"gtin": "GTIN", "parent_sku": "parent SKU", "options": "options"}


class Identity(NamedTuple):
    gtin: str | None = None  # GTIN-14
    parent_sku: str | None = None
    options: str | None = None  # option_signature()


def option_signature(options: Mapping[str, Any] | None) -> str | None:
    """Options as one comparable text, "color=red; size=m": names and values case-folded and their spaces
    collapsed, names sorted. None when the row states no option."""
    pairs = []
    for name, value in (options or {}).items():
        n, v = " ".join(str(name).split()).casefold(), " ".join(str(value or "").split()).casefold()
        if n and v:
            pairs.append(f"{n}={v}")
    return "; ".join(sorted(pairs)) or None


def gtin14(gtin: str | None, *, verified: bool = False) -> str | None:
    """The GTIN-14 of a GTIN; `verified`: it already is digits with a checked check digit (as feed rows carry
    it), so padding is enough (a tenth of the time, which a million-row feed notices)."""
    if not gtin:
        return None
    return gtin.zfill(14) if verified and len(gtin) <= 14 else gtin_key(gtin)


def row_identity(gtin: str | None, catalog: Mapping[str, Any] | None, *, verified: bool = False) -> Identity:
    """What a feed row states about the item: its GTIN (as GTIN-14) and, from its catalog data, the parent
    SKU and the option values."""
    parent = options = None
    if catalog:
        parent = str(catalog.get("parent_sku") or "").strip() or None
        options = option_signature(catalog.get("options"))
    return Identity(gtin14(gtin, verified=verified), parent, options)


def changes(mapped: Identity, seen: Identity) -> dict[str, list[str]]:
    """{field: [mapped value, value now stated]} for each identity field both state differently."""
    return {f: [old, new] for f, old, new in zip(FIELDS, mapped, seen, strict=True)
            if old is not None and new is not None and old != new}


def describe(change: Mapping[str, list[str]]) -> str:
    """"GTIN 00012345678905 -> 00098765432109; options color=red -> color=blue"."""
    return "; ".join(f"{LABELS.get(f, f)} {old} -> {new}" for f, (old, new) in change.items())


def mapped_identity(current: Identity, drift: Mapping[str, list[str]] | None) -> Identity:
    """The identity an offer was mapped as: its stored values, except where a quarantine recorded the value
    it had before the supplier changed it (the stored value is then what the supplier says now)."""
    drift = drift or {}
    return Identity(*(drift[f][0] if f in drift else value for f, value in zip(FIELDS, current, strict=True)))
