"""A payment batch as a SEPA credit transfer (pain.001.001.03), written and validated against its schema by
the sepaxml library."""

from __future__ import annotations

from datetime import date

from sepaxml import SepaTransfer

from dropbridge.domain.errors import ValidationError


def sepa_xml(batch, debtor_name: str, debtor_iban: str, debtor_bic: str,
             execution: date | None = None) -> tuple[bytes | None, list[str]]:
    """(the XML, or None when no payment has bank details; the suppliers left out for want of IBAN/BIC)."""
    if batch.currency != "EUR":
        raise ValidationError(f"SEPA credit transfers are in EUR, not {batch.currency}", "currency")
    transfer = SepaTransfer({"name": debtor_name[:70], "IBAN": debtor_iban.replace(" ", ""),
                             "BIC": debtor_bic, "batch": True, "currency": "EUR"}, clean=True)
    skipped, added = [], 0
    for p in batch.payments:
        payee = p["payee"]
        if not payee.iban or not payee.bic:
            skipped.append(p["supplier"])
            continue
        transfer.add_payment({"name": payee.name[:70], "IBAN": payee.iban, "BIC": payee.bic,
                              "amount": p["amount"].amount, "execution_date": execution or date.today(),
                              "description": p["reference"][:140],
                              "endtoend_id": f"DB{batch.id}S{p['supplier_id']}"[:35]})
        added += 1
    if not added:
        return None, skipped
    try:
        return transfer.export(validate=True), skipped
    except Exception as exc:  # the library reports a schema failure as a bare Exception
        raise ValidationError(f"the SEPA file does not validate: {exc}", "sepa") from None
