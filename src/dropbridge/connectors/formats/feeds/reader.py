"""read_feed: any supplier feed file to batches of ParsedRow and RowError, streaming.

    for batch in read_feed(f, name="inventory_031524.csv", spec=FeedSpec.from_dict(config)):
        stage(batch.rows); report(batch.errors)

Errors are raised lazily: FeedFormatError (wrong format, missing required column) comes from the
first iteration. An empty or header-only file yields no batches and no error; deciding whether that
is acceptable is the sync engine's safety check.
"""

from __future__ import annotations

import csv
import gzip
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from itertools import islice
from typing import Any, BinaryIO

from dropbridge.domain.money import MAX_AMOUNT_MINOR, exponent

from . import limits
from .convert import MAX_SKU, RowConverter
from .csvfeed import CsvTable, prefixed
from .spec import FeedSpec
from .tables import DictTable, XlsxTable, json_objects, jsonl_objects
from .types import FeedBatch, FeedFormatError, ParsedRow, RowError
from .values import MAX_QTY

HEAD = 64 * 1024
_EXTENSIONS = {
    ".csv": "csv", ".tsv": "csv", ".txt": "csv", ".tab": "csv", ".psv": "csv",
    ".xlsx": "xlsx", ".xlsm": "xlsx", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl",
    ".edi": "x12", ".x12": "x12", ".846": "x12",
}


def sniff_format(name: str, head_bytes: bytes) -> str:
    """"csv", "xlsx", "json", "jsonl" or "x12", from the content first and the file name second."""
    head = head_bytes
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise FeedFormatError("legacy .xls workbook: save it as .xlsx or CSV")
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    base = name.lower()
    if base.endswith(".gz"):
        base = base[:-3]
    by_name = _EXTENSIONS.get(os.path.splitext(base)[1])
    if text.startswith(b"ISA") and len(text) > 3 and not text[3:4].isalnum():
        return "x12"
    if text.startswith(b"["):
        return "json"
    if text.startswith(b"{"):
        if by_name in ("json", "jsonl"):
            return by_name
        first, _, rest = text.partition(b"\n")
        # Two lines that each hold an object: JSON Lines; one object alone is a JSON document.
        return "jsonl" if first.rstrip().endswith(b"}") and rest.lstrip().startswith(b"{") else "json"
    return by_name or "csv"


def _open(stream: BinaryIO, name: str, spec: FeedSpec,
          max_bytes: int | None = None) -> tuple[str, BinaryIO, bytes]:
    """The format, a stream positioned at the start, and its head bytes (gzip undone). With `max_bytes`,
    a file bigger than that once decompressed is refused (FeedTooLarge): up front when the stream can be
    measured (a gzip bomb costs a fraction of a second), as it is read otherwise."""
    original = stream
    seekable = getattr(stream, "seekable", lambda: False)()
    start = stream.tell() if seekable else 0
    head = stream.read(HEAD)
    if max_bytes and seekable and not head.startswith((b"\x1f\x8b", b"PK\x03\x04")):  # XLSX: its XML counts
        if original.seek(0, os.SEEK_END) - start > max_bytes:
            raise limits.too_large(max_bytes)
        original.seek(start + len(head))
    if max_bytes and seekable and head.startswith(b"\x1f\x8b"):
        original.seek(start)
        if limits.gzip_exceeds(original, max_bytes):
            raise limits.too_large(max_bytes)
        original.seek(start)
        head = original.read(HEAD)
    stream = prefixed(head, stream)
    if head.startswith(b"\x1f\x8b"):
        seekable = False
        stream = limits.capped(gzip.GzipFile(fileobj=stream, mode="rb"), max_bytes)
        head = stream.read(HEAD)
        stream = prefixed(head, stream)
    elif max_bytes and not seekable:
        stream = limits.capped(stream, max_bytes)
    fmt = spec.format
    if fmt == "auto":
        fmt = sniff_format(name, head) if head.strip() else "csv"
    elif head.strip():
        _check_declared(fmt, head)
    if fmt == "xlsx" and seekable:
        original.seek(start)  # a zip reader seeks anyway; spare the copy
        return fmt, original, head
    return fmt, stream, head


