"""Bounds on what a feed file may make us hold, checked per chunk (never per row).

A feed is refused, naming the limit, when:
- it is bigger than `max_bytes` once decompressed (gzip counted up front when the file can be re-read, so a
  bomb is refused in a fraction of a second; as it streams otherwise); for XLSX the XML parts count, by
  their declared sizes and as they are read;
- a JSON string or value, or an XLSX cell, shared string or run of whitespace between tags, is longer than
  MAX_CELL_BYTES (Excel itself stops at 32,767 characters a cell): parsers hold such a token whole;
- a CSV or JSON Lines line is longer than MAX_LINE_BYTES.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from typing import BinaryIO

from .types import FeedTooLarge

DEFAULT_MAX_BYTES = 256 * 1024 * 1024
MAX_CELL_BYTES = 1024 * 1024
MAX_LINE_BYTES = 8 * 1024 * 1024
MAX_COLUMNS = 2000  # distinct JSON keys (columns) a feed may introduce
# An XLSX part this much whitespace (and at least this big) was made to exhaust the XML parser.
WHITESPACE_SHARE, WHITESPACE_MIN = 0.5, 16 * 1024 * 1024
CHUNK = 1 << 20


def mib(n: int) -> str:
    return f"{n / (1024 * 1024):g} MiB"


def too_large(max_bytes: int, what: str = "the feed") -> FeedTooLarge:
    return FeedTooLarge(f"{what} is larger than the {mib(max_bytes)} limit once decompressed "
                        "(DROPBRIDGE_FEED_MAX_BYTES); nothing was read into the catalog")


def cell_too_long(what: str) -> FeedTooLarge:
    return FeedTooLarge(f"{what} is longer than the {mib(MAX_CELL_BYTES)} limit for one value")


def gzip_exceeds(stream: BinaryIO, max_bytes: int) -> bool:
    """Whether the gzip file `stream` (at its start) decompresses to more than `max_bytes`, counted without
    keeping any of it (zlib at C speed; several members are followed like GzipFile does)."""
    try:
        return _gzip_exceeds(stream, max_bytes)
    except zlib.error:
        return False  # not gzip after all, or damaged: the reader reports it in its own words


def _gzip_exceeds(stream: BinaryIO, max_bytes: int) -> bool:
    total = 0
    inflate = zlib.decompressobj(wbits=31)
    while True:
        block = stream.read(CHUNK)
        if not block:
            return False
        while block:
            # Bounded output per call, so even a 1000:1 block never expands in memory past the limit.
            out = inflate.decompress(block, CHUNK)
            total += len(out)
            if total > max_bytes:
                return True
            block = inflate.unconsumed_tail
            if inflate.eof:
                rest = inflate.unused_data
                inflate = zlib.decompressobj(wbits=31)
                block = rest.lstrip(b"\x00")  # trailing padding after the last member
        if total > max_bytes:
            return True


class CappedReader(io.RawIOBase):
    """Reads through to `inner` and refuses to return more than `max_bytes` in all."""

    def __init__(self, inner: BinaryIO, max_bytes: int, what: str = "the feed"):
        self.inner = inner
        self.max_bytes = max_bytes
        self.what = what
        self.total = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        data = self.inner.read(len(buf))
        if not data:
            return 0
        self.total += len(data)
        if self.total > self.max_bytes:
            raise too_large(self.max_bytes, self.what)
        buf[: len(data)] = data
        return len(data)


def capped(stream: BinaryIO, max_bytes: int | None) -> BinaryIO:
    if not max_bytes:
        return stream
    return io.BufferedReader(CappedReader(stream, max_bytes), buffer_size=CHUNK)


class GapScan:
    """Finds a run longer than `limit` bytes between two `sep` bytes, across chunks, at C speed: each run is
    scanned once from the separator that opens it."""

    def __init__(self, sep: bytes, limit: int):
        self.sep = sep
        self.limit = limit
        self.run = 0  # bytes since the last separator
        self._long = re.compile(re.escape(sep) + b"[^" + re.escape(sep) + b"]{%d}" % (limit + 1))

    def feed(self, data: bytes) -> bool:
        """False once a run is too long."""
        first = data.find(self.sep)
        if first < 0:
            self.run += len(data)
            return self.run <= self.limit
        if self.run + first > self.limit or self._long.search(data, first):
            return False
        self.run = len(data) - data.rfind(self.sep) - 1
        return self.run <= self.limit


_ESCAPES = re.compile(rb"\\.", re.S)
_SURROGATE = re.compile(rb"(\\+)u[dD][0-9a-fA-F]{3}")


def lone_surrogates_to_nul(data: bytes) -> bytes:
    """JSON escapes of unpaired surrogates (\\ud800 alone) rewritten as \\u0000: ijson's C parser would turn
    them into "?" silently, a different SKU; as NUL the converter refuses the cell, naming it, as it refuses
    any NUL. Escaped pairs (an emoji written as two escapes) stay as they are."""
    found = [m for m in _SURROGATE.finditer(data) if len(m.group(1)) % 2]  # an even run is escaped backslashes
    if not found:
        return data
    lone, i = [], 0
    while i < len(found):
        m = found[i]
        high = int(data[m.end() - 4:m.end()], 16) < 0xDC00
        nxt = found[i + 1] if i + 1 < len(found) else None
        if high and nxt is not None and nxt.start() == m.end() and len(nxt.group(1)) == 1 \
                and int(data[nxt.end() - 4:nxt.end()], 16) >= 0xDC00:
            i += 2  # a pair
            continue
        lone.append(m)
        i += 1
    out, pos = [], 0
    for m in lone:
        out += [data[pos:m.end() - 6], b"\\u0000"]
        pos = m.end()
    out.append(data[pos:])
    return b"".join(out)


class JsonSource(io.RawIOBase):
    """The JSON stream as UTF-8 for ijson (a file in Windows-1252 is transcoded, as the whole-file reader
    did), refusing a string or bare value longer than MAX_CELL_BYTES before the parser would hold it."""

    def __init__(self, inner: BinaryIO, encoding: str):
        self.inner = inner
        self.encoding = encoding
        self.scan = GapScan(b'"', MAX_CELL_BYTES)
        self._escaped = False  # the last chunk ended inside an escape pair
        self._out = b""
        self._first = True
        self._carry = b""  # an escape cut by the block's end, held for the next block

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        while not self._out:
            block = self.inner.read(max(len(buf), 64 * 1024))
            if not block:
                block, self._carry = self._carry, b""
                if not block:
                    return 0
            else:
                if self._first:
                    self._first = False
                    if block.startswith(b"\xef\xbb\xbf"):
                        block = block[3:]
                if self.encoding != "utf-8":
                    block = block.decode(self.encoding, "replace").encode("utf-8")
                block, self._carry = self._carry + block, b""
                cut = block.rfind(b"\\", max(0, len(block) - 12))  # a surrogate pair is 12 bytes
                if cut >= 0:
                    start = cut
                    while start > 0 and block[start - 1:start] == b"\\":
                        start -= 1
                    block, self._carry = block[:start], block[start:]
            block = lone_surrogates_to_nul(block)
            self._check(block)
            self._out = block
        n = min(len(buf), len(self._out))
        buf[:n] = self._out[:n]
        self._out = self._out[n:]
        return n

    def _check(self, block: bytes) -> None:
        data = block
        if self._escaped and data:
            data, self._escaped = data[1:], False
        data = _ESCAPES.sub(b"", data)  # \" and \\ are not quotes
        if data.endswith(b"\\"):
            data, self._escaped = data[:-1], True
        if not self.scan.feed(data):
            raise cell_too_long("a JSON string or value")


def check_workbook(stream: BinaryIO, max_bytes: int | None) -> None:
    """Refuse an XLSX whose XML parts (what openpyxl parses: sheets, shared strings, styles) would hold too
    much: declared sizes over the limit, then, reading each part as a stream, a cell, shared string or run of
    whitespace over MAX_CELL_BYTES, or a part that is mostly whitespace. `stream` is seekable; left at 0."""
    try:
        with zipfile.ZipFile(stream) as zf:
            parts = [i for i in zf.infolist() if i.filename.endswith((".xml", ".rels"))]
            declared = sum(i.file_size for i in parts)
            if max_bytes and declared > max_bytes:
                raise too_large(max_bytes, "the workbook's XML")
            for info in parts:
                _scan_part(zf, info)
    except (zipfile.BadZipFile, zlib.error, EOFError):
        return  # openpyxl reports an unreadable workbook in its own words
    finally:
        stream.seek(0)


def _scan_part(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    scan = GapScan(b"<", MAX_CELL_BYTES)
    size = spaces = 0
    with zf.open(info) as part:
        while block := part.read(CHUNK):
            size += len(block)
            spaces += len(block) - len(block.translate(None, b" \t\r\n"))
            if not scan.feed(block):
                raise cell_too_long(f"a cell, shared string or whitespace run in {info.filename}")
    if spaces >= WHITESPACE_MIN and spaces > size * WHITESPACE_SHARE:
        raise FeedTooLarge(f"{info.filename} is {spaces * 100 // size}% whitespace ({mib(spaces)}): "
                           "not a workbook a spreadsheet wrote")
