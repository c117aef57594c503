"""Catalog rules, pure: grouping supplier rows into products with options, category mapping, GTIN
matching and the choice of which variant a supplier row describes. Standard library only."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

# ---- rows and groups -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CatalogRow:
    """One supplier row's catalog data, already parsed (amounts in minor units, GTIN as digits)."""

    line: int
    sku: str
    parent_sku: str | None = None
    gtin: str | None = None
    title: str | None = None
    description: str | None = None
    options: Mapping[str, str] = field(default_factory=dict)
    images: Sequence[str] = ()
    brand: str | None = None
    mpn: str | None = None
    category: str | None = None
    status: str | None = None
    msrp_minor: int | None = None
    map_minor: int | None = None
    currency: str | None = None
    weight: str | None = None
    weight_unit: str | None = None


@dataclass(slots=True)
class ProductGroup:
    """The rows of one product: keyed by the parent SKU, or by the row's own SKU when it has none.

    `parent_row` is a row whose SKU is the group's key and that no other row names as a variant of
    something else: exports such as WooCommerce's carry the product itself as a row without options."""

    key: str
    variants: list[CatalogRow]
    parent_row: CatalogRow | None = None
    option_names: list[str] = field(default_factory=list)

    @property
    def rows(self) -> list[CatalogRow]:
        return ([self.parent_row] if self.parent_row else []) + self.variants

    def first(self, attr: str) -> Any:
        """The first non-empty value of `attr`, the parent row first, then variants in line order."""
        for row in self.rows:
            value = getattr(row, attr)
            if value:
                return value
        return None


@dataclass(frozen=True, slots=True)
class GroupIssue:
    line: int
    field: str
    reason: str


def group_rows(rows: Iterable[CatalogRow]) -> tuple[list[ProductGroup], list[GroupIssue]]:
    """Group rows by parent SKU, in order of first appearance; unify option names and flag clashes.

    Option names are matched case-insensitively and spelled as first seen ("size" joins "Size"). Two
    variants of one product with the same options are reported: a store could not tell them apart."""
    groups: dict[str, ProductGroup] = {}
    standalone: dict[str, CatalogRow] = {}
    for row in rows:
        if row.parent_sku and row.parent_sku != row.sku:
            groups.setdefault(row.parent_sku, ProductGroup(row.parent_sku, [])).variants.append(row)
        else:
            standalone[row.sku] = row
            groups.setdefault(row.sku, ProductGroup(row.sku, []))
    issues: list[GroupIssue] = []
    for sku, row in standalone.items():
        group = groups[sku]
        if group.variants and not row.options:
            group.parent_row = row  # the product's own row: content, not a variant
        else:
            group.variants.append(row)
    out = [g for g in groups.values() if g.variants or g.parent_row]
    for group in out:
        group.variants.sort(key=lambda r: r.line)
        _unify_options(group, issues)
    issues.sort(key=lambda i: i.line)
    return out, issues


def _unify_options(group: ProductGroup, issues: list[GroupIssue]) -> None:
    spelling: dict[str, str] = {}
    for row in group.variants:
        for name in row.options:
            spelling.setdefault(name.strip().casefold(), name.strip())
    group.option_names = list(spelling.values())
    seen: dict[tuple, int] = {}
    for i, row in enumerate(group.variants):
        options = {spelling[n.strip().casefold()]: v.strip() for n, v in row.options.items() if v.strip()}
        if options != dict(row.options):
            group.variants[i] = row = replace(row, options=options)
        if len(group.variants) < 2:
            continue
        key = tuple(options.get(n, "").casefold() for n in group.option_names)
        first = seen.setdefault(key, row.line)
        if first != row.line:
            issues.append(GroupIssue(row.line, "options", f"same options as line {first} in product {group.key}"))


def variant_title(row: CatalogRow, option_names: Sequence[str]) -> str:
    """"M / Black" for a variant with options, else the row's own title."""
    values = [row.options[n] for n in option_names if row.options.get(n)]
    return " / ".join(values) if values else (row.title or "")


def image_plan(group: ProductGroup) -> list[tuple[str, str | None, int]]:
    """(url, variant SKU or None, first line) for each distinct image URL of a product, in order.

    An image every variant lists (or the parent row lists) belongs to the product; one that only some
    variants list belongs to the first of them (a colour's photo)."""
    order: dict[str, int] = {}
    listed_by: dict[str, list[CatalogRow]] = {}
    for row in group.rows:
        for url in row.images:
            order.setdefault(url, row.line)
            listed_by.setdefault(url, []).append(row)
    everyone = {r.sku for r in group.variants}
    plan = []
    for url, line in order.items():
        rows = listed_by[url]
        shared = group.parent_row in rows or {r.sku for r in rows} >= everyone or len(everyone) == 1
        plan.append((url, None if shared else rows[0].sku, line))
    return plan


# ---- category rules ----------------------------------------------------------------------------------

_PATH_SEPARATORS = re.compile(r"\s*(?:>|/|\||›|»)\s*")


