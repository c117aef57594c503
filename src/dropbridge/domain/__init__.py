"""Pure domain code: standard library only (plus babel's CLDR tables for currency exponents)."""
