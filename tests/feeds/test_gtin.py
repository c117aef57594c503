import pytest
from hypothesis import given
from hypothesis import strategies as st

from dropbridge.connectors.formats.feeds.gtin import check_digit, clean, is_valid, normalize_gtin, upce_to_upca


@pytest.mark.parametrize(
    "body, digit",
    [("01234567890", 5), ("400638133393", 1), ("9638507", 4), ("0001234567890", 5), ("7", 9)],
)
def test_check_digit_known_values(body, digit):
    assert check_digit(body) == digit


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("012345678905", "00012345678905"),  # UPC-A
        ("12345678905", "00012345678905"),  # UPC-A that lost its leading zero in Excel
        ("12345678905.0", "00012345678905"),  # ... and became a float
        ("'012345678905", "00012345678905"),  # Excel text marker
        ("0-12345-67890-5", "00012345678905"),
        ("4006381333931", "04006381333931"),  # EAN-13
        ("96385074", "00000096385074"),  # GTIN-8
        ("10012345678902", "10012345678902"),  # GTIN-14
        ("000012345678905", "00012345678905"),  # over-padded
        ("04252614", "00042100005264"),  # UPC-E, expanded to UPC-A 042100005264
    ],
)
def test_normalize(raw, expected):
    assert normalize_gtin(raw) == expected


@pytest.mark.parametrize(
    "raw, reason",
    [
        ("12345678906", "check digit of 12345678906 is 6, expected 5"),
        ("1.23457E+11", "scientific notation"),
        ("ABC123", "not digits"),
        ("1234567", "7 digits"),
        ("123456789012345", "15 digits"),
        ("00000000000000", "placeholder"),
        ("", "not digits"),
    ],
)
def test_normalize_rejects(raw, reason):
    with pytest.raises(ValueError, match=reason):
        normalize_gtin(raw)


def test_upce_expansion_rules():
    assert upce_to_upca("01234505") == "012000003455"  # last digit 0-2
    assert upce_to_upca("01234535") == "012300000455"  # 3
    assert upce_to_upca("01234545") == "012340000055"  # 4
    assert upce_to_upca("01234565") == "012345000065"  # 5-9
    with pytest.raises(ValueError):
        upce_to_upca("21234565")


def test_clean():
    assert clean(" 0123 4567 ") == "01234567"
    with pytest.raises(ValueError):
        clean("12.5")


bodies = st.sampled_from([7, 11, 12, 13]).flatmap(lambda n: st.text("0123456789", min_size=n, max_size=n))


@given(bodies)
def test_any_valid_code_normalises_with_or_without_leading_zeros(body):
    code = body + str(check_digit(body))
    if set(code) == {"0"}:
        return
    expected = code.zfill(14)
    assert is_valid(code)
    assert normalize_gtin(code) == expected
    stripped = code.lstrip("0")
    if len(stripped) >= 8:
        assert normalize_gtin(stripped) == expected  # Excel dropped the zeros
        assert normalize_gtin(stripped + ".0") == expected


@given(bodies, st.data())
def test_any_single_digit_error_is_caught(body, data):
    code = body + str(check_digit(body))
    pos = data.draw(st.integers(0, len(code) - 1))
    new = data.draw(st.sampled_from([d for d in "0123456789" if d != code[pos]]))
    broken = code[:pos] + new + code[pos + 1:]
    assert not is_valid(broken.zfill(14))
