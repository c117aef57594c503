"""GS1 identifiers (GTIN-8, UPC-A, EAN-13, GTIN-14): clean, re-pad, verify, normalise to GTIN-14.

Supplier feeds pass UPCs through Excel, which turns them into numbers: leading zeros vanish
("012345678905" -> "12345678905") and sometimes a ".0" or scientific notation appears. Zero-padding
never changes a GS1 check digit (zeros weigh nothing), so a UPC-A that lost its leading zero is the
same GTIN-14 as the original once padded back to 14 digits.
"""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s\-]")
_FLOAT_TAIL = re.compile(r"^(\d+)\.0*$")  # "12345678905.0" from a float cell
_SCIENTIFIC = re.compile(r"^\d+(\.\d+)?[eE][+-]?\d+$")


def check_digit(body: str) -> int:
    """The GS1 mod-10 check digit for `body` (all digits except the check digit)."""
    if not body.isdigit() or not body.isascii():
        raise ValueError(f"not digits: {body!r}")
    total = 0
    # Weights 3,1,3,... from the rightmost body digit, whatever the length.
    for i, ch in enumerate(reversed(body)):
        total += (ord(ch) - 48) * (3 if i % 2 == 0 else 1)
    return (10 - total % 10) % 10


def is_valid(digits: str) -> bool:
    """True when `digits` (8 to 14 digits, check digit last) has a correct GS1 check digit."""
    return (
        digits.isascii() and digits.isdigit() and 8 <= len(digits) <= 14
        and check_digit(digits[:-1]) == ord(digits[-1]) - 48
    )


def upce_to_upca(upce: str) -> str:
    """Expand an 8-digit UPC-E (number system 0 or 1, check digit last) to its 12-digit UPC-A."""
    if len(upce) != 8 or not upce.isdigit() or upce[0] not in "01":
        raise ValueError(f"not a UPC-E: {upce!r}")
    ns, d, check = upce[0], upce[1:7], upce[7]
    last = d[5]
    if last in "012":
        body = d[0:2] + last + "0000" + d[2:5]
    elif last == "3":
        body = d[0:3] + "00000" + d[3:5]
    elif last == "4":
        body = d[0:4] + "00000" + d[4]
    else:
        body = d[0:5] + "0000" + last
    return ns + body + check


def clean(value: str) -> str:
    """Digits of an identifier as typed in a feed; raises ValueError with a reason."""
    s = value.strip().lstrip("'")  # a leading apostrophe is Excel's "keep as text" marker
    s = _SEPARATORS.sub("", s)
    m = _FLOAT_TAIL.match(s)
    if m:
        s = m.group(1)
    elif _SCIENTIFIC.match(s):
        raise ValueError(f"{value.strip()!r} is in scientific notation: Excel dropped digits")
    if not s.isascii() or not s.isdigit():
        raise ValueError(f"{value.strip()!r} is not digits")
    return s


def normalize_gtin(value: str) -> str:
    """The 14-digit GTIN for a UPC-A/EAN-13/GTIN-8/GTIN-14 as a feed wrote it, check digit verified.

    Accepts 8 to 14 digits, so UPC-A and EAN-13 that lost leading zeros are re-padded. An 8-digit value
    is read as GTIN-8 first and as UPC-E (expanded to UPC-A) when only that verifies. Raises ValueError
    with a reason otherwise.
    """
    digits = clean(value)
    n = len(digits)
    if n < 8:
        raise ValueError(f"{digits!r} has {n} digits; a GTIN has 8 to 14")
    if n > 14:
        stripped = digits.lstrip("0")
        if len(stripped) > 14:
            raise ValueError(f"{digits!r} has {n} digits; a GTIN has 8 to 14")
        digits = stripped.zfill(14)
    padded = digits.zfill(14)
    if padded == "0" * 14:
        raise ValueError("all zeros is a placeholder, not a GTIN")
    if is_valid(padded):
        return padded
    if n == 8 and digits[0] in "01":
        upca = upce_to_upca(digits)
        if is_valid(upca):
            return upca.zfill(14)
    expected = check_digit(padded[:-1])
    raise ValueError(f"check digit of {digits} is {digits[-1]}, expected {expected}")
