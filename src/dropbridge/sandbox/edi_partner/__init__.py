"""`dropbridge sandbox run edi-partner`: an EDI X12 trading partner behind a real SFTP server."""

from .partner import EdiPartnerEmulator

__all__ = ["EdiPartnerEmulator"]
