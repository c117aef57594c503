"""CSV/TSV: encoding detection, streaming decode, delimiter sniffing, and the record iterator.

Bytes are decoded in ~1 MiB pieces cut after a newline (0x0A never occurs inside a UTF-8 or
Windows-1252 character), and csv.reader reads lines out of each piece at C speed, so its line_num
stays the physical line number even across quoted multi-line values.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
from collections.abc import Iterator
from typing import BinaryIO

from .limits import MAX_LINE_BYTES
from .spec import DELIMITERS
from .types import FeedFormatError, FeedTooLarge, RowError

CHUNK = 1 << 20
BOMS = {codecs.BOM_UTF8: "utf-8", codecs.BOM_UTF16_LE: "utf-16", codecs.BOM_UTF16_BE: "utf-16"}


def detect_encoding(head: bytes) -> str:
    """UTF-8 (with or without BOM) when the head sample decodes as UTF-8, else Windows-1252."""
    for bom, enc in BOMS.items():
        if head.startswith(bom):
            return enc
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)  # a cut last char is fine
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"


class DecodedLines:
    """Lines of text from a binary stream, decoded piecewise.

    In auto mode a file whose text so far was pure ASCII switches to Windows-1252 silently at the first
    invalid UTF-8 byte (it is a cp1252 file whose first accent came late). Once real UTF-8 was seen,
    an invalid line is decoded as Windows-1252 and reported as a non-fatal "encoding" error.
    """

    def __init__(self, stream: BinaryIO, encoding: str, *, auto: bool):
        self.stream = stream
        self.encoding = encoding
        self.auto = auto
        self.ascii_so_far = True
        self.lines_before = 0  # newlines decoded so far, for error line numbers
        self.errors: list[RowError] = []

    def __iter__(self) -> Iterator[str]:
        return itertools.chain.from_iterable(io.StringIO(t, newline="") for t in self.texts())

    def texts(self) -> Iterator[str]:
        """The decoded pieces, each ending after a newline (but the last)."""
        pending = b""
        first = True
        while True:
            block = self.stream.read(CHUNK)
            if first:
                first = False
                if block.startswith(codecs.BOM_UTF8):
                    block = block[len(codecs.BOM_UTF8):]
            data = pending + block if pending else block
            if block:
                cut = data.rfind(b"\n") + 1
                if cut == 0:
                    if len(data) < MAX_LINE_BYTES:
                        pending = data
                        continue
                    cut = data.rfind(b"\r") + 1  # old Mac line ends
                    if cut == 0:  # megabytes and no line end: not a feed, and never held whole
                        raise FeedTooLarge(f"line {self.lines_before + 1} is longer than the "
                                           f"{MAX_LINE_BYTES // (1024 * 1024)} MiB limit for one line")
                piece, pending = data[:cut], data[cut:]
            else:
                piece, pending = data, b""
            if piece:
                yield self._decode(piece)
            if not block:
                return

    def _decode(self, piece: bytes) -> str:
        try:
            text = piece.decode(self.encoding)
        except UnicodeDecodeError as e:
            if self.auto and self.encoding == "utf-8" and self.ascii_so_far and piece[: e.start].isascii():
                self.encoding = "cp1252"
                text = piece.decode("cp1252", "replace")
            else:
                text = self._decode_lines(piece)
        if self.ascii_so_far and not text.isascii():
            self.ascii_so_far = False
        self.lines_before += text.count("\n")
        return text

    def _decode_lines(self, piece: bytes) -> str:
        fallback = "cp1252" if self.encoding == "utf-8" else None
        out = []
        for i, raw in enumerate(piece.splitlines(keepends=True)):
            try:
                out.append(raw.decode(self.encoding))
            except UnicodeDecodeError as e:
                line = self.lines_before + i + 1
                if fallback:
                    out.append(raw.decode(fallback, "replace"))
                    reason = "bytes not valid UTF-8 were read as Windows-1252"
                else:
                    out.append(raw.decode(self.encoding, "replace"))
                    reason = f"bytes not valid {self.encoding} were replaced: {e.reason}"
                self.errors.append(RowError(line, "encoding", reason, out[-1][:200]))
        return "".join(out)


class PieceGate:
    """Feeds csv.reader the decoded pieces one StringIO at a time, and lets a chunk reader take over a
    piece (or the rest of one) whenever csv.reader stands between two records: it reads plain lines
    straight out of `text` and seeks `current` past them, so csv.reader continues after them."""

    def __init__(self, texts: Iterator[str]):
        self._texts = texts
        self._pending: io.StringIO | None = None
        self.current: io.StringIO | None = None
        self.text = ""

    def lines(self) -> Iterator[str]:
        return itertools.chain.from_iterable(self._gate())

    def _gate(self) -> Iterator[io.StringIO]:
        while True:
            if self._pending is not None:
                piece, self._pending = self._pending, None
            else:
                text = next(self._texts, None)
                if text is None:
                    self.current, self.text = None, ""
                    return
                piece = self.current = io.StringIO(text, newline="")
                self.text = text
            yield piece

    def advance(self) -> bool:
        """Make the next piece current (csv.reader reads it next unless the chunk reader does); False at EOF."""
        text = next(self._texts, None)
        if text is None:
            self.current, self.text, self._pending = None, "", None
            return False
        self.current = self._pending = io.StringIO(text, newline="")
        self.text = text
        return True


def text_lines(
    stream: BinaryIO, head: bytes, encoding: str | None
) -> tuple[Iterator[str], DecodedLines | None]:
    """Lines of the file (terminators kept) and the decoder that collects encoding errors, if any.

    `stream` reads the whole file from its start; `head` is its first bytes, for detection only.
    """
    enc = encoding or detect_encoding(head)
    name = codecs.lookup(enc).name
    if "\n".encode(name) != b"\n" or name.startswith(("utf-16", "utf-32")):
        # Not ASCII-compatible: let TextIOWrapper cope (no per-line fallback).
        wrapper = io.TextIOWrapper(stream, encoding=name, errors="replace", newline="")
        return wrapper, None
    lines = DecodedLines(stream, name, auto=encoding is None)
    return iter(lines), lines


def sniff_delimiter(sample: str) -> str:
    """The candidate giving the most columns consistently over the first lines; ',' when unsure."""
    lines = sample.splitlines(keepends=True)
    if len(lines) > 1 and not sample.endswith(("\n", "\r")):
        lines = lines[:-1]  # the last line of a head sample may be cut
    lines = [ln for ln in lines if ln.strip()][:20]
    if not lines:
        return ","
    best, best_score = ",", (0, 0.0, 0)
    for d in DELIMITERS:
        try:
            counts = [len(r) for r in csv.reader(lines, delimiter=d)]
        except csv.Error:
            continue
        if not counts:
            continue
        header = counts[0]
        same = sum(1 for c in counts if c == header) / len(counts)
        score = (1 if header > 1 else 0, same, header)
        if score > best_score:
            best, best_score = d, score
    return best


class _Prefixed(io.RawIOBase):
    """A raw stream that replays bytes already read (the sniffed head) before the rest."""

    def __init__(self, head: bytes, rest: BinaryIO):
        self._head = memoryview(head)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        if self._head:
            n = min(len(buf), len(self._head))
            buf[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(buf))
        if not data:
            return 0
        buf[: len(data)] = data
        return len(data)


def prefixed(head: bytes, rest: BinaryIO) -> io.BufferedReader:
    return io.BufferedReader(_Prefixed(head, rest), buffer_size=CHUNK)


class CsvTable:
    """A CSV file opened for reading: header, delimiter, and csv.reader positioned after the header."""

    dirty = False  # the header never changes (JSON tables grow theirs)

    def __init__(self, stream: BinaryIO, head: bytes, *, delimiter: str | None, encoding: str | None,
                 decimal_comma: bool | None, has_header: bool):
        if b"\x00" in head[:4096] and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            raise FeedFormatError("binary data, not a CSV file")
        lines, self.decoder = text_lines(stream, head, encoding)
        self.gate: PieceGate | None = None
        if isinstance(self.decoder, DecodedLines):
            self.gate = PieceGate(self.decoder.texts())
            lines = self.gate.lines()
        enc = encoding or detect_encoding(head)
        sample = head.decode(enc if enc != "utf-8" else "utf-8-sig", "replace")
        stripped = sample.lstrip("\ufeff \t\r\n")
        if stripped[:1] in ("<",):
            raise FeedFormatError("looks like HTML or XML, not CSV (an error page instead of the feed?)")
        if stripped[:1] in ("[", "{"):
            raise FeedFormatError("looks like JSON, not CSV")
        self.delimiter = delimiter or sniff_delimiter(sample)
        self.comma_decimal = decimal_comma if decimal_comma is not None else self.delimiter == ";"
        self.reader = csv.reader(lines, delimiter=self.delimiter)
        self.headers: list[str] | None = None
        self.last_line = 0  # physical line where the last record ended
        self.lines_skipped = 0  # lines a chunk reader took past csv.reader (its line_num does not count them)
        if has_header:
            try:
                for row in self.reader:
                    if any(c.strip() for c in row):
                        self.headers = [c.strip().lstrip("\ufeff") for c in row]
                        break
            except csv.Error as e:
                raise FeedFormatError(f"unreadable CSV header: {e}", line=self.reader.line_num) from None
            self.last_line = self.reader.line_num
        self.width = len(self.headers) if self.headers is not None else None

    def raw_text(self, cells: list[str]) -> str:
        return self.delimiter.join(cells)

    def take_errors(self, upto: int | None = None) -> list[RowError]:
        """Encoding errors for lines up to `upto` (all when None)."""
        if self.decoder is None or not self.decoder.errors:
            return []
        errs = self.decoder.errors
        if upto is None:
            self.decoder.errors = []
            return errs
        taken = [e for e in errs if e.line <= upto]
        self.decoder.errors = [e for e in errs if e.line > upto]
        return taken

    def records(self) -> Iterator[tuple[int, list[str]]]:
        """(first physical line, cells) per record; unreadable records become errors in take_errors."""
        reader = self.reader
        while True:
            try:
                for row in reader:
                    line = self.last_line + 1
                    self.last_line = reader.line_num
                    yield line, row
                return
            except csv.Error as e:
                line = self.last_line + 1
                self.last_line = reader.line_num
                self.bad_record(line, str(e))

    def bad_record(self, line: int, message: str) -> None:
        err = RowError(line, None, f"unreadable CSV record: {message}")
        if self.decoder is not None:
            self.decoder.errors.append(err)
        else:
            self.decoder = _ErrorsOnly([err])


class _ErrorsOnly:
    def __init__(self, errors: list[RowError]):
        self.errors = errors
