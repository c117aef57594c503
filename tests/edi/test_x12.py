from __future__ import annotations

import io
from datetime import datetime
from decimal import Decimal

import pytest

from dropbridge.connectors.formats.x12.x12 import (
    Delimiters,
    Segment,
    X12Error,
    X12Reader,
    X12Writer,
    parse_interchange,
)

from .conftest import SAMPLE_NAMES, SAMPLE_TIME, SAMPLES, sample_text


def writer_like(ic, **kw) -> X12Writer:
    """A writer that reproduces the sample's own envelope values."""
    controls = {"interchange": int(ic.control_number), "group": int(ic.groups[0].control_number)}
    return X12Writer(
        ic.sender_qualifier,
        ic.sender_id,
        ic.receiver_qualifier,
        ic.receiver_id,
        control_numbers=controls.__getitem__,
        **kw,
    )


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_sample_parses_validates_and_round_trips_byte_for_byte(name):
    raw = (SAMPLES / f"{name}.edi").read_bytes()
    ic = parse_interchange(raw)
    assert ic.errors == []
    assert len(ic.groups) == 1 and len(ic.groups[0].transactions) == 1
    txn = ic.groups[0].transactions[0]
    assert txn.set_id == name
    assert txn.segments[0].tag == "ST" and txn.segments[-1].tag == "SE"
    assert int(txn.segments[-1].get(1)) == len(txn.segments) == txn.segment_count
    g = ic.groups[0]
    out = writer_like(ic).write_interchange([(g.functional_id, g.version, [txn.segments])], SAMPLE_TIME)
    assert out == raw.decode()
    again = parse_interchange(out)
    assert [(s.tag, s.elements) for s in again.groups[0].transactions[0].segments] == [
        (s.tag, s.elements) for s in txn.segments
    ]


def test_846_envelope_fields_and_positions():
    ic = parse_interchange(sample_text("846"))
    assert (ic.sender_qualifier, ic.sender_id, ic.receiver_qualifier, ic.receiver_id) == (
        "ZZ",
        "ACME01",
        "ZZ",
        "RETAILER",
    )
    assert (ic.date, ic.time, ic.version, ic.control_number, ic.ack_requested, ic.usage_indicator) == (
        "240315",
        "1405",
        "00401",
        "000000101",
        "0",
        "P",
    )
    assert ic.delimiters == Delimiters("*", ">", "~", None)
    g = ic.groups[0]
    assert (g.functional_id, g.sender, g.receiver, g.date, g.time, g.control_number, g.agency, g.version) == (
        "IB",
        "ACME01",
        "RETAILER",
        "20240315",
        "1405",
        "101",
        "X",
        "004010",
    )
    assert (g.position, g.declared_count) == (2, 1)
    t = g.transactions[0]
    assert (t.set_id, t.control_number, t.position, t.end_position) == ("846", "0001", 3, 15)
    assert [s.tag for s in t.body] == [
        "BIA",
        "N1",
        "LIN",
        "PID",
        "DTM",
        "CTP",
        "SDQ",
        "QTY",
        "LIN",
        "QTY",
        "CTT",
    ]
    lin = t.body[2]
    assert (lin.position, lin.get(3), lin.get(5), lin.get(9), t.position_in_set(lin.position)) == (
        6,
        "ACME-TS-BLK-M",
        "012345678905",
        "",
        4,
    )
    assert str(lin) == "LIN*1*VN*ACME-TS-BLK-M*UP*012345678905"


def test_reads_without_line_breaks_with_crlf_and_from_a_stream_in_tiny_chunks():
    text = sample_text("856")
    flat = text.replace("\n", "")
    crlf = text.replace("\n", "\r\n")

    class Trickle(io.RawIOBase):  # returns 7 bytes per read: chunk boundaries fall mid-segment
        def __init__(self, data: bytes):
            self.buf = io.BytesIO(data)

        def read(self, size=-1):
            return self.buf.read(7)

    expected = [
        (s.tag, s.elements, s.position) for s in parse_interchange(text).groups[0].transactions[0].segments
    ]
    for source in (flat, crlf.encode(), io.BytesIO(crlf.encode()), Trickle(text.encode()), io.StringIO(text)):
        ic = parse_interchange(source)
        assert [(s.tag, s.elements, s.position) for s in ic.groups[0].transactions[0].segments] == expected


def test_other_delimiters_and_5010_repetition_separator():
    w = X12Writer(
        "01",
        "123456789",
        "ZZ",
        "PARTNER",
        control_numbers=lambda kind: 7,
        element_sep="|",
        component_sep=":",
        segment_term="\n",
        repetition_sep="^",
        line_ending="",
        isa_version="00501",
        usage="T",
    )
    text = w.write_interchange(
        [("PO", "005010", [[["ST", "850"], ["REF", "ZZ", ("A", "B")], ["MSG", "x"]]])],
        datetime(2025, 1, 2, 3, 4),
    )
    assert text.splitlines()[0] == (
        "ISA|00|          |00|          |01|123456789      |ZZ|PARTNER        "
        "|250102|0304|^|00501|000000007|0|T|:"
    )
    ic = parse_interchange(text)
    assert ic.delimiters == Delimiters("|", ":", "\n", "^")
    assert (ic.usage_indicator, ic.version) == ("T", "00501")
    ref = ic.groups[0].transactions[0].body[0]
    assert ref.components(2) == ["A", "B"]
    seg = Segment("EQ", ["a^b"], 1, ":", "^")
    assert seg.repeats(1) == ["a", "b"]


