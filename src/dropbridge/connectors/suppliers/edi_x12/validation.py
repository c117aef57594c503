"""What must hold in the documents we read, element by element, so a malformed file is refused whole with a
997 naming the segment and element (AK3/AK4) instead of half applied. Element requirements follow the
X12 004010 segment definitions as the Bots grammars carry them (suppliers.md section 5): M mandatory,
types N0/R numeric, DT CCYYMMDD dates. Only what our mapping relies on is checked."""

from __future__ import annotations

import re
from datetime import datetime

from dropbridge.connectors.formats.x12.ack import AckError
from dropbridge.connectors.formats.x12.x12 import Transaction

# segment -> {element position: (data element reference, rule)}; rule: M (mandatory), N (numeric if present),
# MN (mandatory numeric), D (date CCYYMMDD if present), MD (mandatory date)
RULES: dict[str, dict[str, dict[int, tuple[str, str]]]] = {
    "855": {
        "BAK": {1: ("353", "M"), 2: ("587", "M"), 3: ("324", "M"), 4: ("373", "MD")},
        "PO1": {2: ("330", "N"), 4: ("212", "N")},
        "ACK": {1: ("668", "M"), 2: ("380", "N")},
    },
    "856": {
        "BSN": {1: ("353", "M"), 2: ("396", "M"), 3: ("373", "MD"), 4: ("337", "M")},
        "HL": {1: ("628", "M"), 3: ("735", "M")},
        "PRF": {1: ("324", "M")},
        "SN1": {2: ("382", "MN"), 3: ("355", "M")},
        "REF": {1: ("128", "M")},
        "MAN": {1: ("88", "M"), 2: ("87", "M")},
    },
    "810": {
        "BIG": {1: ("373", "MD"), 2: ("76", "M"), 3: ("373", "D")},
        "IT1": {2: ("358", "N"), 4: ("212", "N")},
        "TDS": {1: ("610", "MN")},
        "SAC": {1: ("248", "M"), 5: ("610", "N")},
    },
    "997": {
        "AK1": {1: ("479", "M"), 2: ("28", "MN")},
        "AK2": {1: ("143", "M"), 2: ("329", "M")},
        "AK5": {1: ("717", "M")},
        "AK9": {1: ("715", "M"), 2: ("97", "MN"), 3: ("123", "MN"), 4: ("2", "MN")},
    },
}
# Segments a set cannot be read without.
REQUIRED = {"855": ("BAK",), "856": ("BSN", "HL"), "810": ("BIG", "TDS"), "997": ("AK1", "AK9")}
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)\Z")


def _bad_date(value: str) -> bool:
    try:
        datetime.strptime(value, "%Y%m%d")
    except ValueError:
        return True
    return len(value) != 8


def validate(txn: Transaction) -> list[AckError]:
    """Every element problem in the set (AK4 codes: 1 mandatory missing, 6 invalid character, 8 bad date),
    plus a missing required segment (AK3 code 3, at the SE)."""
    rules = RULES.get(txn.set_id)
    if rules is None:
        return []
    errors: list[AckError] = []
    seen: set[str] = set()
    for seg in txn.body:
        seen.add(seg.tag)
        for position, (ref, rule) in rules.get(seg.tag, {}).items():
            value = seg.get(position)
            code = None
            if not value:
                code = "1" if rule.startswith("M") else None
            elif rule.endswith("N") and not _NUMBER.match(value):
                code = "6"
            elif rule.endswith("D") and _bad_date(value):
                code = "8"
            if code:
                errors.append(AckError(seg.position, seg.tag, "8", None, position, code, ref, value[:99] or None))
    end = txn.end_position or txn.position
    for tag in REQUIRED.get(txn.set_id, ()):
        if tag not in seen:
            errors.append(AckError(end, tag, "3"))  # AK304 3: mandatory segment missing
    return errors
