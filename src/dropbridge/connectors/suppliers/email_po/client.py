"""Mail transport for one email supplier: send through its SMTP settings, read its reply mailbox over IMAP.
No translation here (that is mapping.py)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from email.message import EmailMessage

from dropbridge.connectors.kit.mail import ImapServer, Mailbox, SmtpServer, send_message


@dataclass(frozen=True)
class Received:
    uid: int
    raw: bytes


def event_id_of(message_id: str, raw: bytes) -> str:
    """The inbox key of a message: its Message-ID, or a digest of its bytes when it has none."""
    message_id = message_id.strip()
    return message_id[:200] if message_id else "sha256:" + hashlib.sha256(raw).hexdigest()


class MailClient:
    def __init__(self, smtp: SmtpServer, imap: ImapServer | None):
        self.smtp = smtp
        self.imap = imap

    def send(self, message: EmailMessage, sender: str, recipients: list[str]) -> str:
        return send_message(self.smtp, message, sender=sender, recipients=recipients)

    def fetch_after(self, uidvalidity: int | None, last_uid: int, limit: int) -> tuple[int, list[Received]]:
        """(the folder's UIDVALIDITY, messages after `last_uid`); a folder whose UIDVALIDITY changed since
        is read from its start (the inbox key keeps messages already stored from being stored twice)."""
        assert self.imap is not None
        with Mailbox(self.imap) as box:
            start = last_uid if uidvalidity == box.uidvalidity else 0
            return box.uidvalidity, [Received(uid, raw) for uid, raw in box.messages_after(start, limit)]

    def mark_seen(self, uids: list[int]) -> None:
        assert self.imap is not None
        with Mailbox(self.imap) as box:
            box.mark_seen(uids)