# -- envelope errors: exact message and position (846 sample: ST at 3, SE at 15, GE 16, IEA 17) --------


def strict_error(text: str) -> X12Error:
    with pytest.raises(X12Error) as info:
        parse_interchange(text)
    return info.value


@pytest.mark.parametrize(
    ("old", "new", "message", "position", "tag"),
    [
        (
            "SE*13*0001",
            "SE*12*0001",
            "SE01 is 12, but transaction 0001 has 13 segments from ST to SE",
            15,
            "SE",
        ),
        ("SE*13*0001", "SE*13*0002", "SE02 0002 does not match ST02 0001", 15, "SE"),
        ("GE*1*101", "GE*2*101", "GE01 is 2, but group 101 has 1 transaction sets", 16, "GE"),
        ("GE*1*101", "GE*1*999", "GE02 999 does not match GS06 101", 16, "GE"),
        (
            "IEA*1*000000101",
            "IEA*2*000000101",
            "IEA01 is 2, but the interchange has 1 functional groups",
            17,
            "IEA",
        ),
        ("IEA*1*000000101", "IEA*1*000000999", "IEA02 000000999 does not match ISA13 000000101", 17, "IEA"),
        ("IEA*1*000000101~\n", "", "missing IEA for ISA13 000000101", 17, "IEA"),
        ("GE*1*101~\nIEA*1*000000101~\n", "", "missing GE for GS06 101", 16, "GE"),
        ("CTT*2~\nSE*13*0001~\nGE*1*101~\nIEA*1*000000101~\n", "", "missing SE for ST02 0001", 14, "SE"),
        (
            "ACME01         ",
            "ACME01        ",
            "ISA segment is 105 characters, expected 106 (ISA06 is 14 characters, expected 15)",
            1,
            "ISA",
        ),
        ("CTT*2~\n", "CTT*2~\nSE*13*0001~\nCTT*2~\n", "CTT segment outside a transaction set", 16, "CTT"),
        ("N1*SU*", "ST*846*0002~\nN1*SU*", "missing SE for ST02 0001", 5, "SE"),
        ("PID*F", "pid*F", "invalid segment tag 'pid'", 7, "pid"),
    ],
)
def test_strict_envelope_errors(old, new, message, position, tag):
    text = sample_text("846")
    assert old in text
    err = strict_error(text.replace(old, new, 1))
    assert (err.message, err.segment_position, err.segment_tag) == (message, position, tag)
    assert str(err) == f"segment {position} ({tag}): {message}"


def test_not_x12_and_truncated_isa():
    err = strict_error("UNA:+.? 'UNB+UNOC:3'")
    assert (err.message, err.segment_position) == ("not an X12 interchange: it does not start with ISA", 1)
    err = strict_error(sample_text("846")[:60])
    assert err.message == "ISA segment is truncated: fewer than 16 elements"


def test_lenient_mode_collects_every_problem_and_attaches_it():
    text = (
        sample_text("846")
        .replace("SE*13*0001", "SE*12*0002")
        .replace("GE*1*101", "GE*1*100")
        .replace("IEA*1*000000101", "IEA*1*000000102")
    )
    ic = parse_interchange(text, strict=False)
    assert [(e.segment_position, e.message) for e in ic.errors] == [
        (15, "SE01 is 12, but transaction 0001 has 13 segments from ST to SE"),
        (15, "SE02 0002 does not match ST02 0001"),
        (16, "GE02 100 does not match GS06 101"),
        (17, "IEA02 000000102 does not match ISA13 000000101"),
    ]
    g = ic.groups[0]
    t = g.transactions[0]
    assert [(e.ak5_code, e.segment_tag) for e in t.errors] == [("4", "SE"), ("3", "SE")]
    assert [(e.ak9_code, e.segment_tag) for e in g.errors] == [("4", "GE")]
    # the data itself is still all there
    assert len(t.segments) == 13


def test_lenient_mode_on_a_truncated_file():
    text = sample_text("846").split("QTY*33*0*EA")[0]
    ic = parse_interchange(text, strict=False)
    assert [(e.segment_position, e.segment_tag, e.message) for e in ic.errors] == [
        (13, "SE", "missing SE for ST02 0001"),
        (13, "GE", "missing GE for GS06 101"),
        (13, "IEA", "missing IEA for ISA13 000000101"),
    ]
    assert ic.groups[0].transactions[0].errors[0].ak5_code == "2"
    assert ic.groups[0].errors[0].ak9_code == "3"


