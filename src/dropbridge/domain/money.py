"""Money as integer minor units plus an ISO 4217 code. Never a float."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from functools import lru_cache

from .currencies import EXPONENTS
from .errors import CurrencyError, ValidationError

# The largest amount one price, cost, fee, shipping charge or line total may have, in minor units. 10**15 is
# ten trillion dollars (a quadrillion yen), beyond any real order, and leaves room under the 64-bit ceiling
# of our BIGINT columns (9.2 * 10**18) to add up more than 9,000 of them: an order of 500 maximal lines plus
# shipping, fees and its ledger still fits, on SQLite and PostgreSQL alike. Every amount entering from outside
# (API, webhooks, feeds, invoices) is refused beyond it, naming its field.
MAX_AMOUNT_MINOR = 10**15

# ISO 4217 codes CLDR knows that are not money a shop can take: metals, bond units, SDRs, test and "no currency".
_NOT_MONEY = frozenset({"XAG", "XAU", "XPD", "XPT", "XBA", "XBB", "XBC", "XBD", "XDR", "XSU", "XUA", "XTS", "XXX",
                        "XRE", "XFO", "XFU", "XEU", "XAD"})


@lru_cache(maxsize=512)
def exponent(currency: str) -> int:
    """Minor-unit digits of a currency (USD 2, JPY 0, KWD 3), from CLDR; an unknown code is refused."""
    code = currency.upper() if isinstance(currency, str) else currency
    if not isinstance(code, str) or not known_currency(code):
        raise CurrencyError(f"not an ISO 4217 currency code we know: {currency!r}")
    return EXPONENTS[code]


def known_currency(code: str) -> bool:
    """`code` is an ISO 4217 code of money CLDR knows (upper case, as stored)."""
    return code in EXPONENTS and code not in _NOT_MONEY


def check_amount(minor: int, currency: str, field: str | None = None) -> int:
    """`minor` itself when within +-MAX_AMOUNT_MINOR, else ValidationError naming `field`."""
    if -MAX_AMOUNT_MINOR <= minor <= MAX_AMOUNT_MINOR:
        return minor
    raise ValidationError(out_of_range(currency, field), field)


def out_of_range(currency: str, field: str | None = None) -> str:
    limit = Decimal(MAX_AMOUNT_MINOR).scaleb(-exponent(currency))
    return f"{field or 'amount'} is out of range: amounts are limited to \u00b1{limit:,f} {currency}"


@dataclass(frozen=True, slots=True)
class Money:
    amount: int  # minor units
    currency: str

    def __post_init__(self):
        if not isinstance(self.amount, int) or isinstance(self.amount, bool):
            raise TypeError(f"Money amount must be int minor units, got {type(self.amount).__name__}")
        if self.currency != self.currency.upper():
            object.__setattr__(self, "currency", self.currency.upper())

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def parse(cls, value: str | Decimal | int, currency: str, *, field: str | None = None) -> Money:
        """Parse a decimal amount ("19.99") exactly; reject sub-minor precision rather than round it."""
        try:
            dec = value if isinstance(value, Decimal) else Decimal(str(value).strip())
        except InvalidOperation:
            raise ValidationError(f"not a decimal amount: {str(value)[:40]!r}", field) from None
        if not dec.is_finite():
            raise ValidationError(f"not a finite amount: {str(value)[:40]!r}", field)
        exp = exponent(currency)
        # Compare magnitudes before scaling: "1e999999999" must not overflow Decimal nor become a huge int.
        if dec and dec.adjusted() + exp > 15:
            raise ValidationError(out_of_range(currency, field), field)
        scaled = dec.scaleb(exp)
        if scaled != scaled.to_integral_value():
            raise ValidationError(f"{str(value)[:40]} has more than {exp} decimals for {currency}", field)
        return cls(check_amount(int(scaled), currency, field), currency)

    @classmethod
    def from_decimal_rounded(cls, value: Decimal, currency: str) -> Money:
        """For computed amounts (percent fees, FX): round half-even to the minor unit."""
        exp = exponent(currency)
        return cls(int(value.scaleb(exp).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)), currency)

    def to_decimal(self) -> Decimal:
        return Decimal(self.amount).scaleb(-exponent(self.currency))

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyError(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __mul__(self, factor: int) -> Money:
        if not isinstance(factor, int) or isinstance(factor, bool):
            raise TypeError("Money multiplies by int only; use percent() for rates")
        return Money(self.amount * factor, self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def percent(self, rate: Decimal) -> Money:
        """`rate` percent of this amount, rounded half-even."""
        return Money.from_decimal_rounded(self.to_decimal() * rate / 100, self.currency)

    def __str__(self) -> str:
        return f"{self.to_decimal():.{exponent(self.currency)}f} {self.currency}"


def total(amounts, currency: str) -> Money:
    result = Money.zero(currency)
    for m in amounts:
        result = result + m
    return result
