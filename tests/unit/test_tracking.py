"""Tracking numbers: carrier recognition, check digits, platform names and URLs (domain/tracking.py).

Valid and invalid numbers are the published examples of jkeen/tracking_number_data (couriers/*.json), which
collects the carriers' layouts; the GS1 mod-10 digit is cross-checked against python-stdnum."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum import ean

from dropbridge.domain.tracking import (
    carrier_for_platform,
    check_tracking,
    gs1_check_digit,
    make_s10_number,
    make_ups_number,
    make_usps_number,
    tracking_url,
)

VALID = {
    "UPS": ["1Z5R89390357567127", "1Z879E930346834440", "1Z410E7W0392751591", "1Z8V92A70367203024",
            "1Z999AA10123456784"],
    "FedEx": ["986578788855", "477179081230", "799531274483", "790535312317", "974367662710",
              "1001921334250001000300779017972697", "0414 4176 0228 964", "5682 8361 0012 734",
              "00 0123 4500 0000 0027", "9611020987654312345672"],
    "USPS": ["0307 1790 0005 2348 3741", "7112 3456 7891 2345 6787", "4201002334249200190132607600833457",
             "7196 9010 7560 0307 7385", "9505 5110 6960 5048 6006 24", "9400 1112 0108 0805 4830 16",
             "92748931507708513018050063", "9405803699300124287899"],
    "DHL": ["3318810025", "73891051146", "8487135506", "1099255990", "3821724944"],
    "Royal Mail": ["RB123456785GB"],
    "China Post": ["RB123456785CN"],
}
INVALID = {
    "UPS": ["1Z5R89390357567128", "1Z1111111111111111"],
    "FedEx": ["996578788855", "5682 8361 0012 732", "1001901781990001000300617767839438"],
    "USPS": ["0307 1790 0005 2348 3742", "9200000000000000000000"],
    "DHL": ["3318810010", "3318810034", "3318810011"],
    "Royal Mail": ["RB123456786GB"],
}


@pytest.mark.parametrize(("carrier", "number"), [(c, n) for c, ns in VALID.items() for n in ns])
def test_published_valid_numbers_pass_for_their_carrier(carrier, number):
    result = check_tracking(number, carrier)
    assert result.valid, result.reason
    assert result.number == number.replace(" ", "")
    assert result.url and result.number in result.url


@pytest.mark.parametrize(("carrier", "number"), [(c, n) for c, ns in INVALID.items() for n in ns])
def test_published_invalid_numbers_are_refused_naming_the_check_digit(carrier, number):
    result = check_tracking(number, carrier)
    assert not result.valid
    assert "check digit is wrong" in result.reason
    assert result.url is None


def test_self_identifying_numbers_are_recognised_without_a_carrier_name():
    assert (check_tracking("1z999aa1 0123456784").carrier_code, check_tracking("1Z999AA10123456784").carrier) == \
        ("ups", "UPS")
    assert check_tracking("EA123456785CN").carrier == "China EMS"
    assert check_tracking("RB123456785GB").carrier == "Royal Mail"
    assert check_tracking("RB123456785US").carrier == "USPS"
    assert check_tracking("9400111201080805483016").carrier == "USPS"
    # ...and refused whatever carrier the supplier named when their check digit fails
    assert not check_tracking("1Z999AA10123456785", "DHL").valid
    assert not check_tracking("RB123456786CN").valid


def test_a_number_whose_carrier_cannot_be_told_passes_as_given():
    for number, carrier in (("3318810010", None), ("YT2212345678901234", "Yanwen"), ("ABC-123", "Local courier")):
        result = check_tracking(number, carrier)
        assert result.valid and result.carrier_code is None
        assert result.carrier == (carrier or "")
        assert result.url is None


def test_empty_number_is_refused():
    assert not check_tracking("  ", "UPS").valid


def test_carrier_names_per_platform():
    assert carrier_for_platform("shopify", "UPSN") == "UPS"
    assert carrier_for_platform("shopify", "fed ex") == "FedEx"
    assert carrier_for_platform("shopify", "China EMS") == "China EMS (ePacket)"
    assert carrier_for_platform("bigcommerce", "Royal Mail") == "royalmail"
    assert carrier_for_platform("bigcommerce", "DHL Express") == "dhl"
    assert carrier_for_platform("headless", "united parcel service") == "UPS"
    assert carrier_for_platform("shopify", "Yanwen") == "Yanwen"
    assert tracking_url("USPS", "9400 1112 0108 0805 4830 16") == \
        "https://tools.usps.com/go/TrackConfirmAction?tLabels=9400111201080805483016"


@given(st.integers(min_value=0, max_value=10**7 - 1), st.sampled_from(["ACME01", "5R8939", "X"]))
def test_made_numbers_are_valid(package, shipper):
    assert check_tracking(make_ups_number(shipper, "03", package), "UPS").valid
    assert check_tracking(make_s10_number("LX", package, "CN")).valid
    assert check_tracking(make_usps_number(package)).valid


@given(st.text(alphabet="0123456789", min_size=7, max_size=25))
def test_gs1_digit_matches_python_stdnum(body):
    assert gs1_check_digit(body) == int(ean.calc_check_digit(body))