def _check_declared(fmt: str, head: bytes) -> None:
    is_zip = head.startswith(b"PK\x03\x04")
    if fmt == "xlsx" and not is_zip:
        raise FeedFormatError("declared XLSX but the file is not a zip workbook")
    if fmt != "xlsx" and is_zip:
        raise FeedFormatError(f"declared {fmt} but the file is a zip (an XLSX workbook?)")
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if fmt in ("json", "jsonl") and not text.startswith((b"[", b"{")):
        raise FeedFormatError(f"declared {fmt} but the file does not start with JSON")


def _table(fmt: str, stream: BinaryIO, head: bytes, spec: FeedSpec, max_bytes: int | None = None):
    if fmt == "csv":
        return CsvTable(stream, head, delimiter=spec.delimiter, encoding=spec.encoding,
                        decimal_comma=spec.decimal_comma, has_header=spec.has_header)
    if fmt == "xlsx":
        return XlsxTable(stream, sheet=spec.sheet, has_header=spec.has_header, max_bytes=max_bytes)
    if fmt == "json":
        return DictTable(json_objects(stream, spec.json_path, head))
    if fmt == "jsonl":
        return DictTable(jsonl_objects(stream))
    raise FeedFormatError(f"unsupported feed format {fmt!r}")


def _converter(table, spec: FeedSpec) -> RowConverter | None:
    """None when there is nothing to convert (empty file)."""
    keyed = isinstance(table, DictTable)  # JSON keys are its header, whatever has_header says
    headers = table.headers
    if not headers and (spec.has_header or keyed):
        return None
    comma = table.comma_decimal if spec.decimal_comma is None else spec.decimal_comma
    return RowConverter(
        spec.mapping, spec.mapping.resolve(headers if spec.has_header or keyed else None),
        currency=spec.currency, comma_decimal=comma, raw_text=table.raw_text, width=table.width,
    )


