"""XLSX and JSON/JSONL sources as records of cell texts, like CsvTable, for the shared RowConverter."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, BinaryIO

from .types import FeedFormatError, RowError


def cell_text(value: Any) -> str:
    """A cell as the text a CSV would hold. Floats typed by Excel: 5.0 -> "5", 12.5 -> "12.5" (repr)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))  # 12345678905.0 -> "12345678905", a UPC that lost its zero
        return repr(value)  # shortest text that round-trips: 12.5, never 12.4999999
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, list):
        return "|".join(cell_text(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, default=str)
    return str(value)


class XlsxTable:
    comma_decimal = False
    width = None  # Excel rows have no delimiter to shift them; short rows are just empty cells
    dirty = False

    def __init__(self, stream: BinaryIO, *, sheet: str | None, has_header: bool):
        import openpyxl  # heavy; only for XLSX feeds
        from openpyxl.utils.exceptions import InvalidFileException

        if not (hasattr(stream, "seekable") and stream.seekable()):
            # A zip needs seeking; the spool lives as long as the workbook that reads it.
            spool = tempfile.SpooledTemporaryFile(max_size=32 << 20)  # noqa: SIM115
            shutil.copyfileobj(stream, spool)
            spool.seek(0)
            stream = spool
        try:
            self.wb = openpyxl.load_workbook(stream, read_only=True, data_only=True)
        except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError) as e:
            raise FeedFormatError(f"not a readable XLSX workbook: {e}") from None
        if sheet is not None:
            if sheet not in self.wb.sheetnames:
                raise FeedFormatError(f"no sheet {sheet!r}", detail=f"sheets: {', '.join(self.wb.sheetnames)}")
            self.ws = self.wb[sheet]
        else:
            self.ws = self.wb.worksheets[0]
        self.ws.reset_dimensions()  # stored dimensions can be wrong and would cut rows off
        self.rows = enumerate(self.ws.iter_rows(values_only=True), 1)
        self.headers: list[str] | None = None
        if has_header:
            for _, row in self.rows:
                if any(v is not None and str(v).strip() for v in row):
                    self.headers = [cell_text(v).strip() for v in row]
                    while self.headers and not self.headers[-1]:
                        self.headers.pop()
                    break

    def raw_text(self, cells: list[str]) -> str:
        return ",".join(cells)

    def take_errors(self, upto: int | None = None) -> list[RowError]:
        return []

    def records(self) -> Iterator[tuple[int, list[str]]]:
        try:
            for line, row in self.rows:
                yield line, [cell_text(v) for v in row]
        finally:
            self.wb.close()


def _flatten(obj: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in obj.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


class DictTable:
    """Objects as records over a header that grows as new keys appear (`dirty` says re-resolve)."""

    comma_decimal = False
    width = None

    def __init__(self, objects: Iterator[tuple[int, Any]]):
        self.objects = objects
        self.headers: list[str] = []
        self.key_index: dict[str, int] = {}
        self.dirty = False
        self.errors: list[RowError] = []
        self._pending: tuple[int, Any] | None = None
        self._raw: dict[int, str] = {}
        # Read ahead to the first object so the header exists before the mapping is resolved.
        for line, obj in self.objects:
            if isinstance(obj, dict):
                self._pending = (line, obj)
                self._add_keys(_flatten(obj))
                self.dirty = False
                break
            self._not_object(line, obj)

    def _add_keys(self, flat: dict[str, Any]) -> None:
        for k in flat:
            if k not in self.key_index:
                self.key_index[k] = len(self.headers)
                self.headers.append(k)
                self.dirty = True

    def _not_object(self, line: int, obj: Any) -> None:
        if isinstance(obj, _Invalid):
            self.errors.append(RowError(line, None, f"invalid JSON: {obj.message}", obj.text[:200]))
        else:
            self.errors.append(RowError(line, None, "not a JSON object", cell_text(obj)[:200]))

    def raw_text(self, cells: list[str]) -> str:
        return json.dumps({h: c for h, c in zip(self.headers, cells, strict=False) if c}, ensure_ascii=False)

    def take_errors(self, upto: int | None = None) -> list[RowError]:
        if upto is None:
            errs, self.errors = self.errors, []
            return errs
        taken = [e for e in self.errors if e.line <= upto]
        self.errors = [e for e in self.errors if e.line > upto]
        return taken

    def records(self) -> Iterator[tuple[int, list[str]]]:
        if self._pending is not None:
            first, self._pending = self._pending, None
            yield first[0], self._cells(_flatten(first[1]))
        for line, obj in self.objects:
            if not isinstance(obj, dict):
                self._not_object(line, obj)
                continue
            flat = _flatten(obj)
            self._add_keys(flat)
            yield line, self._cells(flat)

    def _cells(self, flat: dict[str, Any]) -> list[str]:
        cells = [""] * len(self.headers)
        index = self.key_index
        for k, v in flat.items():
            cells[index[k]] = cell_text(v)
        return cells


class _Invalid:
    def __init__(self, message: str, text: str):
        self.message = message
        self.text = text


def _decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


def json_objects(stream: BinaryIO, json_path: str | None) -> Iterator[tuple[int, Any]]:
    """Items of a JSON array (or of the list at `json_path`), numbered from 1."""
    try:
        doc = json.loads(_decode(stream.read()), parse_float=Decimal)  # Decimal: costs never go via float
    except json.JSONDecodeError as e:
        raise FeedFormatError(f"not valid JSON: {e.msg}", line=e.lineno) from None
    items = doc
    if json_path:
        for key in json_path.split("."):
            if not isinstance(items, dict) or key not in items:
                raise FeedFormatError(f"JSON has no {json_path!r}")
            items = items[key]
    elif isinstance(doc, dict):
        lists = [k for k, v in doc.items() if isinstance(v, list)]
        if len(lists) != 1:
            raise FeedFormatError(
                f"JSON object holds {len(lists)} lists; set json_path (keys: {', '.join(map(str, doc))})"
            )
        items = doc[lists[0]]
    if not isinstance(items, list):
        raise FeedFormatError("JSON product list is not an array")
    return enumerate(items, 1)


def jsonl_objects(stream: BinaryIO) -> Iterator[tuple[int, Any]]:
    """One object per physical line; blank lines skipped, bad lines become errors."""
    seen_good = False
    for line, raw in enumerate(stream, 1):
        text = _decode(raw).strip()
        if not text:
            continue
        try:
            obj = json.loads(text, parse_float=Decimal)
        except json.JSONDecodeError as e:
            if not seen_good:
                raise FeedFormatError(f"not JSON Lines: {e.msg}", line=line) from None
            yield line, _Invalid(e.msg, text)
            continue
        seen_good = True
        yield line, obj