def test_reader_streams_without_keeping_segments():
    reader = X12Reader(io.BytesIO(sample_text("856").encode()), keep_segments=False)
    tags = [seg.tag for seg, _g, _t in reader.segments()]
    assert tags[:3] == ["GS", "ST", "BSN"] and tags[-3:] == ["SE", "GE", "IEA"]
    txn = reader.interchange.groups[0].transactions[0]
    assert (txn.segments, txn.segment_count) == ([], 22)
    with pytest.raises(RuntimeError):
        next(reader.segments())


# -- writer --------------------------------------------------------------------------------------------


def make_writer(**kw) -> X12Writer:
    numbers = iter(range(41, 100))
    return X12Writer("ZZ", "RETAILER", "ZZ", "ACME01", control_numbers=lambda kind: next(numbers), **kw)


def test_writer_counts_controls_and_padding_over_several_groups():
    w = make_writer(usage="T")
    text = w.write_interchange(
        [
            (
                "PO",
                "004010",
                [
                    [["ST", "850"], ["BEG", "00", "DS", "PO1", None, "20240315"]],
                    [["ST", "850", "9999"], ["BEG", "00", "DS", "PO2", "", "20240315"], ["SE", "99", "1"]],
                ],
            ),
            (
                "IN",
                "004010VICS",
                [[["ST", "810"], ["TDS", 2380], ["SAC", "C", "G830", None, None, 480, None]]],
            ),
        ],
        datetime(2024, 3, 15, 9, 7),
    )
    assert text == (
        "ISA*00*          *00*          *ZZ*RETAILER       *ZZ*ACME01         "
        "*240315*0907*U*00401*000000041*0*T*>~\n"
        "GS*PO*RETAILER*ACME01*20240315*0907*42*X*004010~\n"
        "ST*850*0001~\nBEG*00*DS*PO1**20240315~\nSE*3*0001~\n"
        "ST*850*0002~\nBEG*00*DS*PO2**20240315~\nSE*3*0002~\n"
        "GE*2*42~\n"
        "GS*IN*RETAILER*ACME01*20240315*0907*43*X*004010VICS~\n"
        "ST*810*0001~\nTDS*2380~\nSAC*C*G830***480~\nSE*4*0001~\n"
        "GE*1*43~\n"
        "IEA*2*000000041~\n"
    )
    ic = parse_interchange(text)
    assert [len(g.transactions) for g in ic.groups] == [2, 1]


def test_writer_composites_decimals_and_no_line_breaks():
    w = make_writer(line_ending="")
    text = w.write_interchange(
        [("PO", "004010", [[["ST", "850"], ["PO1", 1, 2, ("EA", "", ""), Decimal("9.50")]]])],
        datetime(2024, 1, 1),
    )
    assert text.endswith("~ST*850*0001~PO1*1*2*EA*9.50~SE*3*0001~GE*1*42~IEA*1*000000041~")
    assert "\n" not in text


@pytest.mark.parametrize(
    ("segment", "message"),
    [
        (["N1", "ST", "Doe*Jane"], "N102 value 'Doe*Jane' contains the element separator '*'"),
        (["N3", "1 Main St~"], "N301 value '1 Main St~' contains the segment terminator '~'"),
        (["N3", "a>b"], "N301 value 'a>b' contains the component separator '>'"),
        (
            ["PID", "F", None, None, None, "two\nlines"],
            "PID05 value 'two\\nlines' contains the line feed '\\n'",
        ),
        (["PO1", 1, ("EA", "x*y")], "PO102 value 'x*y' contains the element separator '*'"),
    ],
)
def test_writer_refuses_delimiters_in_values(segment, message):
    with pytest.raises(X12Error) as info:
        make_writer().write_interchange([("PO", "004010", [[["ST", "850"], segment]])], datetime(2024, 1, 1))
    assert (info.value.message, info.value.segment_tag) == (message, segment[0])


def test_writer_configuration_errors():
    with pytest.raises(ValueError, match="sender_id"):
        X12Writer("ZZ", "X" * 16, "ZZ", "B", control_numbers=lambda k: 1)
    with pytest.raises(ValueError, match="distinct"):
        X12Writer("ZZ", "A", "ZZ", "B", control_numbers=lambda k: 1, component_sep="*")
    with pytest.raises(ValueError, match="usage"):
        X12Writer("ZZ", "A", "ZZ", "B", control_numbers=lambda k: 1, usage="X")
    w = X12Writer("ZZ", "A", "ZZ", "B", control_numbers=lambda k: 1_000_000_000)
    with pytest.raises(ValueError, match="interchange control number 1000000000 must be 1..999999999"):
        w.write_interchange([], datetime(2024, 1, 1))
    with pytest.raises(X12Error, match="must start with an ST"):
        make_writer().write_interchange([("PO", "004010", [[["BEG", "00"]]])], datetime(2024, 1, 1))
