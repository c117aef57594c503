"""The emulator's mail: folders of messages with UIDs and flags, shared by the IMAP server (which reads and
flags them) and the supplier (which files its replies). Thread-safe: the servers run on their own loop."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime


@dataclass
class StoredMessage:
    uid: int
    raw: bytes
    internal_date: datetime
    flags: set[str] = field(default_factory=set)


@dataclass
class Folder:
    name: str
    uidvalidity: int
    uidnext: int = 1
    messages: list[StoredMessage] = field(default_factory=list)


class MailStore:
    def __init__(self, folders: tuple[str, ...] = ("INBOX",)):
        self.lock = threading.RLock()
        # Seconds since the epoch, as real servers commonly pick it: a new store is a new mailbox.
        validity = int(time.time())
        self.folders: dict[str, Folder] = {name.upper() if name.upper() == "INBOX" else name: Folder(name, validity)
                                           for name in folders}

    def folder(self, name: str) -> Folder | None:
        return self.folders.get("INBOX" if name.upper() == "INBOX" else name)

    def append(self, folder: str, raw: bytes, flags: set[str] | None = None, when: datetime | None = None) -> int:
        with self.lock:
            box = self.folder(folder)
            if box is None:
                raise KeyError(folder)
            uid = box.uidnext
            box.uidnext += 1
            box.messages.append(StoredMessage(uid, raw, when or datetime.now(UTC), set(flags or ())))
            return uid

    def messages(self, folder: str = "INBOX") -> list[StoredMessage]:
        with self.lock:
            box = self.folder(folder)
            return [StoredMessage(m.uid, m.raw, m.internal_date, set(m.flags)) for m in (box.messages if box else [])]

    def reset_uidvalidity(self, folder: str = "INBOX") -> int:
        """As when a server rebuilds its index: every UID a client remembered is void."""
        with self.lock:
            box = self.folder(folder)
            box.uidvalidity += 1
            return box.uidvalidity
