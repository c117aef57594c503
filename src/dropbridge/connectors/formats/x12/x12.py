"""A small, generic ANSI X12 reader and writer (envelopes only; documents live in their own modules).

Why our own: no maintained permissively licensed X12 library fits retail dropship (see DESIGN.md).
The reader streams: a full-catalog 846 can hold a million LIN loops in one transaction, so segments
are produced one at a time and only kept when asked (`keep_segments`).

Segment positions are 1-based across the interchange (ISA is 1). With one segment per line, as most
partners send, the position is also the line number.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import IO, Any

from dropbridge.domain.errors import DropbridgeError

ISA_LENGTH = 106
# ISA01..ISA16 fixed widths (X12.5); their sum plus "ISA", 16 separators and the terminator is 106.
ISA_WIDTHS = (2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1)
_TAG = re.compile(r"[A-Z][A-Z0-9]{1,2}\Z")
_READ_CHUNK = 1 << 20


class X12Error(DropbridgeError):
    """An X12 syntax or envelope problem at a known segment.

    `ak5_code` / `ak9_code` are the 997 syntax error codes (X12 elements 718 / 716) when the problem
    concerns a transaction set or a functional group, so a rejecting 997 can state the reason.
    """

    def __init__(
        self,
        message: str,
        segment_position: int | None = None,
        segment_tag: str | None = None,
        *,
        ak5_code: str | None = None,
        ak9_code: str | None = None,
    ):
        where = ""
        if segment_position is not None:
            where = f"segment {segment_position}" + (f" ({segment_tag})" if segment_tag else "") + ": "
        super().__init__(where + message)
        self.message = message
        self.segment_position = segment_position
        self.segment_tag = segment_tag
        self.ak5_code = ak5_code
        self.ak9_code = ak9_code


@dataclass(frozen=True, slots=True)
class Delimiters:
    element: str = "*"
    component: str = ">"
    segment: str = "~"
    repetition: str | None = None  # None for 4010, where ISA11 is the standards id "U"


@dataclass(slots=True)
class Segment:
    tag: str
    elements: list[str]  # elements[0] is element 01; the tag is not included
    position: int = 0
    component_sep: str = ">"
    repetition_sep: str | None = None

    def get(self, n: int, default: str = "") -> str:
        """Element n (1-based, as in "BEG03"); `default` when absent."""
        if 0 < n <= len(self.elements):
            return self.elements[n - 1]
        return default

    def components(self, n: int) -> list[str]:
        return self.get(n).split(self.component_sep)

    def repeats(self, n: int) -> list[str]:
        value = self.get(n)
        return value.split(self.repetition_sep) if self.repetition_sep else [value]

    def __str__(self) -> str:
        return "*".join([self.tag, *self.elements])


@dataclass(slots=True)
class Transaction:
    set_id: str  # ST01, e.g. "846"
    control_number: str  # ST02
    segments: list[Segment] = field(default_factory=list)  # ST..SE inclusive when kept
    position: int = 0  # of the ST
    end_position: int | None = None  # of the SE, or where it was expected
    segment_count: int = 0  # ST..SE as counted while reading
    errors: list[X12Error] = field(default_factory=list)

    @property
    def body(self) -> list[Segment]:
        """Segments between ST and SE."""
        segs = self.segments
        end = len(segs) - 1 if segs and segs[-1].tag == "SE" else len(segs)
        return segs[1:end]

    def position_in_set(self, segment_position: int) -> int:
        """Position counted from ST = 1, as a 997 AK302 wants it."""
        return segment_position - self.position + 1


@dataclass(slots=True)
class FunctionalGroup:
    functional_id: str  # GS01, e.g. "IB" for 846
    sender: str  # GS02
    receiver: str  # GS03
    date: str  # GS04 CCYYMMDD
    time: str  # GS05
    control_number: str  # GS06
    agency: str  # GS07, "X"
    version: str  # GS08, e.g. "004010" or "004010VICS"
    transactions: list[Transaction] = field(default_factory=list)
    position: int = 0
    declared_count: int | None = None  # GE01 as received
    errors: list[X12Error] = field(default_factory=list)


@dataclass(slots=True)
class Interchange:
    sender_qualifier: str
    sender_id: str  # padding stripped
    receiver_qualifier: str
    receiver_id: str
    date: str  # ISA09 YYMMDD
    time: str  # ISA10 HHMM
    version: str  # ISA12
    control_number: str  # ISA13
    ack_requested: str  # ISA14
    usage_indicator: str  # ISA15, P or T
    delimiters: Delimiters
    isa: Segment
    groups: list[FunctionalGroup] = field(default_factory=list)
    errors: list[X12Error] = field(default_factory=list)  # every problem found (lenient mode)

    @property
    def transactions(self) -> Iterator[tuple[FunctionalGroup, Transaction]]:
        for g in self.groups:
            for t in g.transactions:
                yield g, t


def _same_control(a: str, b: str) -> bool:
    # Some senders trim leading zeros in trailers; the number is what must agree.
    if a.isdigit() and b.isdigit():
        return int(a) == int(b)
    return a == b


def _as_int(value: str) -> int | None:
    return int(value) if value.isdigit() else None


class X12Reader:
    """Reads one interchange from bytes, text or a binary/text stream, validating its envelopes.

    Strict (default): the first problem raises X12Error. Lenient: problems are collected on the
    interchange, group and transaction (`errors`) and reading goes on, so a 997 can reject with reasons.
    Delimiter or ISA problems that make the file unreadable always raise.
    """

    def __init__(
        self,
        source: bytes | str | IO[bytes] | IO[str],
        *,
        strict: bool = True,
        keep_segments: bool = True,
        encoding: str = "utf-8",
    ):
        self.strict = strict
        self.keep_segments = keep_segments
        self._chunks = _text_chunks(source, encoding)
        self._consumed = False
        head = ""
        for chunk in self._chunks:
            head += chunk
            if len(head) >= 2 * ISA_LENGTH:
                break
        self._rest = self._read_isa(head.lstrip("\ufeff \t\r\n"))

    # -- ISA -------------------------------------------------------------------------------------
    def _read_isa(self, head: str) -> str:
        if not head.startswith("ISA") or len(head) < 4:
            raise X12Error("not an X12 interchange: it does not start with ISA", 1, "ISA")
        sep = head[3]
        # The 16th element separator precedes ISA16; the terminator follows ISA16.
        idx = 3
        for _ in range(15):
            idx = head.find(sep, idx + 1)
            if idx < 0:
                raise X12Error("ISA segment is truncated: fewer than 16 elements", 1, "ISA")
        if len(head) < idx + 3:
            raise X12Error("ISA segment is truncated: no segment terminator after ISA16", 1, "ISA")
        component, term = head[idx + 1], head[idx + 2]
        isa_text = head[: idx + 2]
        values = isa_text.split(sep)[1:]
        repetition = values[10] if len(values) > 10 and not values[10].isalnum() else None
        delims = Delimiters(sep, component, term, repetition)
        used = [sep, component, term] + ([repetition] if repetition else [])
        if len(set(used)) != len(used) or any(c.isalnum() or c == " " for c in used):
            raise X12Error(f"ISA delimiters are not distinct non-alphanumeric characters: {used!r}", 1, "ISA")
        isa = Segment("ISA", values, 1, component, repetition)
        self.interchange = Interchange(
            sender_qualifier=values[4],
            sender_id=values[5].strip(),
            receiver_qualifier=values[6],
            receiver_id=values[7].strip(),
            date=values[8],
            time=values[9],
            version=values[11],
            control_number=values[12],
            ack_requested=values[13],
            usage_indicator=values[14],
            delimiters=delims,
            isa=isa,
        )
        length = idx + 3
        if length != ISA_LENGTH:
            detail = ""
            for n, (value, width) in enumerate(zip(values, ISA_WIDTHS, strict=True), start=1):
                if len(value) != width:
                    detail = f" (ISA{n:02d} is {len(value)} characters, expected {width})"
                    break
            self._problem(f"ISA segment is {length} characters, expected {ISA_LENGTH}{detail}", 1, "ISA")
        return head[length:]

    # -- problems --------------------------------------------------------------------------------
    def _problem(
        self,
        message: str,
        position: int,
        tag: str | None,
        *,
        group: FunctionalGroup | None = None,
        txn: Transaction | None = None,
        ak5: str | None = None,
        ak9: str | None = None,
    ) -> None:
        err = X12Error(message, position, tag, ak5_code=ak5, ak9_code=ak9)
        if self.strict:
            raise err
        self.interchange.errors.append(err)
        if txn is not None:
            txn.errors.append(err)
        elif group is not None:
            group.errors.append(err)

    # -- segments --------------------------------------------------------------------------------
    def _raw_segments(self) -> Iterator[Segment]:
        d = self.interchange.delimiters
        term, esep, csep, rsep = d.segment, d.element, d.component, d.repetition
        position = 1

        def pieces() -> Iterator[str]:
            parts = self._rest.split(term)
            buf = parts.pop()
            yield from parts
            for chunk in self._chunks:
                parts = (buf + chunk).split(term)
                buf = parts.pop()
                yield from parts
            yield buf  # a last segment without its terminator is tolerated

        for raw in pieces():
            raw = raw.strip("\r\n")
            if not raw.strip():
                continue
            position += 1
            values = raw.split(esep)
            yield Segment(values[0], values[1:], position, csep, rsep)

    def segments(self) -> Iterator[tuple[Segment, FunctionalGroup | None, Transaction | None]]:
        """Every segment after ISA with the group and transaction it belongs to, validated on the way.

        Envelope checks run before a trailer is yielded, so a consumer never sees an SE whose count
        is wrong (in strict mode). After exhaustion `self.interchange` is complete.
        """
        if self._consumed:
            raise RuntimeError("X12Reader.segments() can be iterated only once")
        self._consumed = True
        ic = self.interchange
        keep = self.keep_segments
        group: FunctionalGroup | None = None
        txn: Transaction | None = None
        done = False
        n_groups = 0
        group_txns = 0
        last = 1

        def close_txn_missing(at: int) -> None:
            assert txn is not None
            txn.end_position = at
            self._problem(
                f"missing SE for ST02 {txn.control_number}", at, "SE", group=group, txn=txn, ak5="2"
            )

        def close_group_missing(at: int) -> None:
            assert group is not None
            group.declared_count = None
            self._problem(f"missing GE for GS06 {group.control_number}", at, "GE", group=group, ak9="3")

        for seg in self._raw_segments():
            last = seg.position
            tag = seg.tag
            if not _TAG.match(tag):
                self._problem(f"invalid segment tag {tag!r}", seg.position, tag or None, group=group, txn=txn)
                continue
            if done:
                self._problem("data after IEA", seg.position, tag)
                continue
            if tag == "GS":
                if txn is not None:
                    close_txn_missing(seg.position)
                    txn = None
                if group is not None:
                    close_group_missing(seg.position)
                n_groups += 1
                group_txns = 0
                v = seg.get
                group = FunctionalGroup(v(1), v(2), v(3), v(4), v(5), v(6), v(7), v(8), position=seg.position)
                ic.groups.append(group)
                if len(seg.elements) < 8:
                    self._problem("GS has fewer than 8 elements", seg.position, tag, group=group, ak9="6")
                yield seg, group, None
            elif tag == "ST":
                if txn is not None:
                    close_txn_missing(seg.position)
                txn = Transaction(
                    seg.get(1), seg.get(2), [seg] if keep else [], seg.position, segment_count=1
                )
                if group is None:
                    self._problem("ST outside a functional group", seg.position, tag, txn=txn)
                else:
                    group_txns += 1
                    group.transactions.append(txn)
                if not seg.get(1):
                    self._problem("ST01 (transaction set id) is missing", seg.position, tag, txn=txn, ak5="6")
                if not (seg.get(2).isdigit() and 4 <= len(seg.get(2)) <= 9):
                    self._problem(
                        f"ST02 {seg.get(2)!r} is not a 4-9 digit control number",
                        seg.position,
                        tag,
                        txn=txn,
                        ak5="7",
                    )
                yield seg, group, txn
            elif tag == "SE":
                if txn is None:
                    self._problem("SE without ST", seg.position, tag, group=group)
                    continue
                closing, txn = txn, None
                closing.segment_count += 1
                closing.end_position = seg.position
                if keep:
                    closing.segments.append(seg)
                declared, control = seg.get(1), seg.get(2)
                if _as_int(declared) != closing.segment_count:
                    self._problem(
                        f"SE01 is {declared}, but transaction {closing.control_number} has "
                        f"{closing.segment_count} segments from ST to SE",
                        seg.position,
                        tag,
                        group=group,
                        txn=closing,
                        ak5="4",
                    )
                if not _same_control(control, closing.control_number):
                    self._problem(
                        f"SE02 {control} does not match ST02 {closing.control_number}",
                        seg.position,
                        tag,
                        group=group,
                        txn=closing,
                        ak5="3",
                    )
                yield seg, group, closing
            elif tag == "GE":
                if txn is not None:
                    close_txn_missing(seg.position)
                    txn = None
                if group is None:
                    self._problem("GE without GS", seg.position, tag)
                    continue
                closing_group, group = group, None
                declared, control = seg.get(1), seg.get(2)
                closing_group.declared_count = _as_int(declared)
                if _as_int(declared) != group_txns:
                    self._problem(
                        f"GE01 is {declared}, but group {closing_group.control_number} has "
                        f"{group_txns} transaction sets",
                        seg.position,
                        tag,
                        group=closing_group,
                        ak9="5",
                    )
                if not _same_control(control, closing_group.control_number):
                    self._problem(
                        f"GE02 {control} does not match GS06 {closing_group.control_number}",
                        seg.position,
                        tag,
                        group=closing_group,
                        ak9="4",
                    )
                yield seg, closing_group, None
            elif tag == "IEA":
                if txn is not None:
                    close_txn_missing(seg.position)
                    txn = None
                if group is not None:
                    close_group_missing(seg.position)
                    group = None
                done = True
                declared, control = seg.get(1), seg.get(2)
                if _as_int(declared) != n_groups:
                    self._problem(
                        f"IEA01 is {declared}, but the interchange has {n_groups} functional groups",
                        seg.position,
                        tag,
                    )
                if not _same_control(control, ic.control_number):
                    self._problem(
                        f"IEA02 {control} does not match ISA13 {ic.control_number}", seg.position, tag
                    )
                yield seg, None, None
            elif tag == "ISA":
                self._problem("a second ISA before IEA (one interchange per file)", seg.position, tag)
            else:
                if txn is None:
                    self._problem(f"{tag} segment outside a transaction set", seg.position, tag, group=group)
                    continue
                txn.segment_count += 1
                if keep:
                    txn.segments.append(seg)
                yield seg, group, txn

        end = last + 1
        if txn is not None:
            close_txn_missing(end)
        if group is not None:
            close_group_missing(end)
        if not done:
            self._problem(f"missing IEA for ISA13 {ic.control_number}", end, "IEA")

    def read(self) -> Interchange:
        for _ in self.segments():
            pass
        return self.interchange


def _text_chunks(source: bytes | str | IO[bytes] | IO[str], encoding: str) -> Iterator[str]:
    if isinstance(source, str):
        yield source
        return
    if isinstance(source, bytes | bytearray | memoryview):
        yield bytes(source).decode(encoding, errors="replace")
        return
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    while True:
        chunk = source.read(_READ_CHUNK)
        if not chunk:
            break
        yield decoder.decode(chunk) if isinstance(chunk, bytes) else chunk
    tail = decoder.decode(b"", final=True)
    if tail:
        yield tail


def parse_interchange(data: bytes | str | IO[bytes] | IO[str], *, strict: bool = True) -> Interchange:
    """Read a whole interchange, keeping every segment. Strict raises X12Error at the first problem;
    lenient collects them in `Interchange.errors` (and on the group/transaction concerned)."""
    return X12Reader(data, strict=strict).read()


# -- writing --------------------------------------------------------------------------------------

SegmentInput = Segment | Sequence[Any]
"""A Segment, or a sequence whose first item is the tag: ["N1", "ST", "Jane Doe"].
Element values: str, int, Decimal, None (empty), or a tuple/list of components (a composite)."""


def _fmt_scalar(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, bool):
        raise TypeError("bool is not an X12 element value")
    return str(value)


class X12Writer:
    """Serialises interchanges: fixed-width ISA, control numbers and every trailer count.

    `control_numbers(kind)` is called with "interchange" for ISA13 and "group" for each GS06, so the
    database can own the sequences (they must not repeat per trading partner). ST02 restarts at 0001
    in each group, unless `transaction_numbers` asks `control_numbers("transaction")` for each ST02 too
    (partners that want set control numbers unique across interchanges).
    """

    def __init__(
        self,
        sender_qualifier: str,
        sender_id: str,
        receiver_qualifier: str,
        receiver_id: str,
        *,
        control_numbers: Callable[[str], int],
        usage: str = "P",
        element_sep: str = "*",
        component_sep: str = ">",
        segment_term: str = "~",
        repetition_sep: str = "U",
        line_ending: str = "\n",
        isa_version: str = "00401",
        ack_requested: bool = False,
        gs_sender: str | None = None,
        gs_receiver: str | None = None,
        transaction_numbers: bool = False,
    ):
        if usage not in ("P", "T"):
            raise ValueError(f"usage must be P or T, not {usage!r}")
        for name, value, width in (
            ("sender_qualifier", sender_qualifier, 2),
            ("receiver_qualifier", receiver_qualifier, 2),
            ("sender_id", sender_id, 15),
            ("receiver_id", receiver_id, 15),
        ):
            if not value or len(value) > width:
                raise ValueError(f"{name} {value!r} must be 1-{width} characters")
        seps = [element_sep, component_sep, segment_term] + (
            [] if repetition_sep == "U" else [repetition_sep]
        )
        if any(len(s) != 1 or s.isalnum() or s == " " for s in seps) or len(set(seps)) != len(seps):
            raise ValueError(f"delimiters must be distinct single non-alphanumeric characters: {seps!r}")
        if line_ending not in ("", "\n", "\r\n"):
            raise ValueError("line_ending must be '', '\\n' or '\\r\\n'")
        self.sender_qualifier, self.sender_id = sender_qualifier, sender_id
        self.receiver_qualifier, self.receiver_id = receiver_qualifier, receiver_id
        self.control_numbers = control_numbers
        self.usage = usage
        self.element_sep, self.component_sep = element_sep, component_sep
        self.segment_term, self.repetition_sep = segment_term, repetition_sep
        self.line_ending = line_ending
        self.isa_version = isa_version
        self.ack_requested = ack_requested
        self.gs_sender = gs_sender or sender_id
        self.gs_receiver = gs_receiver or receiver_id
        self.transaction_numbers = transaction_numbers
        self._forbidden = [
            (element_sep, "element separator"),
            (component_sep, "component separator"),
            (segment_term, "segment terminator"),
            ("\r", "carriage return"),
            ("\n", "line feed"),
        ] + ([] if repetition_sep == "U" else [(repetition_sep, "repetition separator")])

    def _check(self, tag: str, n: int, value: str, *, composite: bool = False) -> str:
        for ch, name in self._forbidden:
            if composite and ch == self.component_sep:
                continue
            if ch in value:
                raise X12Error(f"{tag}{n:02d} value {value!r} contains the {name} {ch!r}", None, tag)
        return value

    def render_segment(self, seg: SegmentInput) -> str:
        if isinstance(seg, Segment):
            tag = seg.tag
            # Re-split read composites so they are re-joined with this writer's component separator.
            values: list[Any] = [
                tuple(e.split(seg.component_sep)) if seg.component_sep in e else e for e in seg.elements
            ]
        else:
            tag, values = str(seg[0]), list(seg[1:])
        if not _TAG.match(tag):
            raise X12Error(f"invalid segment tag {tag!r}", None, tag)
        out = [tag]
        for n, value in enumerate(values, start=1):
            if isinstance(value, tuple | list):
                parts = [self._check(tag, n, _fmt_scalar(c)) for c in value]
                while parts and parts[-1] == "":
                    parts.pop()
                out.append(self._check(tag, n, self.component_sep.join(parts), composite=True))
            else:
                out.append(self._check(tag, n, _fmt_scalar(value)))
        while len(out) > 1 and out[-1] == "":  # X12 drops trailing empty elements
            out.pop()
        return self.element_sep.join(out)

    def _isa(self, control: int, now: datetime) -> str:
        fields = [
            "00",
            " " * 10,
            "00",
            " " * 10,
            self.sender_qualifier.ljust(2),
            self.sender_id.ljust(15),
            self.receiver_qualifier.ljust(2),
            self.receiver_id.ljust(15),
            now.strftime("%y%m%d"),
            now.strftime("%H%M"),
            self.repetition_sep,
            self.isa_version,
            f"{control:09d}",
            "1" if self.ack_requested else "0",
            self.usage,
            self.component_sep,
        ]
        for n, (value, width) in enumerate(zip(fields, ISA_WIDTHS, strict=True), start=1):
            if len(value) != width:
                raise X12Error(f"ISA{n:02d} {value!r} is not {width} characters", None, "ISA")
        return self.element_sep.join(["ISA", *fields])

    def write_interchange(
        self,
        groups: Iterable[tuple[str, str, Iterable[Sequence[SegmentInput]]]],
        now: datetime,
    ) -> str:
        """groups: (functional id e.g. "PO", version e.g. "004010", transactions); each transaction is
        a segment list starting with ST (ST01 set; ST02 is assigned here) and without SE (a trailing SE
        is dropped and recomputed)."""
        isa_ctl = self._control("interchange", 999_999_999)
        lines = [self._isa(isa_ctl, now)]
        n_groups = 0
        for functional_id, version, transactions in groups:
            n_groups += 1
            gs_ctl = self._control("group", 999_999_999)
            lines.append(
                self.render_segment(
                    [
                        "GS",
                        functional_id,
                        self.gs_sender,
                        self.gs_receiver,
                        now.strftime("%Y%m%d"),
                        now.strftime("%H%M"),
                        gs_ctl,
                        "X",
                        version,
                    ]
                )
            )
            n_txn = 0
            for segments in transactions:
                n_txn += 1
                segs = list(segments)
                if segs and _tag_of(segs[-1]) == "SE":
                    segs.pop()
                if not segs or _tag_of(segs[0]) != "ST":
                    raise X12Error(
                        "a transaction must start with an ST segment",
                        None,
                        _tag_of(segs[0]) if segs else None,
                    )
                st_ctl = f"{self._control('transaction', 999_999_999) if self.transaction_numbers else n_txn:04d}"
                if len(st_ctl) > 9:
                    raise X12Error("more than 999999999 transaction sets in one group", None, "ST")
                st = segs[0]
                set_id = st.get(1) if isinstance(st, Segment) else st[1]
                lines.append(self.render_segment(["ST", set_id, st_ctl]))
                lines.extend(self.render_segment(s) for s in segs[1:])
                lines.append(self.render_segment(["SE", len(segs) + 1, st_ctl]))
            lines.append(self.render_segment(["GE", n_txn, gs_ctl]))
        lines.append(self.render_segment(["IEA", n_groups, f"{isa_ctl:09d}"]))
        end = self.segment_term + self.line_ending
        return end.join(lines) + end

    def _control(self, kind: str, maximum: int) -> int:
        value = self.control_numbers(kind)
        if not isinstance(value, int) or not 0 < value <= maximum:
            raise ValueError(f"{kind} control number {value!r} must be 1..{maximum}")
        return value


def _tag_of(seg: SegmentInput) -> str:
    return seg.tag if isinstance(seg, Segment) else str(seg[0])
