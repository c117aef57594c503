"""Which feed column feeds which of our fields: header aliases, defaults and simple transforms.

A mapping is plain data so it can live in a supplier's JSON config:

    {"preset": "generic",                       # optional: start from a preset, then override
     "fields": {"sku": ["Item #", "sku"], "qty": ["On Hand"], "cost": [3]},   # ints: 1-based positions
     "defaults": {"currency": "EUR", "lead_time_days": "3"},
     "transforms": {"cost": {"scale": "0.01"}, "sku": {"strip_prefix": "ACME-"},
                    "qty": {"value_map": {"in stock": "10", "out of stock": "0"}}},
     "stock_only": false,
     "zero_stock_statuses": ["discontinued", "out of stock"]}

Aliases match headers case-, spacing- and punctuation-insensitively ("Qty_Avail" == "qty avail" ==
"QTYAVAIL"); when several aliases of one field are present, the earliest alias in the list wins.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from .types import FeedFormatError

OFFER_FIELDS = ("sku", "qty", "cost", "currency", "lead_time_days")
ID_FIELDS = ("gtin", "upc", "ean")
OPTION_FIELDS = tuple(f"option{n}_{part}" for n in (1, 2, 3) for part in ("name", "value"))
CATALOG_FIELDS = (
    "title", "description", "parent_sku", *OPTION_FIELDS, "image_url", "brand", "mpn", "msrp", "map",
    "weight", "status", "category",
)
FIELDS = OFFER_FIELDS + ID_FIELDS + CATALOG_FIELDS

# Stock is forced to 0 for these statuses: selling a discontinued item is an oversell waiting to happen.
DEFAULT_ZERO_STOCK_STATUSES = ("discontinued", "out of stock", "inactive", "deleted")


def normalize_header(text: str) -> str:
    """"Retailer's Cost" -> "retailerscost", "SKU**" -> "sku", "qty_avail" -> "qtyavail"."""
    return "".join(ch for ch in text.casefold() if ch.isalnum())


@dataclass(frozen=True)
class Transform:
    strip_prefix: str | None = None
    strip_suffix: str | None = None
    scale: Decimal | None = None  # multiply a numeric value, e.g. 0.01 for costs in cents
    value_map: dict[str, str] = field(default_factory=dict)  # keys are normalize_header()d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], field_name: str) -> Transform:
        unknown = set(data) - {"strip_prefix", "strip_suffix", "scale", "value_map"}
        if unknown:
            raise ValueError(f"unknown transform for {field_name}: {sorted(unknown)}")
        scale = data.get("scale")
        if scale is not None:
            try:
                scale = Decimal(str(scale))
            except InvalidOperation:
                raise ValueError(f"transform scale for {field_name} is not a number: {scale!r}") from None
        vmap = {normalize_header(str(k)): str(v) for k, v in (data.get("value_map") or {}).items()}
        return cls(data.get("strip_prefix"), data.get("strip_suffix"), scale, vmap)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.strip_prefix is not None:
            out["strip_prefix"] = self.strip_prefix
        if self.strip_suffix is not None:
            out["strip_suffix"] = self.strip_suffix
        if self.scale is not None:
            out["scale"] = str(self.scale)
        if self.value_map:
            out["value_map"] = dict(self.value_map)
        return out

    def apply_text(self, text: str) -> str:
        if self.value_map:
            text = self.value_map.get(normalize_header(text), text)
        if self.strip_prefix and text.startswith(self.strip_prefix):
            text = text[len(self.strip_prefix):]
        if self.strip_suffix and text.endswith(self.strip_suffix):
            text = text[: -len(self.strip_suffix)]
        return text


def _check_shapes(data: Mapping[str, Any]) -> None:
    """The JSON shapes a mapping's keys must have, checked before use so a wrong one is named, not a crash."""
    for key in ("fields", "defaults", "transforms"):
        if key in data and not isinstance(data[key], Mapping):
            raise ValueError(f"mapping.{key} must be a JSON object, not {type(data[key]).__name__}")
    for name, aliases in (data.get("fields") or {}).items():
        items = aliases if isinstance(aliases, list) else [aliases]
        if not items or not all(isinstance(a, str) or (isinstance(a, int) and not isinstance(a, bool) and a >= 1)
                                for a in items):
            raise ValueError(f"mapping.fields.{name} must be a column name, a 1-based column number or a list "
                             f"of them, not {aliases!r}")
    for name, value in (data.get("defaults") or {}).items():
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ValueError(f"mapping.defaults.{name} must be a text or a number, not {value!r}")
    for name, transform in (data.get("transforms") or {}).items():
        if not isinstance(transform, Mapping):
            raise ValueError(f"mapping.transforms.{name} must be a JSON object, not {type(transform).__name__}")
        if "value_map" in transform and not isinstance(transform["value_map"], Mapping):
            raise ValueError(f"mapping.transforms.{name}.value_map must be a JSON object")
        for key in ("strip_prefix", "strip_suffix"):
            if transform.get(key) is not None and not isinstance(transform[key], str):
                raise ValueError(f"mapping.transforms.{name}.{key} must be a text")
    if "stock_only" in data and not isinstance(data["stock_only"], bool):
        raise ValueError(f"mapping.stock_only must be true or false, not {data['stock_only']!r}")
    zero = data.get("zero_stock_statuses")
    if zero is not None and (not isinstance(zero, list) or not all(isinstance(z, str) for z in zero)):
        raise ValueError(f"mapping.zero_stock_statuses must be a list of texts, not {zero!r}")


