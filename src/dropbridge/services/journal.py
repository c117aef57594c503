"""The ledger as a journal for an accounting tool (`dropbridge export journal`): each ledger entry becomes a
balanced pair of lines, its kind's account and that account's contra account, debit and credit, in the
entry's currency. Income (a positive entry) is credited to its account and debited to the contra (money to
receive from the store's payout); a cost (negative) is debited to its account and credited to the contra (money
owed to the supplier or the platform); a reversal swaps them, as its sign says. The accounts are the defaults
below unless a mapping file names others, per kind.

    {"revenue": {"account": "8400", "contra": "1360"}, "supplier_cost": {"account": "3400"}}

Rows stream from the database in entry order; an export of a million entries never holds them all."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from typing import Any

from dropbridge.domain.errors import ValidationError
from dropbridge.domain.ledger import EntryKind
from dropbridge.domain.money import Money

from .margin_report import date_range

# A small chart of accounts in the usual numbering (1 assets, 2 liabilities, 4 income, 5-6 expenses).
DEFAULT_ACCOUNTS: dict[str, dict[str, str]] = {
    EntryKind.REVENUE: {"account": "4000 Sales", "contra": "1200 Receivable from store payouts"},
    EntryKind.SHIPPING_REVENUE: {"account": "4100 Shipping income", "contra": "1200 Receivable from store payouts"},
    EntryKind.TAX_COLLECTED: {"account": "2200 Sales tax payable", "contra": "1200 Receivable from store payouts"},
    EntryKind.SUPPLIER_COST: {"account": "5000 Cost of goods sold", "contra": "2000 Payable to suppliers"},
    EntryKind.SUPPLIER_SHIPPING: {"account": "5100 Freight in", "contra": "2000 Payable to suppliers"},
    EntryKind.SUPPLIER_FEE: {"account": "5200 Supplier fees", "contra": "2000 Payable to suppliers"},
    EntryKind.COST_VARIANCE: {"account": "5300 Purchase price variance", "contra": "2000 Payable to suppliers"},
    EntryKind.PAYMENT_FEE: {"account": "6100 Payment processing fees", "contra": "1200 Receivable from store payouts"},
    EntryKind.PLATFORM_FEE: {"account": "6200 Platform fees", "contra": "1200 Receivable from store payouts"},
    EntryKind.COMMISSION: {"account": "6300 Commissions", "contra": "2100 Commissions payable"},
    EntryKind.FX_DIFFERENCE: {"account": "7000 Exchange differences", "contra": "2000 Payable to suppliers"},
    EntryKind.REFUND: {"account": "4900 Sales returns and refunds", "contra": "1200 Receivable from store payouts"},
    EntryKind.SUPPLIER_REFUND: {"account": "5000 Cost of goods sold", "contra": "1300 Receivable from suppliers"},
}
HEADER = ["date", "entry", "account", "debit", "credit", "currency", "description", "order", "store", "supplier",
          "kind"]


def accounts_from(text: str | None, source: str = "the account mapping") -> dict[str, dict[str, str]]:
    """The defaults, with a JSON mapping's accounts over them; an unknown kind or a bad value is refused."""
    accounts = {str(k): dict(v) for k, v in DEFAULT_ACCOUNTS.items()}
    if not text:
        return accounts
    try:
        given = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"{source}: not JSON: {exc}", "accounts") from None
    if not isinstance(given, dict):
        raise ValidationError(f"{source}: must be an object of ledger kinds", "accounts")
    for kind, spec in given.items():
        if kind not in accounts:
            raise ValidationError(f"{source}: {kind!r} is not a ledger kind ({', '.join(accounts)})", kind)
        if not isinstance(spec, dict) or set(spec) - {"account", "contra"} or not all(
                isinstance(v, str) and 0 < len(v) <= 100 for v in spec.values()):
            raise ValidationError(f"{source}: {kind} must be {{\"account\": \"...\", \"contra\": \"...\"}} "
                                  "(text up to 100 characters)", kind)
        accounts[kind].update(spec)
    return accounts


def journal_rows(ctx, start: date | None = None, end: date | None = None,
                 accounts: dict[str, dict[str, str]] | None = None) -> Iterator[list[Any]]:
    """Two rows per ledger entry dated start..end (UTC days, inclusive), debit first."""
    accounts = accounts or accounts_from(None)
    since, until = date_range(start, end)
    with ctx.uow(read_only=True) as uow:
        for entry_id, at, kind, amount, cur, memo, order, store, supplier in uow.ledger.journal(since, until):
            if not amount:
                continue
            acc = accounts.get(kind) or {"account": f"9999 Unmapped ({kind})", "contra": "9999 Unmapped"}
            value = str(Money(abs(amount), cur).to_decimal())
            debit, credit = (acc["contra"], acc["account"]) if amount > 0 else (acc["account"], acc["contra"])
            common = [cur, memo, order, store, supplier or "", kind]
            day = at.date().isoformat()
            yield [day, entry_id, debit, value, "", *common]
            yield [day, entry_id, credit, "", value, *common]
