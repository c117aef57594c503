"""One feed record (a list of cell texts) to a ParsedRow plus RowErrors, the same for every format.

Fatal errors (sku, qty, cost, currency, or a broken record) drop the row. Non-fatal ones (a bad GTIN,
lead time, MSRP, weight; bytes that were not valid UTF-8) keep the row with that value left out and
still report the error, so the caller sees the problem without losing good stock and cost:
`is_fatal(error)` tells which kind an error is.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from dropbridge.domain import limits

from .gtin import normalize_gtin
from .mapping import CATALOG_FIELDS, ID_FIELDS, ColumnMapping, ResolvedColumns, normalize_header
from .types import ParsedRow, RowError
from .values import (
    check_currency,
    parse_amount,
    parse_lead_time,
    parse_quantity,
    parse_weight,
    to_minor,
)

MAX_SKU = limits.SKU_MAX
RAW_MAX = 200
# No database stores these alike (PostgreSQL refuses NUL in text; a lone surrogate has no UTF-8): the row is
# dropped, naming the column. A SKU holds no control character at all (like the API's and webhooks' SKUs).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x1f\x7f]")
# Catalog values and the sizes of the columns they go to (storage/tables.py: products, variants).
_CATALOG_SIZES = {"title": 500, "parent_sku": limits.SKU_MAX, "brand": 200, "mpn": 100, "category": 500,
                  "status": 50, "weight": 30, "weight_unit": 10}
NON_FATAL_FIELDS = frozenset({"gtin", "encoding", "lead_time_days", *ID_FIELDS, *CATALOG_FIELDS})


def is_fatal(error: RowError) -> bool:
    """True when the row of this error was dropped; False when the row still came through."""
    return error.field not in NON_FATAL_FIELDS


class RowConverter:
    """Converts records of one file; remembers SKUs to report duplicates (the first row wins)."""

    def __init__(
        self,
        mapping: ColumnMapping,
        resolved: ResolvedColumns,
        *,
        currency: str,
        comma_decimal: bool,
        raw_text: Callable[[list[str]], str],
        width: int | None = None,  # CSV: header width, to catch truncated or shifted rows
    ):
        self.mapping = mapping
        self.defaults = mapping.defaults
        self.transforms = mapping.transforms
        self.comma_decimal = comma_decimal
        self.raw_text = raw_text
        self.width = width
        self.default_currency = check_currency(mapping.defaults.get("currency", currency))
        self.zero_statuses = frozenset(normalize_header(s) for s in mapping.zero_stock_statuses)
        self.seen: dict[str, int] = {}
        self.dedupe = True  # False when the caller finds duplicate SKUs itself (the sync engine, in SQL)
        self.errors: list[RowError] = []
        self.bind(resolved)

    def bind(self, resolved: ResolvedColumns) -> None:
        self.resolved = resolved
        self.idx = resolved.index
        mapped = set(self.idx) | set(self.defaults)
        self.catalog_fields = [f for f in CATALOG_FIELDS if f in mapped]
        self.id_fields = [f for f in ID_FIELDS if f in mapped]
        self.last_required = max(self.idx.get(f, -1) for f in self.mapping.required)

    def fast_path_ok(self) -> bool:
        """True when only sku, qty and cost matter, so the CSV reader may convert inline."""
        return (
            set(self.idx) == {"sku", "qty", "cost"}
            and set(self.defaults) <= {"currency"}
            and not self.transforms
            and not self.comma_decimal
            and self.width is not None
        )

    def cell(self, cells: list[str], name: str) -> str:
        i = self.idx.get(name)
        s = cells[i].strip() if i is not None and i < len(cells) else ""
        if not s:
            s = self.defaults.get(name, "")
        t = self.transforms.get(name)
        if t is not None and s:
            s = t.apply_text(s).strip()
        return s

    def error(self, line: int, name: str | None, reason: str, cells: list[str]) -> None:
        self.errors.append(RowError(line, name, reason, self.raw_text(cells)[:RAW_MAX]))

    def convert(self, cells: list[str], line: int, trace: dict[str, Any] | None = None) -> ParsedRow | None:
        """The row, or None when it is dropped (its errors are in self.errors) or blank."""
        if not any(c.strip() for c in cells):
            return None
        errs: list[tuple[str | None, str]] = []
        vals: dict[str, Any] = {}
        if _UNSTORABLE.search("".join(cells)):
            at = next(i for i, c in enumerate(cells) if _UNSTORABLE.search(c))
            field = next((name for name, i in self.idx.items() if i == at), None)
            errs.append((field if field in ("sku", "qty", "cost", "currency") else None,
                         f"column {at + 1} holds a NUL character or an unpaired surrogate"))
            return self._finish(None, [_UNSTORABLE.sub("\ufffd", c) for c in cells], line, errs, vals, trace)
        width = self.width
        if width is not None:
            n = len(cells)
            if n < width and n <= self.last_required:
                errs.append((None, f"row has {n} fields but the header has {width} (truncated row?)"))
            elif n > width and any(c.strip() for c in cells[width:]):
                errs.append((None, f"row has {n} fields but the header has {width} "
                                   "(an unquoted delimiter inside a value?)"))
            if errs:
                return self._finish(None, cells, line, errs, vals, trace)

        sku = self.cell(cells, "sku")
        if not sku:
            errs.append(("sku", "blank sku"))
        elif len(sku) > MAX_SKU:
            errs.append(("sku", f"sku is longer than {MAX_SKU} characters"))
        elif _CONTROL.search(sku):
            errs.append(("sku", "sku holds control characters"))
        else:
            vals["sku"] = sku

        try:
            vals["qty"] = qty = parse_quantity(self.cell(cells, "qty"), self.comma_decimal)
        except ValueError as e:
            errs.append(("qty", str(e)))
            qty = None

        currency = self.default_currency
        from_column = False
        cur_text = self.cell(cells, "currency") if "currency" in self.idx else ""
        if cur_text:
            try:
                currency = check_currency(cur_text)
                from_column = True
            except ValueError as e:
                errs.append(("currency", str(e)))
        cost_minor = None
        cost_text = self.cell(cells, "cost")
        if not cost_text:
            if not self.mapping.stock_only:
                errs.append(("cost", "blank cost"))
        else:
            try:
                amount, code = parse_amount(cost_text, self.comma_decimal)
                if code is not None:
                    if from_column and code != currency:
                        raise ValueError(
                            f"{cost_text!r} is in {code} but the currency column says {currency}")
                    currency = code
                scale = self.transforms["cost"].scale if "cost" in self.transforms else None
                if scale is not None:
                    amount *= scale
                vals["cost"] = cost_minor = to_minor(amount, currency)
            except ValueError as e:
                errs.append(("cost", str(e)))
        vals["currency"] = currency

        lead = None
        if "lead_time_days" in self.idx or "lead_time_days" in self.defaults:
            try:
                vals["lead_time_days"] = lead = parse_lead_time(self.cell(cells, "lead_time_days"))
            except ValueError as e:
                errs.append(("lead_time_days", str(e)))

        gtin = None
        if self.id_fields:
            first_problem = None
            for name in self.id_fields:
                text = self.cell(cells, name)
                if not text:
                    continue
                try:
                    gtin = normalize_gtin(text)
                    break
                except ValueError as e:
                    first_problem = first_problem or f"{self.resolved.column(name) or name}: {e}"
            if gtin is None and first_problem:
                errs.append(("gtin", first_problem))
            vals["gtin"] = gtin

        catalog = self._catalog(cells, currency, errs, vals) if self.catalog_fields else None
        status = catalog["status"] if catalog is not None else None
        if qty and status and normalize_header(status) in self.zero_statuses:
            vals["qty"] = qty = 0

        row = None
        if not any(f not in NON_FATAL_FIELDS for f, _ in errs):
            first = self.seen.setdefault(sku, line) if self.dedupe else line
            if first != line:
                errs.append(("sku", f"duplicate sku, first seen on line {first}"))
            else:
                row = ParsedRow(line, sku, qty, cost_minor, currency, lead, gtin, catalog)
        return self._finish(row, cells, line, errs, vals, trace)

    def _finish(self, row, cells, line, errs, vals, trace):
        if errs:
            raw = self.raw_text(cells)[:RAW_MAX]
            self.errors.extend(RowError(line, f, reason, raw) for f, reason in errs)
        if trace is not None:
            self._trace(trace, cells, errs, vals, row)
        return row

    def _catalog(self, cells, currency, errs, vals) -> dict[str, Any]:
        get = self.cell
        options: dict[str, str] = {}
        for n in (1, 2, 3):
            value = get(cells, f"option{n}_value")
            if value:
                options[get(cells, f"option{n}_name") or f"option{n}"] = value
        images = split_images(get(cells, "image_url"))
        money: dict[str, int | None] = {}
        for name in ("msrp", "map"):
            money[name] = None
            text = get(cells, name)
            if text:
                try:
                    amount, code = parse_amount(text, self.comma_decimal)
                    if code is not None and code != currency:
                        raise ValueError(f"{text!r} is in {code}, the cost in {currency}")
                    t = self.transforms.get(name)
                    if t is not None and t.scale is not None:
                        amount *= t.scale
                    money[name] = vals[name] = to_minor(amount, currency)
                except ValueError as e:
                    errs.append((name, str(e)))
        weight = unit = None
        text = get(cells, "weight")
        if text:
            try:
                weight, unit = parse_weight(text, self.comma_decimal)
                t = self.transforms.get("weight")
                if t is not None and t.scale is not None:
                    weight = str(Decimal(weight) * t.scale)
                vals["weight"] = weight
            except ValueError as e:
                errs.append(("weight", str(e)))
        catalog = {
            "title": get(cells, "title") or None,
            "description": get(cells, "description") or None,
            "parent_sku": get(cells, "parent_sku") or None,
            "options": options,
            "images": images,
            "brand": get(cells, "brand") or None,
            "mpn": get(cells, "mpn") or None,
            "msrp_minor": money["msrp"],
            "map_minor": money["map"],
            "weight": weight,
            "weight_unit": unit,
            "category": get(cells, "category") or None,
            "status": get(cells, "status") or None,
        }
        for name, size in _CATALOG_SIZES.items():  # too long for its column: left out, like any bad value
            if catalog[name] is not None and len(catalog[name]) > size:
                errs.append(("weight" if name == "weight_unit" else name,
                             f"{name} is longer than {size} characters"))
                catalog[name] = None
        for name in ("title", "description", "parent_sku", "brand", "mpn", "category", "status"):
            vals[name] = catalog[name]
        vals["image_url"] = images
        for n in (1, 2, 3):
            for part in ("name", "value"):
                vals[f"option{n}_{part}"] = get(cells, f"option{n}_{part}") or None
        return catalog

    def _trace(self, trace, cells, errs, vals, row) -> None:
        by_field: dict[str | None, str] = {}
        for f, reason in errs:
            by_field.setdefault(f, reason)
        names = ["sku", "qty", "cost", "currency"]
        if "lead_time_days" in self.idx or "lead_time_days" in self.defaults:
            names.append("lead_time_days")
        if self.id_fields:
            names.append("gtin")
        names += self.catalog_fields
        for f in names:
            src = self.id_fields[0] if f == "gtin" and "gtin" not in self.idx else f
            i = self.idx.get(src)
            trace[f] = {
                "column": self.resolved.column(src),
                "raw": cells[i] if i is not None and i < len(cells) else None,
                "value": vals.get(f),
                "error": by_field.get(f),
            }


def split_images(text: str) -> list[str]:
    """"a.jpg|b.jpg" or "https://x/a.jpg, https://x/b.jpg" -> a list (a comma splits only before a URL)."""
    if not text:
        return []
    parts = text.split("|") if "|" in text else _URL_COMMA.split(text)
    return [p.strip() for p in parts if p.strip()]


_URL_COMMA = re.compile(r"\s*[,\n]\s*(?=https?://)|\n")
