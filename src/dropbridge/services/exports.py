"""The one CSV writer for every export (a run's rejected rows, margin reports): cells that a spreadsheet
would run as a formula are neutralised the OWASP way, a leading apostrophe, so a supplier's cell such as
`=HYPERLINK(...)` or `+cmd|...` arrives as text. Plain numbers ("-12.50") stay numbers: no formula can
hide in them, and negative margins must still add up in the merchant's spreadsheet."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TextIO

FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?\Z")


def safe_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_LEADS) and not _PLAIN_NUMBER.match(text):
        return "'" + text
    return text


def csv_chunks(header: Sequence[str], rows: Iterable[Sequence[Any]], chunk_rows: int = 1000) -> Iterator[str]:
    """CSV text in pieces (for an HTTP response or a file): the header, then the rows, every cell made safe."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([safe_cell(h) for h in header])
    for n, row in enumerate(rows, 1):
        writer.writerow([safe_cell(c) for c in row])
        if n % chunk_rows == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    if buf.tell():
        yield buf.getvalue()


def write_csv(out: TextIO, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    for chunk in csv_chunks(header, rows):
        out.write(chunk)