def read_feed(
    stream: BinaryIO, *, name: str, spec: FeedSpec, batch_size: int = 10_000, plain: bool = False,
    max_bytes: int | None = None,
) -> Iterator[FeedBatch]:
    """Batches of at most `batch_size` records (rows plus errors) from a feed file, streaming.

    `stream` is a binary file object; `name` the file name (for format sniffing and messages).

    plain=True (the sync engine): a CSV feed of sku, qty and cost only may come as batches whose `rows`
    is a PlainRows (runs of plain lines kept as text, for a bulk load), in pieces of any size, and such a
    feed's duplicate SKUs are NOT reported here: the caller must find them (see FeedStage.duplicates).
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    fmt, stream, head = _open(stream, name, spec, max_bytes)
    if fmt == "x12":
        from dropbridge.connectors.suppliers.edi_x12.inbound import read_846  # written separately; imported on use

        yield from read_846(stream, name=name, spec=spec, batch_size=batch_size)
        return
    if not head.strip():
        return
    table = _table(fmt, stream, head, spec, max_bytes)
    conv = _converter(table, spec)
    if conv is None:
        errors = table.take_errors()
        if errors:
            yield FeedBatch([], errors)
        return
    if isinstance(table, CsvTable) and conv.fast_path_ok():
        if plain and table.gate is not None and table.width == 3:
            conv.dedupe = False
            yield from _csv_chunks(table, conv, batch_size)
        else:
            yield from _csv_fast(table, conv, batch_size)
    else:
        yield from _generic(table, conv, spec, batch_size)


def _generic(table, conv: RowConverter, spec: FeedSpec, batch_size: int) -> Iterator[FeedBatch]:
    rows: list[ParsedRow] = []
    conv.errors = []
    count = 0
    for line, cells in table.records():
        if table.dirty:
            conv.bind(spec.mapping.resolve(table.headers))
            table.dirty = False
        row = conv.convert(cells, line)
        if row is not None:
            rows.append(row)
        count += 1
        if count >= batch_size:
            yield _batch(rows, conv.errors + table.take_errors(line))
            rows, conv.errors, count = [], [], 0
    errors = conv.errors + table.take_errors()
    if rows or errors:
        yield _batch(rows, errors)


def _batch(rows: list[ParsedRow], errors: list[RowError]) -> FeedBatch:
    errors.sort(key=lambda e: e.line)
    return FeedBatch(rows, errors)


def _csv_fast(table: CsvTable, conv: RowConverter, batch_size: int) -> Iterator[FeedBatch]:
    """sku/qty/cost only: convert inline; anything unusual falls through to RowConverter.convert."""
    import csv

    reader = table.reader
    isku, iqty, icost = conv.idx["sku"], conv.idx["qty"], conv.idx["cost"]
    width = table.width
    currency = conv.default_currency
    exp = exponent(currency)
    scale = Decimal(10) ** exp
    seen = conv.seen
    convert = conv.convert
    new = tuple.__new__
    PR = ParsedRow
    half_even = ROUND_HALF_EVEN
    max_minor = MAX_AMOUNT_MINOR
    bad = (ValueError, InvalidOperation, OverflowError, IndexError)
    eof = False
    while not eof:
        rows: list[ParsedRow] = []
        append = rows.append
        conv.errors = []
        consumed = 0
        while consumed < batch_size:
            want = batch_size - consumed
            n = 0
            last = table.last_line
            try:
                for n, row in enumerate(islice(reader, want), 1):  # noqa: B007  (n counts records)
                    line = last + 1
                    last = reader.line_num
                    if len(row) == width:
                        sku = row[isku].strip()
                        try:
                            q = int(row[iqty])
                            w, _, f = row[icost].partition(".")
                            if len(f) == exp and f.isdigit():
                                c = int(w + f)  # "12.50" -> 1250 exactly, without a Decimal
                            else:
                                m = Decimal(row[icost]) * scale
                                c = int(m)
                                if c != m:
                                    c = int(m.to_integral_value(half_even))
                            if (
                                sku and 0 <= q <= MAX_QTY and 0 <= c <= max_minor and len(sku) <= 200
                                and sku.isprintable()  # else convert() says what is wrong with it
                                and seen.setdefault(sku, line) == line
                            ):
                                append(new(PR, (line, sku, q, c, currency, None, None, None)))
                                continue
                        except bad:
                            pass
                    r = convert(row, line)
                    if r is not None:
                        append(r)
                table.last_line = last
                consumed += n
                if n < want:
                    eof = True
                    break
            except csv.Error as e:
                consumed += n + 1
                line = last + 1
                table.last_line = reader.line_num
                table.bad_record(line, str(e))
        errors = conv.errors + table.take_errors(None if eof else table.last_line)
        if rows or errors:
            yield _batch(rows, errors)


class PlainRows(Sequence):
    """Consecutive feed lines of plain cells only (sku without spaces, quotes, backslashes or control
    characters; qty digits; cost digits with exactly the currency's decimals), kept as their text so a
    bulk loader can take them whole. Reading it as a sequence gives the ParsedRows the row path would."""

    def __init__(self, text: str, delimiter: str, columns: tuple[str, ...], first_line: int, count: int,
                 currency: str, exp: int):
        self.plain_text = text  # "\n"-terminated lines
        self.delimiter = delimiter
        self.columns = columns  # field per column: a permutation of sku, qty, cost
        self.first_line = first_line
        self.count = count
        self.currency = currency
        self.exp = exp

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, i):
        rows = list(self)
        return rows[i]

    def __iter__(self) -> Iterator[ParsedRow]:
        isku, iqty, icost = (self.columns.index(f) for f in ("sku", "qty", "cost"))
        d, cur = self.delimiter, self.currency
        for line, text in enumerate(self.plain_text.splitlines(), self.first_line):
            c = text.split(d)
            yield ParsedRow(line, c[isku], int(c[iqty]), int(c[icost].replace(".", "")), cur)


def _plain_pattern(delimiter: str, columns: tuple[str, ...], exp: int) -> re.Pattern:
    """A run of plain lines (see PlainRows): whatever matches converts exactly as the row path would."""
    d = re.escape(delimiter)
    # Possessive (+): no cell can end anywhere but where it does (the next character is never one of its
    # own), so keeping no backtracking positions changes nothing but the time, a fifth less.
    cell = {
        "sku": rf'[^\s"\\\x00-\x1f\x7f{d}]{{1,{MAX_SKU}}}+',
        "qty": r"[0-9]{1,9}+",  # below MAX_QTY (10**9)
        "cost": rf"[0-9]{{1,{15 - exp}}}+\.[0-9]{{{exp}}}" if exp else r"[0-9]{1,15}+",  # below 10**15 minor
    }
    return re.compile("(?:" + d.join(cell[c] for c in columns) + r"\r?\n)*+")


def _csv_chunks(table: CsvTable, conv: RowConverter, batch_size: int) -> Iterator[FeedBatch]:
    """sku/qty/cost CSV for the sync engine: runs of plain lines go out as PlainRows text, checked by one
    regular expression at C speed; any other record goes through csv.reader and RowConverter.convert, so
    its errors are exactly the row path's. Duplicate SKUs are left to the caller (conv.dedupe is off)."""
    gate = table.gate
    reader = table.reader
    columns = tuple(sorted(("sku", "qty", "cost"), key=conv.idx.__getitem__))
    currency = conv.default_currency
    exp = exponent(currency)
    match = _plain_pattern(table.delimiter, columns, exp).match
    convert = conv.convert
    rows: list[ParsedRow] = []
    conv.errors = []
    pending = 0  # records in rows + conv.errors

    def flush():
        nonlocal rows, pending
        batch = _batch(rows, conv.errors + table.take_errors(table.last_line))
        rows, conv.errors, pending = [], [], 0
        return batch

    if gate.current is None and not gate.advance():
        return
    while True:
        cur, text = gate.current, gate.text
        if cur is None:
            break
        pos = cur.tell()
        if pos >= len(text):
            if not gate.advance():
                break
            continue
        end = match(text, pos).end()
        if end > pos:
            chunk = text[pos:end]
            if "\r" in chunk:
                chunk = chunk.replace("\r\n", "\n")
            n = chunk.count("\n")
            first = table.last_line + 1
            cur.seek(end)
            table.last_line += n
            table.lines_skipped += n
            if pending:
                yield flush()
            yield FeedBatch(PlainRows(chunk, table.delimiter, columns, first, n, currency, exp),
                            _batch([], table.take_errors(table.last_line)).errors)
            continue
        # One record the general way (it may span pieces: csv.reader pulls them through the gate).
        line = table.last_line + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            table.last_line = table.lines_skipped + reader.line_num
            table.bad_record(line, str(e))
            pending += 1
        else:
            table.last_line = table.lines_skipped + reader.line_num
            r = convert(row, line)
            if r is not None:
                rows.append(r)
            pending += 1
        if pending >= batch_size:
            yield flush()
    errors = conv.errors + table.take_errors()
    if rows or errors:
        yield _batch(rows, errors)


def dry_run(stream: BinaryIO, name: str, spec: FeedSpec, rows: int = 5) -> list[dict[str, Any]]:
    """What the first `rows` records became, for a preview table.

    Each item: {"line", "raw": {header: cell}, "fields": {field: {"column", "raw", "value", "error"}},
    "kept": bool, "errors": [{"field", "reason"}]} (errors include whole-row ones, field None).
    Raises FeedFormatError when the file cannot be read or mapped (see `preview_feed` for a preview
    that shows what it can instead).
    """
    preview = preview_feed(stream, name, spec, rows)
    if preview.problem is not None:
        raise preview.error
    return preview.items


@dataclass
class Preview:
    """A dry run: `items` as dry_run gives them; when the file cannot be mapped, `problem` says why and
    `raw` holds its first records as read (header -> cell), which is what can still be shown."""

    items: list[dict[str, Any]] = field(default_factory=list)
    raw: list[dict[str, str]] = field(default_factory=list)
    problem: str | None = None
    error: FeedFormatError | None = None


def preview_feed(stream: BinaryIO, name: str, spec: FeedSpec, rows: int = 5,
                 max_bytes: int | None = None) -> Preview:
    """A dry run that never raises for the file's sake: a mapping that does not match the headers gives
    the raw first records and the problem; X12 846 files give their first items."""
    try:
        fmt, stream, head = _open(stream, name, spec, max_bytes)
        if fmt == "x12":
            return _preview_x12(stream, name, spec, rows)
        if not head.strip():
            return Preview()
        table = _table(fmt, stream, head, spec, max_bytes)
    except FeedFormatError as exc:
        return Preview(problem=str(exc), error=exc)
    try:
        conv = _converter(table, spec)
    except FeedFormatError as exc:
        return Preview(raw=_raw_records(table, rows), problem=str(exc), error=exc)
    if conv is None:
        return Preview()
    out: list[dict[str, Any]] = []
    try:
        for line, cells in table.records():
            if table.dirty:
                conv.bind(spec.mapping.resolve(table.headers))
                table.dirty = False
            if not any(c.strip() for c in cells):
                continue
            conv.errors = []
            trace: dict[str, Any] = {}
            row = conv.convert(cells, line, trace)
            errors = conv.errors + [e for e in table.take_errors(line) if e.line == line]
            headers = table.headers or [f"#{i + 1}" for i in range(len(cells))]
            out.append({
                "line": line,
                "raw": {h: (cells[i] if i < len(cells) else "") for i, h in enumerate(headers)},
                "fields": trace,
                "kept": row is not None,
                "errors": [{"field": e.field, "reason": e.reason} for e in errors],
            })
            if len(out) >= rows:
                break
    except FeedFormatError as exc:
        return Preview(items=out, problem=str(exc), error=exc)
    return Preview(items=out)


def _raw_records(table, rows: int) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    try:
        for _, cells in table.records():
            headers = table.headers or [f"#{i + 1}" for i in range(len(cells))]
            out.append({h: (cells[i] if i < len(cells) else "") for i, h in enumerate(headers)})
            if len(out) >= rows:
                break
    except FeedFormatError:
        pass
    return out


def _preview_x12(stream: BinaryIO, name: str, spec: FeedSpec, rows: int) -> Preview:
    """The first items of an EDI 846 as the sync would read them (X12 has no columns to map)."""
    from dropbridge.connectors.suppliers.edi_x12.inbound import read_846

    items: dict[int, dict[str, Any]] = {}
    try:
        for batch in read_846(stream, name=name, spec=spec, batch_size=rows):
            for r in batch.rows:
                cost = None if r.cost_minor is None else Decimal(r.cost_minor).scaleb(-exponent(r.currency))
                values = {"sku": r.sku, "qty": r.stock, "cost": cost, "currency": r.currency,
                          "lead_time_days": r.lead_time_days, "gtin": r.gtin}
                items.setdefault(r.line, {"line": r.line, "raw": {}, "fields": {}, "kept": True, "errors": []})
                items[r.line]["fields"] = {k: {"column": "846", "raw": None, "value": v, "error": None}
                                           for k, v in values.items()}
            for e in batch.errors:
                item = items.setdefault(e.line, {"line": e.line, "raw": {}, "fields": {}, "kept": False,
                                                 "errors": []})
                item["errors"].append({"field": e.field, "reason": e.reason})
            if len(items) >= rows:
                break
    except FeedFormatError as exc:
        return Preview(items=[items[k] for k in sorted(items)][:rows], problem=str(exc), error=exc)
    return Preview(items=[items[k] for k in sorted(items)][:rows])


def dry_run_table(preview: list[dict[str, Any]]) -> list[dict[str, str]]:
    """dry_run output flattened to one string per cell: line, kept, each field as "raw -> value" or
    "raw -> ERROR reason", and whole-row errors; ready for a CLI table."""
    out: list[dict[str, str]] = []
    for item in preview:
        flat = {"line": str(item["line"]), "kept": "yes" if item["kept"] else "NO"}
        for name, f in item["fields"].items():
            raw = "" if f["raw"] is None else repr(f["raw"]) + " -> "
            flat[name] = raw + (f"ERROR {f['error']}" if f["error"] else str(f["value"]))
        flat["row errors"] = "; ".join(e["reason"] for e in item["errors"] if e["field"] is None)
        out.append(flat)
    return out