@dataclass(frozen=True, slots=True)
class CategoryRule:
    """`path`: the supplier's category path or any path below it (segment-wise, case-insensitive).
    `keyword`: a whole word or phrase in the supplier category or the product title."""

    category: str
    path: tuple[str, ...] = ()
    keyword: str | None = None


@dataclass(frozen=True, slots=True)
class CategoryMatch:
    category: str
    rule_index: int  # which rule decided, for the explanation
    reason: str


def split_path(path: str) -> tuple[str, ...]:
    """"Apparel > Shirts / T-Shirts" -> ("apparel", "shirts", "t-shirts")."""
    return tuple(p.casefold() for p in _PATH_SEPARATORS.split(path.strip()) if p)


def parse_category_rules(raw: Any) -> list[CategoryRule]:
    """Rules from a supplier's config: [{"path": "Apparel > Shirts", "category": "Tops"},
    {"keyword": "hoodie", "category": "Hoodies"}, ...]. Raises ValueError naming the bad rule."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ValueError("category_rules must be a list of {path|keyword, category}")
    rules = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or not str(item.get("category") or "").strip():
            raise ValueError(f"category rule {i + 1}: needs a category")
        has_path, has_kw = bool(str(item.get("path") or "").strip()), bool(str(item.get("keyword") or "").strip())
        if has_path == has_kw:
            raise ValueError(f"category rule {i + 1}: give exactly one of path or keyword")
        category = str(item["category"]).strip()
        if has_path:
            rules.append(CategoryRule(category, path=split_path(str(item["path"]))))
        else:
            rules.append(CategoryRule(category, keyword=str(item["keyword"]).strip().casefold()))
    return rules


def map_category(rules: Sequence[CategoryRule], supplier_category: str | None,
                 title: str | None = None) -> CategoryMatch | None:
    """Our category for a product: the first rule that matches wins; None when none does."""
    path = split_path(supplier_category) if supplier_category else ()
    haystack = " ".join(filter(None, [supplier_category, title])).casefold()
    for i, rule in enumerate(rules):
        if rule.path:
            if path[: len(rule.path)] == rule.path:
                return CategoryMatch(rule.category, i, f"supplier category {supplier_category!r} is under "
                                     f"{' > '.join(rule.path)!r}")
        elif rule.keyword and re.search(rf"(?<!\w){re.escape(rule.keyword)}(?!\w)", haystack):
            return CategoryMatch(rule.category, i, f"keyword {rule.keyword!r} found")
    return None


# ---- GTIN matching -------------------------------------------------------------------------------------


def _check_digit(body: str) -> int:
    total = sum((ord(ch) - 48) * (3 if i % 2 == 0 else 1) for i, ch in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def gtin_key(value: str | None) -> str | None:
    """The GTIN-14 form of a UPC-A / EAN-13 / GTIN-8 / GTIN-14 (digits, check digit verified), which is
    what makes two suppliers' rows for one item compare equal; None when it is not a valid GTIN."""
    if not value:
        return None
    digits = value.strip()
    if not (digits.isascii() and digits.isdigit()) or not 8 <= len(digits.lstrip("0") or "0") <= 14:
        return None
    padded = digits.lstrip("0").zfill(14) if len(digits) > 14 else digits.zfill(14)
    if padded == "0" * 14 or _check_digit(padded[:-1]) != ord(padded[-1]) - 48:
        return None
    return padded


def gtin_forms(key: str) -> list[str]:
    """Every spelling of a GTIN-14 that a variant might have been stored under (14, 13, 12, 8 digits),
    so a match also finds variants written before GTINs were normalised."""
    forms = [key]
    for n in (13, 12, 8):
        if key[: 14 - n] == "0" * (14 - n):
            forms.append(key[14 - n:])
    return forms


@dataclass(frozen=True, slots=True)
class VariantChoice:
    """Which variant a supplier row describes. kind: linked (seen from this supplier before), gtin (the
    same item from another source), sku (an existing variant with this SKU), new, or conflict."""

    kind: str
    variant_id: int | None = None
    reason: str = ""


def choose_variant(row_gtin: str | None, linked_id: int | None,
                   gtin_matches: Sequence[int], sku_match: tuple[int, str | None] | None) -> VariantChoice:
    """Decide the variant for a row. `gtin_matches` are ids of variants whose GTIN equals the row's (the
    lowest id is the canonical one); `sku_match` is (id, that variant's GTIN key) for a variant with the
    row's SKU. A SKU match whose GTIN differs is another item, never merged."""
    if linked_id is not None:
        return VariantChoice("linked", linked_id)
    if row_gtin and gtin_matches:
        return VariantChoice("gtin", min(gtin_matches), f"GTIN {row_gtin}")
    if sku_match is not None:
        vid, existing_gtin = sku_match
        if row_gtin and existing_gtin and existing_gtin != row_gtin:
            return VariantChoice("conflict", None, f"SKU already names a variant with GTIN {existing_gtin}, "
                                 f"this row has GTIN {row_gtin}")
        return VariantChoice("sku", vid)
    return VariantChoice("new")
