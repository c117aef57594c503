"""How to read one supplier's feed. Plain data, loadable from the supplier's JSON config."""

from __future__ import annotations

import codecs
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .mapping import ColumnMapping
from .values import check_currency

FORMATS = ("auto", "csv", "xlsx", "json", "jsonl", "x12")
DELIMITERS = (",", ";", "|", "\t")


_TYPES: dict[str, tuple[type, ...]] = {"format": (str,), "delimiter": (str,), "encoding": (str,),
                                       "decimal_comma": (bool,), "currency": (str,), "has_header": (bool,),
                                       "sheet": (str,), "json_path": (str,)}
_TYPE_NAMES = {"decimal_comma": "true or false", "has_header": "true or false"}
_TYPE_NAMES.update({k: "a text" for k in _TYPES if k not in _TYPE_NAMES})


def _generic() -> ColumnMapping:
    return ColumnMapping.from_dict({"preset": "generic"})


@dataclass(frozen=True)
class FeedSpec:
    format: str = "auto"
    delimiter: str | None = None  # None: sniff among , ; | tab
    encoding: str | None = None  # None: UTF-8 (BOM or not), else Windows-1252
    decimal_comma: bool | None = None  # decides only "1,234"/"1.234"; None: comma when delimiter is ;
    currency: str = "USD"  # when the feed names none
    mapping: ColumnMapping = field(default_factory=_generic)
    has_header: bool = True
    sheet: str | None = None  # XLSX: sheet name; None: the first sheet
    json_path: str | None = None  # JSON: dotted key of the product list, e.g. "data.products"

    def __post_init__(self):
        if self.format not in FORMATS:
            raise ValueError(f"unknown feed format {self.format!r}; known: {', '.join(FORMATS)}")
        if self.delimiter is not None and len(self.delimiter) != 1:
            raise ValueError(f"delimiter must be one character, got {self.delimiter!r}")
        if self.encoding is not None:
            codecs.lookup(self.encoding)  # LookupError now rather than mid-file
        object.__setattr__(self, "currency", check_currency(self.currency))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeedSpec:
        """Raises ValueError naming the key for an unknown key or a value of the wrong type."""
        if not isinstance(data, Mapping):
            raise ValueError(f"a feed spec must be a JSON object, not {type(data).__name__}")
        data = dict(data)
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown feed spec keys: {sorted(unknown)}; known: "
                             f"{', '.join(cls.__dataclass_fields__)}")
        mapping = data.pop("mapping", None)
        if isinstance(mapping, str):
            mapping = {"preset": mapping}
        if mapping is not None and not isinstance(mapping, ColumnMapping):
            mapping = ColumnMapping.from_dict(mapping)
        if data.get("delimiter") in ("tab", "\\t"):
            data["delimiter"] = "\t"
        for key, kinds in _TYPES.items():
            value = data.get(key)
            if value is not None and (not isinstance(value, kinds) or (bool not in kinds and isinstance(value, bool))):
                raise ValueError(f"feed.{key} must be {_TYPE_NAMES[key]}, not {value!r}")
        return cls(**data, **({"mapping": mapping} if mapping is not None else {}))

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "delimiter": self.delimiter,
            "encoding": self.encoding,
            "decimal_comma": self.decimal_comma,
            "currency": self.currency,
            "mapping": self.mapping.to_dict(),
            "has_header": self.has_header,
            "sheet": self.sheet,
            "json_path": self.json_path,
        }
