"""Tracking numbers checked before they reach the customer: recognise the carrier from the number where the
format tells it, verify the check digit, name the carrier as each store platform expects, build the
tracking URL. Pure functions over the standard library.

Formats and check digits follow the carriers' published layouts as collected in the tracking_number_data
project (jkeen/tracking_number_data, CHECKSUM_ALGORITHMS.md and couriers/*.json): UPS 1Z (mod 10, letters
as (ord - 3) mod 10, every second character doubled), USPS IMpb and 20-digit numbers (GS1 mod 10, with
"91" prepended to 20-digit numbers that lack an application identifier), FedEx Express 12 and 34 digits
(weights 3,1,7 / 1,7,3 mod 11 mod 10), FedEx Ground 15 and 22 digits ("96...") and SSCC-18 (mod 10),
DHL Express air waybills (serial mod 7) and UPU S10 items such as Royal Mail, China Post and EMS
(weights 8,6,4,2,3,5,9,7 mod 11).

A number is refused only when it can be told whose it is and its check digit is wrong: a self-identifying
format (1Z..., an S10 item) that fails, or a number in a format of the carrier the supplier named that
fails. A number whose carrier cannot be told is passed on as given.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

# canonical carrier code -> (display name, tracking URL template with {number})
CARRIERS: dict[str, tuple[str, str | None]] = {
    "ups": ("UPS", "https://www.ups.com/track?tracknum={number}"),
    "usps": ("USPS", "https://tools.usps.com/go/TrackConfirmAction?tLabels={number}"),
    "fedex": ("FedEx", "https://www.fedex.com/fedextrack/?trknbr={number}"),
    "dhl": ("DHL Express", "https://www.dhl.com/en/express/tracking.html?AWB={number}&brand=DHL"),
    "royal_mail": ("Royal Mail", "https://www.royalmail.com/track-your-item#/tracking-results/{number}"),
    "china_post": ("China Post", "https://www.17track.net/en/track?nums={number}"),
    "china_ems": ("China EMS", "https://www.17track.net/en/track?nums={number}"),
    "canada_post": ("Canada Post",
                    "https://www.canadapost-postescanada.ca/track-reperage/en#/search?searchFor={number}"),
    "australia_post": ("Australia Post", "https://auspost.com.au/mypost/track/#/details/{number}"),
    "deutsche_post": ("Deutsche Post", "https://www.deutschepost.de/sendung/simpleQuery.html?form.sendungsnummer="
                                       "{number}"),
    "hong_kong_post": ("Hongkong Post", "https://www.17track.net/en/track?nums={number}"),
    "postal": ("Postal service", "https://www.17track.net/en/track?nums={number}"),  # another UPU S10 post
}

# What suppliers write for a carrier (lower case, spaces and punctuation folded) -> canonical code.
# SCACs from EDI TD503 included (UPSN, USPS, FDEG, FDE, FXFE, DHLC, RMLU ...).
ALIASES: dict[str, str] = {
    "ups": "ups", "upsn": "ups", "ups ground": "ups", "united parcel service": "ups", "upsground": "ups",
    "usps": "usps", "us postal service": "usps", "united states postal service": "usps", "uspostal": "usps",
    "fedex": "fedex", "fed ex": "fedex", "federal express": "fedex", "fdeg": "fedex", "fde": "fedex",
    "fxfe": "fedex", "fedex ground": "fedex", "fedex express": "fedex", "fdxg": "fedex", "fdxe": "fedex",
    "dhl": "dhl", "dhl express": "dhl", "dhlc": "dhl", "dhl worldwide express": "dhl",
    "royal mail": "royal_mail", "royalmail": "royal_mail", "rmlu": "royal_mail", "parcelforce": "royal_mail",
    "china post": "china_post", "chinapost": "china_post", "china ems": "china_ems", "ems": "china_ems",
    "china ems epacket": "china_ems", "epacket": "china_ems",
    "canada post": "canada_post", "canadapost": "canada_post",
    "australia post": "australia_post", "auspost": "australia_post",
    "deutsche post": "deutsche_post", "hongkong post": "hong_kong_post", "hong kong post": "hong_kong_post",
}

# S10 country suffix -> the post that issued it.
S10_POSTS = {"US": "usps", "GB": "royal_mail", "CN": "china_post", "CA": "canada_post", "AU": "australia_post",
             "DE": "deutsche_post", "HK": "hong_kong_post"}

# How each store platform wants the carrier named (what it recognises to build its own tracking link);
# a carrier a platform does not list goes as its display name (headless, WooCommerce custom provider).
# Shopify: its supported-carrier list (storefronts.md 1.5, capitalisation matters). BigCommerce:
# shipping_provider codes, else an AfterShip slug (storefronts.md 3.5).
PLATFORM_NAMES: dict[str, dict[str, str]] = {
    "shopify": {"ups": "UPS", "usps": "USPS", "fedex": "FedEx", "dhl": "DHL Express", "royal_mail": "Royal Mail",
                "china_post": "China Post", "china_ems": "China EMS (ePacket)", "canada_post": "Canada Post",
                "australia_post": "Australia Post", "deutsche_post": "Deutsche Post (DE)",
                "hong_kong_post": "Hongkong Post"},
    "bigcommerce": {"ups": "ups", "usps": "usps", "fedex": "fedex", "royal_mail": "royalmail",
                    "canada_post": "canadapost", "australia_post": "auspost", "dhl": "dhl",
                    "china_post": "china-post", "china_ems": "china-ems", "deutsche_post": "deutsch-post",
                    "hong_kong_post": "hong-kong-post"},
    "woocommerce": {"ups": "UPS", "usps": "USPS", "fedex": "Fedex", "dhl": "DHL", "royal_mail": "Royal Mail",
                    "china_post": "China Post", "china_ems": "China EMS", "canada_post": "Canada Post",
                    "australia_post": "Australia Post", "deutsche_post": "Deutsche Post DHL"},
}


@dataclass(frozen=True, slots=True)
class TrackingCheck:
    number: str  # normalised: spaces removed, upper case
    carrier_code: str | None  # canonical code when known (from the number or the name given)
    carrier: str  # display name: the canonical one when known, else what the supplier wrote
    valid: bool  # False: a check digit that the format defines is wrong
    reason: str = ""  # why it is refused, or how the carrier was told
    url: str | None = None
    format: str = ""  # the format recognised ("UPS 1Z", "S10", ...), "" when none


def _digits_value(ch: str) -> int:
    return int(ch) if ch.isdigit() else (ord(ch) - 3) % 10


def mod10(body: str, *, odd_weight: int = 1, even_weight: int = 1) -> int:
    """The check digit of `body` where characters at even 0-based index (from the left) weigh
    `even_weight` and those at odd index `odd_weight`; letters count as (ord - 3) mod 10 (UPS)."""
    total = sum(_digits_value(c) * (even_weight if i % 2 == 0 else odd_weight) for i, c in enumerate(body))
    return (10 - total % 10) % 10


def gs1_check_digit(body: str) -> int:
    """GS1 mod 10 (GTIN, SSCC, USPS IMpb): from the right, the digit next to the check digit weighs 3."""
    total = sum(int(c) * (3 if i % 2 == 0 else 1) for i, c in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def weighted_mod11_mod10(body: str, weights: tuple[int, ...]) -> int:
    return sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11 % 10


def s10_check_digit(serial: str) -> int:
    """UPU S10: weights 8,6,4,2,3,5,9,7 over the 8-digit serial; 11 - (sum mod 11), 10 -> 0, 11 -> 5."""
    total = sum(int(c) * w for c, w in zip(serial, (8, 6, 4, 2, 3, 5, 9, 7), strict=True))
    check = 11 - total % 11
    return {10: 0, 11: 5}.get(check, check)


def ups_check_digit(body15: str) -> int:
    return mod10(body15, odd_weight=2)


@dataclass(frozen=True, slots=True)
class _Format:
    name: str
    carrier: str  # canonical code, or "s10" (decided by the country suffix)
    pattern: re.Pattern[str]
    valid: Callable[[re.Match[str]], bool]
    self_identifying: bool = False  # the shape alone says whose it is: a wrong check digit is refused
    distinctive: bool = False  # a valid number of this shape is taken as this carrier's without a name given


def _ups(m: re.Match[str]) -> bool:
    return ups_check_digit(m["body"]) == _digits_value(m["check"])


def _gs1(m: re.Match[str]) -> bool:
    return gs1_check_digit(m["body"]) == int(m["check"])


def _usps20(m: re.Match[str]) -> bool:
    body = m["body"]
    return int(m["check"]) in (gs1_check_digit(body), gs1_check_digit("91" + body))


def _fedex12(m: re.Match[str]) -> bool:
    return weighted_mod11_mod10(m["body"], (3, 1, 7, 3, 1, 7, 3, 1, 7, 3, 1)) == int(m["check"])


def _fedex34(m: re.Match[str]) -> bool:
    return weighted_mod11_mod10(m["serial"], (1, 7, 3, 1, 7, 3, 1, 7, 3, 1, 7, 3, 1)) == int(m["check"])


def _fedex_ground(m: re.Match[str]) -> bool:
    return mod10(m["body"], odd_weight=3) == int(m["check"])


def _dhl(m: re.Match[str]) -> bool:
    return int(m["body"]) % 7 == int(m["check"])


def _s10(m: re.Match[str]) -> bool:
    return s10_check_digit(m["serial"]) == int(m["check"])


FORMATS: tuple[_Format, ...] = (
    _Format("UPS 1Z", "ups", re.compile(r"1Z(?P<body>[A-Z0-9]{15})(?P<check>[A-Z0-9])"), _ups, True, True),
    _Format("UPU S10", "s10",
            re.compile(r"(?P<service>[A-Z]{2})(?P<serial>\d{8})(?P<check>\d)(?P<country>[A-Z]{2})"), _s10, True, True),
    _Format("USPS IMpb", "usps",
            re.compile(r"(?:420\d{5}(?:\d{4})?)?(?P<body>9[1-5]\d{19}|9[1-5]\d{23})(?P<check>\d)"), _gs1,
            distinctive=True),
    _Format("USPS 20", "usps", re.compile(r"(?P<body>\d{19})(?P<check>\d)"), _usps20),
    _Format("FedEx Express 12", "fedex", re.compile(r"(?P<body>\d{11})(?P<check>\d)"), _fedex12),
    _Format("FedEx Express 34", "fedex", re.compile(r"100\d{17}(?P<serial>\d{13})(?P<check>\d)"), _fedex34,
            distinctive=True),
    _Format("FedEx Ground 15", "fedex", re.compile(r"(?P<body>\d{14})(?P<check>\d)"), _fedex_ground),
    _Format("FedEx Ground 96", "fedex", re.compile(r"96\d{5}(?P<body>\d{14})(?P<check>\d)"), _fedex_ground,
            distinctive=True),
    _Format("SSCC-18", "fedex", re.compile(r"(?P<body>\d{17})(?P<check>\d)"), _gs1),
    _Format("DHL Express", "dhl", re.compile(r"(?P<body>\d{9,10})(?P<check>\d)"), _dhl),
)

_FOLD = re.compile(r"[^a-z0-9]+")


def carrier_code(name: str | None) -> str | None:
    """The canonical code of a carrier name as suppliers write it ("UPS", "Fed Ex", "UPSN"), or None."""
    if not name:
        return None
    folded = _FOLD.sub(" ", name.lower()).strip()
    return ALIASES.get(folded) or ALIASES.get(folded.replace(" ", ""))


def normalise_number(number: str) -> str:
    return re.sub(r"[\s-]+", "", number or "").upper()


def _owner(fmt: _Format, m: re.Match[str]) -> str:
    if fmt.carrier != "s10":
        return fmt.carrier
    if m["service"].startswith("E") and m["country"] == "CN":
        return "china_ems"
    return S10_POSTS.get(m["country"], "postal")


def check_tracking(number: str, carrier: str | None = None) -> TrackingCheck:
    """Recognise, verify and describe a tracking number (see the module docstring for when it is refused)."""
    clean = normalise_number(number)
    hinted = carrier_code(carrier)
    given_name = (carrier or "").strip()
    if not clean:
        return TrackingCheck(clean, hinted, given_name, False, "the tracking number is empty")
    matches = [(fmt, m) for fmt in FORMATS if (m := fmt.pattern.fullmatch(clean))]
    # A format whose shape names its carrier decides, whatever name the supplier gave.
    for fmt, m in matches:
        if fmt.self_identifying:
            code = _owner(fmt, m)
            if not fmt.valid(m):
                return TrackingCheck(clean, code, _display(code, given_name), False,
                                     f"{clean} looks like a {fmt.name} number but its check digit is wrong",
                                     None, fmt.name)
            return _ok(clean, code, given_name, fmt.name, f"recognised as {fmt.name}")
    if hinted is not None:
        mine = [(fmt, m) for fmt, m in matches if fmt.carrier == hinted]
        if any(fmt.valid(m) for fmt, m in mine):
            fmt = next(f for f, m in mine if f.valid(m))
            return _ok(clean, hinted, given_name, fmt.name, f"a valid {fmt.name} number")
        if mine:
            names = ", ".join(dict.fromkeys(f.name for f, _ in mine))
            return TrackingCheck(clean, hinted, _display(hinted, given_name), False,
                                 f"{clean} has the shape of a {names} number but its check digit is wrong",
                                 None, mine[0][0].name)
        return _ok(clean, hinted, given_name, "", "carrier as named; its format is not one we can check")
    # No carrier named (or one we do not know): only a distinctive shape with a valid check digit tells it
    # (any 10 or 12 digits pass some carrier's check now and then).
    owners = list(dict.fromkeys(fmt.carrier for fmt, m in matches if fmt.distinctive and fmt.valid(m)))
    if len(owners) == 1:
        fmt = next(f for f, m in matches if f.distinctive and f.valid(m) and f.carrier == owners[0])
        return _ok(clean, owners[0], given_name, fmt.name, f"recognised as {fmt.name}")
    return TrackingCheck(clean, None, given_name, True, "carrier cannot be told from the number")


def _display(code: str | None, given: str) -> str:
    return CARRIERS[code][0] if code in CARRIERS else given


def _ok(number: str, code: str, given: str, fmt: str, reason: str) -> TrackingCheck:
    display, template = CARRIERS.get(code, (given, None))
    return TrackingCheck(number, code, display, True, reason, template.format(number=number) if template else None,
                         fmt)


def carrier_for_platform(platform: str, carrier: str) -> str:
    """The carrier name a store platform recognises (Shopify's list, BigCommerce's codes); else as given."""
    code = carrier_code(carrier)
    if code is None:
        return carrier
    return PLATFORM_NAMES.get(platform, {}).get(code, CARRIERS[code][0])


def tracking_url(carrier: str, number: str) -> str | None:
    code = carrier_code(carrier)
    template = CARRIERS[code][1] if code else None
    return template.format(number=normalise_number(number)) if template else None


# -- making numbers (emulators, tests) -----------------------------------------------------------------------


def make_ups_number(shipper: str, service: str, package: int) -> str:
    """A valid UPS 1Z number: 6-character shipper account, 2-character service, 7-digit package id."""
    body = f"{shipper.upper():0>6}"[-6:] + f"{service:0>2}"[-2:] + f"{package % 10**7:07d}"
    return f"1Z{body}{ups_check_digit(body)}"


def make_s10_number(service: str, serial: int, country: str) -> str:
    digits = f"{serial % 10**8:08d}"
    return f"{service.upper()}{digits}{s10_check_digit(digits)}{country.upper()}"


def make_usps_number(serial: int) -> str:
    """A valid 22-digit USPS IMpb number (application identifier 94, Priority Mail channel)."""
    body = f"9400111{serial % 10**14:014d}"
    return body + str(gs1_check_digit(body))
