"""Supplier feed readers: CSV/TSV, XLSX, JSON, EDI X12 846."""