@dataclass(frozen=True)
class ResolvedColumns:
    """A mapping applied to one file's headers: field -> 0-based column index."""

    index: dict[str, int]
    headers: list[str] | None

    def column(self, field_name: str) -> str | None:
        i = self.index.get(field_name)
        if i is None:
            return None
        if self.headers is not None and i < len(self.headers):
            return self.headers[i]
        return f"#{i + 1}"


@dataclass(frozen=True)
class ColumnMapping:
    fields: dict[str, tuple[str | int, ...]]
    defaults: dict[str, str] = field(default_factory=dict)
    transforms: dict[str, Transform] = field(default_factory=dict)
    stock_only: bool = False
    zero_stock_statuses: tuple[str, ...] = DEFAULT_ZERO_STOCK_STATUSES

    def __post_init__(self):
        for name in (*self.fields, *self.defaults, *self.transforms):
            if name not in FIELDS:
                raise ValueError(f"unknown field {name!r}; known fields: {', '.join(FIELDS)}")

    @property
    def required(self) -> tuple[str, ...]:
        return ("sku", "qty") if self.stock_only else ("sku", "qty", "cost")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnMapping:
        """Raises ValueError naming the key (mapping.fields.sku, say) for any key or shape it cannot use."""
        if not isinstance(data, Mapping):
            raise ValueError(f"mapping must be a JSON object or a preset name, not {type(data).__name__}")
        data = dict(data)
        base: dict[str, Any] = {}
        preset = data.pop("preset", None)
        if preset is not None:
            from .presets import PRESETS

            if not isinstance(preset, str) or preset not in PRESETS:
                raise ValueError(f"unknown mapping preset {preset!r}; known: {', '.join(PRESETS)}")
            base = PRESETS[preset]
        unknown = set(data) - {"fields", "defaults", "transforms", "stock_only", "zero_stock_statuses"}
        if unknown:
            raise ValueError(f"unknown mapping keys: {sorted(unknown)}")
        _check_shapes(data)
        fields = {**base.get("fields", {}), **data.get("fields", {})}
        defaults = {**base.get("defaults", {}), **data.get("defaults", {})}
        transforms = {**base.get("transforms", {}), **data.get("transforms", {})}
        stock_only = data.get("stock_only", base.get("stock_only", False))
        zero = data.get("zero_stock_statuses", base.get("zero_stock_statuses", DEFAULT_ZERO_STOCK_STATUSES))
        return cls(
            fields={k: tuple([v] if isinstance(v, str | int) else v) for k, v in fields.items()},
            defaults={k: str(v) for k, v in defaults.items()},
            transforms={k: Transform.from_dict(v, k) for k, v in transforms.items()},
            stock_only=bool(stock_only),
            zero_stock_statuses=tuple(zero),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "fields": {k: list(v) for k, v in self.fields.items()},
            "defaults": dict(self.defaults),
            "transforms": {k: t.to_dict() for k, t in self.transforms.items()},
            "stock_only": self.stock_only,
            "zero_stock_statuses": list(self.zero_stock_statuses),
        }

    def resolve(self, headers: Sequence[str] | None) -> ResolvedColumns:
        """Find each field's column. `headers` None means a headerless file: only int positions match.

        Raises FeedFormatError naming a required field that has neither a column nor a default.
        """
        by_name: dict[str, int] = {}
        for i, h in enumerate(headers or ()):
            by_name.setdefault(normalize_header(str(h)), i)
        index: dict[str, int] = {}
        for name, aliases in self.fields.items():
            for alias in aliases:
                if isinstance(alias, int):
                    if alias >= 1 and (headers is None or alias <= len(headers)):
                        index[name] = alias - 1
                        break
                elif (i := by_name.get(normalize_header(alias))) is not None:
                    index[name] = i
                    break
        for name in self.required:
            if name not in index and name not in self.defaults:
                tried = ", ".join(repr(a) for a in self.fields.get(name, ())) or "none"
                seen = ", ".join(repr(h) for h in headers) if headers is not None else "no header row"
                raise FeedFormatError(f"no column for required field {name!r} (aliases tried: {tried})",
                                      detail=f"headers seen: {seen}")
        return ResolvedColumns(index, list(headers) if headers is not None else None)
