from __future__ import annotations

from datetime import datetime

import pytest

from dropbridge.connectors.formats.x12.ack import AckError, ack_997
from dropbridge.connectors.formats.x12.x12 import X12Writer, parse_interchange

from .conftest import SAMPLE_TIME, sample_text


def writer() -> X12Writer:
    return X12Writer("ZZ", "ACME01", "ZZ", "RETAILER", control_numbers=lambda kind: 106)


def body(text: str) -> list[str]:
    """The 997 transaction sets' segments, as text, between GS and GE."""
    lines = text.splitlines()
    return [line.rstrip("~") for line in lines[2:-2]]


def test_accepting_the_850_sample_reproduces_the_997_sample_exactly():
    ic = parse_interchange(sample_text("850"))
    assert ack_997(ic, True, [], writer(), SAMPLE_TIME) == sample_text("997")


def test_rejected_by_the_application():
    out = ack_997(parse_interchange(sample_text("850")), False, [], writer(), SAMPLE_TIME)
    assert body(out) == ["ST*997*0001", "AK1*PO*102", "AK2*850*0001", "AK5*R", "AK9*R*1*1*0", "SE*6*0001"]


def test_segment_and_element_errors_accept_with_errors():
    ic = parse_interchange(sample_text("850"))
    po1 = ic.groups[0].transactions[0].body[8]
    assert (po1.tag, po1.position) == ("PO1", 12)
    errors = [
        AckError(
            po1.position,
            "PO1",
            loop_id="PO1",
            element_position=4,
            element_ref="212",
            element_code="6",
            bad_value="9.5O",
        )
    ]
    out = ack_997(ic, True, errors, writer(), SAMPLE_TIME)
    assert body(out) == [
        "ST*997*0001",
        "AK1*PO*102",
        "AK2*850*0001",
        "AK3*PO1*10*PO1*8",
        "AK4*4*212*6*9.5O",
        "AK5*E*5",
        "AK9*E*1*1*1",
        "SE*8*0001",
    ]


def test_envelope_errors_from_a_lenient_read_reject_with_their_codes():
    bad_se = sample_text("846").replace("SE*13*0001", "SE*12*0001")
    out = ack_997(parse_interchange(bad_se, strict=False), True, [], writer(), SAMPLE_TIME)
    assert body(out) == ["ST*997*0001", "AK1*IB*101", "AK2*846*0001", "AK5*R*4", "AK9*R*1*1*0", "SE*6*0001"]

    bad_ge = sample_text("846").replace("GE*1*101", "GE*2*101")
    out = ack_997(parse_interchange(bad_ge, strict=False), True, [], writer(), SAMPLE_TIME)
    assert body(out) == ["ST*997*0001", "AK1*IB*101", "AK2*846*0001", "AK5*R", "AK9*R*2*1*0*5", "SE*6*0001"]

    truncated = sample_text("846").split("CTT*2")[0]
    out = ack_997(parse_interchange(truncated, strict=False), True, [], writer(), SAMPLE_TIME)
    assert body(out) == ["ST*997*0001", "AK1*IB*101", "AK2*846*0001", "AK5*R*2", "AK9*R*1*1*0*3", "SE*6*0001"]


def test_one_997_per_group_partial_acceptance_and_it_validates():
    w = X12Writer("ZZ", "RETAILER", "ZZ", "ACME01", control_numbers=lambda kind: 300)
    two_groups = w.write_interchange(
        [
            (
                "PO",
                "004010",
                [[["ST", "850"], ["BEG", "00", "DS", "A"]], [["ST", "850"], ["BEG", "00", "DS", "B"]]],
            ),
            ("PO", "004010", [[["ST", "850"], ["BEG", "00", "DS", "C"]]]),
        ],
        datetime(2024, 3, 15, 14, 5),
    )
    ic = parse_interchange(two_groups)
    second_beg = ic.groups[0].transactions[1].body[0]
    errors = [AckError(second_beg.position, "BEG", segment_code="8", element_position=3, element_code="1")]
    out = ack_997(ic, True, errors, writer(), SAMPLE_TIME)
    assert body(out) == [
        "ST*997*0001",
        "AK1*PO*300",
        "AK2*850*0001",
        "AK5*A",
        "AK2*850*0002",
        "AK3*BEG*2**8",
        "AK4*3**1",
        "AK5*E*5",
        "AK9*E*2*2*2",
        "SE*10*0001",
        "ST*997*0002",
        "AK1*PO*300",
        "AK2*850*0001",
        "AK5*A",
        "AK9*A*1*1*1",
        "SE*6*0002",
    ]
    parsed = parse_interchange(out)
    assert [t.set_id for _g, t in parsed.transactions] == ["997", "997"]


def test_partially_accepted_group_when_one_set_has_an_envelope_error():
    w = X12Writer("ZZ", "RETAILER", "ZZ", "ACME01", control_numbers=lambda kind: 300)
    text = w.write_interchange(
        [
            (
                "PO",
                "004010",
                [[["ST", "850"], ["BEG", "00", "DS", "A"]], [["ST", "850"], ["BEG", "00", "DS", "B"]]],
            )
        ],
        datetime(2024, 3, 15, 14, 5),
    ).replace("SE*3*0002", "SE*3*0003")
    out = ack_997(parse_interchange(text, strict=False), True, [], writer(), SAMPLE_TIME)
    assert body(out) == [
        "ST*997*0001",
        "AK1*PO*300",
        "AK2*850*0001",
        "AK5*A",
        "AK2*850*0002",
        "AK5*R*3",
        "AK9*P*2*2*1",
        "SE*8*0001",
    ]


def test_a_997_is_not_acknowledged():
    with pytest.raises(ValueError, match="nothing to acknowledge"):
        ack_997(parse_interchange(sample_text("997")), True, [], writer(), SAMPLE_TIME)
