"""XLSX and JSON/JSONL sources as records of cell texts, like CsvTable, for the shared RowConverter."""

from __future__ import annotations

import codecs
import datetime as dt
import io
import json
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, BinaryIO

from .limits import MAX_COLUMNS, MAX_LINE_BYTES, JsonSource, check_workbook
from .types import FeedFormatError, FeedTooLarge, RowError


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

    def __init__(self, stream: BinaryIO, *, sheet: str | None, has_header: bool, max_bytes: int | None = None):
        import openpyxl  # heavy; only for XLSX feeds
        from openpyxl.utils.exceptions import InvalidFileException

        if not (hasattr(stream, "seekable") and stream.seekable()):
            # A zip needs seeking; the spool lives as long as the workbook that reads it.
            spool = tempfile.SpooledTemporaryFile(max_size=32 << 20)  # noqa: SIM115
            shutil.copyfileobj(stream, spool)
            spool.seek(0)
            stream = spool
        # openpyxl holds every shared string, and a text run whole: measure the XML before it parses any.
        check_workbook(stream, max_bytes)
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
                if len(self.headers) >= MAX_COLUMNS:  # every row gets a cell per key ever seen
                    raise FeedTooLarge(f"the JSON objects hold more than {MAX_COLUMNS} distinct keys")
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


def _json_encoding(head: bytes) -> str:
    """UTF-8 when the head decodes as UTF-8 (a character cut at its end is fine), else Windows-1252."""
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head.removeprefix(b"\xef\xbb\xbf"), final=False)
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"


def _json_error(exc: Exception) -> FeedFormatError:
    # The parser's message goes on to quote the text around the error: keep only what it says is wrong.
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return FeedFormatError(f"not valid JSON: {first}")


def json_objects(stream: BinaryIO, json_path: str | None, head: bytes = b"") -> Iterator[tuple[int, Any]]:
    """Items of a JSON array (or of the list at `json_path`, or of the only list in a top-level object),
    numbered from 1, streamed: the document is never held whole. Numbers with a fraction come as Decimal
    (costs never go via float)."""
    import ijson

    source = io.BufferedReader(JsonSource(stream, _json_encoding(head)), buffer_size=64 * 1024)
    top = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    try:
        if top == b"[" and not json_path:
            yield from enumerate(ijson.items(source, "item", use_float=False), 1)
            return
        if top == b"[":
            raise FeedFormatError(f"JSON has no {json_path!r}")
        yield from _object_items(ijson.parse(source, use_float=False), json_path)
    except ijson.JSONError as exc:
        raise _json_error(exc) from None


def _object_items(events, json_path: str | None) -> Iterator[tuple[int, Any]]:
    """The items of one list inside a top-level object: the list at `json_path` (dotted keys), or the only
    list among its keys. Builds one item at a time from the parser's events."""
    from ijson.common import ObjectBuilder

    target = json_path  # ijson names a value by its dotted path, as json_path does
    item_prefix = f"{target}.item" if target else None
    found = False
    lists: list[str] = []
    keys: list[str] = []
    n = 0
    builder: ObjectBuilder | None = None
    depth = 0
    for prefix, event, value in events:
        if builder is not None:
            builder.event(event, value)
            if event in ("start_map", "start_array"):
                depth += 1
            elif event in ("end_map", "end_array"):
                depth -= 1
            if depth == 0:
                n += 1
                yield n, builder.value
                builder = None
            continue
        if prefix == "" and event == "map_key" and len(keys) < 50:
            keys.append(str(value))
        if event == "start_array" and prefix and "." not in prefix and not json_path:
            lists.append(prefix)
            if target is None:
                target, item_prefix = prefix, f"{prefix}.item"
        if prefix == target and not found and event not in ("map_key",):
            if event != "start_array":
                raise FeedFormatError("JSON product list is not an array")
            found = True
            continue
        if found and prefix == item_prefix:
            if event in ("start_map", "start_array"):
                builder, depth = ObjectBuilder(), 1
                builder.event(event, value)
            elif event not in ("end_array", "end_map"):
                n += 1
                yield n, value  # a scalar in the list: reported as not an object
    if json_path and not found:
        raise FeedFormatError(f"JSON has no {json_path!r}")
    if not json_path and len(lists) != 1:
        raise FeedFormatError(f"JSON object holds {len(lists)} lists; set json_path",
                              detail=f"keys: {', '.join(keys)}")


def jsonl_objects(stream: BinaryIO) -> Iterator[tuple[int, Any]]:
    """One object per physical line; blank lines skipped, bad lines become errors."""
    seen_good = False
    for line, raw in enumerate(iter(lambda: stream.readline(MAX_LINE_BYTES + 1), b""), 1):
        if len(raw) > MAX_LINE_BYTES:
            raise FeedTooLarge(f"line {line} is longer than the {MAX_LINE_BYTES // (1024 * 1024)} MiB limit "
                               "for one line")
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
