"""Mail emulator: SMTP and IMAP on localhost with a supplier that answers purchase orders by email."""

from .emulator import MailEmulator
from .supplier import ups_number

__all__ = ["MailEmulator", "ups_number"]
