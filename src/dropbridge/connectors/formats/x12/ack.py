"""997 Functional Acknowledgment for every functional group received (suppliers.md section 5.7).

Envelope problems come from the interchange itself (read it with `parse_interchange(..., strict=False)`
so they are collected); application problems found in a document are passed in as AckError.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dropbridge.connectors.formats.x12.x12 import (
    FunctionalGroup,
    Interchange,
    Transaction,
    X12Writer,
    parse_interchange,
)


@dataclass(frozen=True, slots=True)
class AckError:
    """A segment (and optionally element) error for AK3/AK4, located by interchange segment position."""

    segment_position: int  # Segment.position; AK302 is derived from it relative to the ST
    segment_tag: str
    segment_code: str = "8"  # AK304 (720): 8 = segment has data element errors
    loop_id: str | None = None  # AK303
    element_position: int | None = None  # AK401
    element_code: str | None = None  # AK403 (723), e.g. 1 mandatory missing, 7 invalid code, 8 bad date
    element_ref: str | None = None  # AK402 data element reference number
    bad_value: str | None = None  # AK404


def _in(txn: Transaction, position: int) -> bool:
    end = txn.end_position if txn.end_position is not None else txn.position + txn.segment_count - 1
    return txn.position <= position <= end


def _group_ack(group: FunctionalGroup, accepted: bool, errors: Sequence[AckError]) -> list[list[Any]]:
    group_codes = [e.ak9_code for e in group.errors if e.ak9_code]
    group_rejected = bool(group.errors)  # lost or extra sets: nothing in the group can be trusted
    segs: list[list[Any]] = [["ST", "997"], ["AK1", group.functional_id, group.control_number]]
    n_accepted = 0
    for txn in group.transactions:
        segs.append(["AK2", txn.set_id, txn.control_number])
        mine = [e for e in errors if _in(txn, e.segment_position)]
        for e in mine:
            segs.append(
                ["AK3", e.segment_tag, txn.position_in_set(e.segment_position), e.loop_id, e.segment_code]
            )
            if e.element_position is not None:
                segs.append(["AK4", e.element_position, e.element_ref, e.element_code or "7", e.bad_value])
        codes = list(dict.fromkeys(e.ak5_code for e in txn.errors if e.ak5_code))
        if mine and "5" not in codes:
            codes.append("5")  # 5: one or more segments in error
        if txn.errors or group_rejected or not accepted:
            status = "R"
        elif mine:
            status = "E"
        else:
            status = "A"
        if status != "R":
            n_accepted += 1
        segs.append(["AK5", status, *codes[:5]])
    received = len(group.transactions)
    included = group.declared_count if group.declared_count is not None else received
    if group_rejected or n_accepted == 0:
        status = "R"
    elif n_accepted < received:
        status = "P"
    elif any(s[0] == "AK5" and s[1] == "E" for s in segs):
        status = "E"
    else:
        status = "A"
    segs.append(["AK9", status, included, received, n_accepted, *list(dict.fromkeys(group_codes))[:5]])
    return segs


def ack_997(
    interchange: Interchange,
    accepted: bool,
    errors: Sequence[AckError],
    writer: X12Writer,
    now: datetime,
) -> str:
    """One 997 transaction per GS received, in one FA group. `accepted=False` rejects every set
    (AK5 R); envelope errors recorded on the interchange reject their set or group regardless.
    997 groups are not acknowledged (X12 forbids acking an ack). The result is re-read with the
    strict reader before it is returned."""
    groups = [g for g in interchange.groups if g.functional_id != "FA"]
    if not groups:
        raise ValueError("nothing to acknowledge: the interchange holds no functional group other than 997")
    transactions = [_group_ack(g, accepted, errors) for g in groups]
    text = writer.write_interchange([("FA", "004010", transactions)], now)
    parse_interchange(text)  # our own output must pass our own envelope checks
    return text
