"""What we accept at the edge, defined once: the API schemas, the webhook mappings, order intake and the feed
readers all take their limits from here, so SQLite and PostgreSQL give the same answer to the same input.

Lengths match the columns they end in (PostgreSQL refuses longer values, SQLite would keep them). No text
may hold a NUL (PostgreSQL refuses it in text) or half of a UTF-16 surrogate pair (it has no UTF-8 encoding);
identifiers (SKUs, external ids, codes) hold no control characters at all."""

from __future__ import annotations

import re

from .errors import ValidationError

# Column sizes (storage/tables.py) and sane bounds for what goes into JSON documents.
STORE_NAME_MAX = 100
EXTERNAL_ID_MAX = 100  # orders.external_id, order_lines.external_id
SKU_MAX = 200
EMAIL_MAX = 320
IDEMPOTENCY_KEY_MAX = 200
NAME_MAX = 200  # a person's or company's name
ADDRESS_MAX = 300
CITY_MAX = 100
PROVINCE_MAX = 100
POSTAL_CODE_MAX = 30
PHONE_MAX = 50
TITLE_MAX = 500
ORDER_NUMBER_MAX = 100

MAX_ORDER_LINES = 500
MAX_LINE_QUANTITY = 100_000  # units of one order line
MAX_STOCK = 10**9  # units a supplier may report for one SKU: within PostgreSQL's INTEGER
MAX_DB_ID = 2**63 - 1  # ids are 64-bit on every database

# Patterns for pydantic (Rust regex) and for `re` alike.
TEXT_PATTERN = r"^[^\x00]*$"
CODE_PATTERN = r"^[^\x00-\x1f\x7f]*$"
_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")
_BAD_CODE = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")

# ISO 3166-1 alpha-2, plus XK (Kosovo: user-assigned, but every store platform and the EU use it).
# tests/unit/test_limits.py checks the list against pycountry's copy of the ISO data.
COUNTRY_CODES = frozenset("""
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ
    CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO
    FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE
    JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO
    MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW
    PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM
    TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
    XK
""".split())  # noqa: SIM905 - a table reads better than 250 quoted strings


def check_text(value: str, field: str, max_length: int, *, code: bool = False) -> str:
    """`value` unchanged when it fits `max_length` and holds no forbidden character, else ValidationError.
    `code`: an identifier, which holds no control character at all."""
    if len(value) > max_length:
        raise ValidationError(f"{field} is longer than {max_length} characters", field)
    if (_BAD_CODE if code else _BAD_TEXT).search(value):
        what = "control characters" if code else "NUL characters or unpaired surrogates"
        raise ValidationError(f"{field} must not contain {what}", field)
    return value


def check_country(value: str, field: str) -> str:
    if value not in COUNTRY_CODES:
        raise ValidationError(f"{field} must be an ISO 3166-1 alpha-2 country code, not {value[:10]!r}", field)
    return value


def check_quantity(value: object, field: str, maximum: int = MAX_LINE_QUANTITY) -> int:
    """A whole number of units, 1..maximum; booleans, floats and strings are not numbers of units."""
    if type(value) is not int or not 1 <= value <= maximum:
        raise ValidationError(f"{field} must be a whole number from 1 to {maximum}", field)
    return value
