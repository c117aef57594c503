"""A small IMAP4rev1 server (RFC 3501) over the emulator's MailStore: what mail clients need to read a
mailbox, and no more. No maintained Python library serves IMAP without a framework of its own, so this is
written on asyncio streams.

Commands: CAPABILITY, NOOP, CHECK, LOGOUT, LOGIN, LIST, LSUB, STATUS, SELECT, EXAMINE, SEARCH, FETCH, STORE,
EXPUNGE, CLOSE, APPEND, and UID SEARCH / FETCH / STORE. SEARCH keys: ALL, UID, sequence sets, SEEN, UNSEEN,
DELETED, UNDELETED, FLAGGED, ANSWERED, HEADER, SUBJECT, FROM, TO, BODY, TEXT, SINCE, BEFORE, ON, NOT, OR.
FETCH items: UID, FLAGS, INTERNALDATE, RFC822.SIZE, RFC822, RFC822.HEADER, RFC822.TEXT, BODY[], BODY[HEADER],
BODY[TEXT] (and their BODY.PEEK forms: reading without PEEK sets \\Seen, as RFC 3501 6.4.5 says), the FAST
macro. Literals (`{n}` with a continuation, and LITERAL+ `{n+}`) are read wherever a string may be."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
from collections.abc import Callable
from datetime import UTC, date, datetime

from .store import Folder, MailStore, StoredMessage

CAPABILITIES = "IMAP4rev1 LITERAL+ UIDPLUS"
SYSTEM_FLAGS = ("\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft")
_LITERAL_END = re.compile(rb"\{(\d+)(\+?)\}\r\n$")
MAX_LITERAL = 50 * 1024 * 1024


class Bad(Exception):
    """A command we cannot parse or do not know: answered BAD."""


class No(Exception):
    """A command we understood and refuse: answered NO."""


class Literal(bytes):
    """A string that arrived as a literal (kept apart from atoms, which have meaning)."""


# ---- parsing ----------------------------------------------------------------------------------------------


def tokenize(data: bytes) -> list:
    """IMAP arguments as atoms (str), strings (Literal / str from quotes) and parenthesised lists. Atoms keep
    bracketed sections whole (`BODY.PEEK[HEADER.FIELDS (FROM)]`)."""
    pos = 0
    stack: list[list] = [[]]
    n = len(data)
    while pos < n:
        ch = data[pos:pos + 1]
        if ch == b" ":
            pos += 1
        elif ch == b"(":
            stack.append([])
            pos += 1
        elif ch == b")":
            if len(stack) == 1:
                raise Bad("unbalanced ')'")
            done = stack.pop()
            stack[-1].append(done)
            pos += 1
        elif ch == b'"':
            out = bytearray()
            pos += 1
            while pos < n and data[pos:pos + 1] != b'"':
                if data[pos:pos + 1] == b"\\":
                    pos += 1
                out += data[pos:pos + 1]
                pos += 1
            if pos >= n:
                raise Bad("unterminated quoted string")
            pos += 1
            stack[-1].append(out.decode("utf-8", "replace"))
        elif ch == b"{":
            match = re.match(rb"\{(\d+)\+?\}\r\n", data[pos:])
            if not match:
                raise Bad("bad literal")
            size = int(match.group(1))
            start = pos + match.end()
            stack[-1].append(Literal(data[start:start + size]))
            pos = start + size
        else:
            start = pos
            depth = 0
            while pos < n:
                c = data[pos:pos + 1]
                if c == b"[":
                    depth += 1
                elif c == b"]":
                    depth -= 1
                elif depth == 0 and c in (b" ", b"(", b")"):
                    break
                pos += 1
            stack[-1].append(data[start:pos].decode("utf-8", "replace"))
    if len(stack) != 1:
        raise Bad("unbalanced '('")
    return stack[0]


def text(token) -> str:
    if isinstance(token, Literal):
        return bytes(token).decode("utf-8", "replace")
    if isinstance(token, str):
        return token
    raise Bad("expected a string")


def sequence_set(spec: str, largest: int) -> set[int]:
    """Numbers named by a sequence set ("1:3,7,9:*"); `*` is the largest number in use."""
    out: set[int] = set()
    for part in spec.split(","):
        if not part:
            raise Bad(f"bad sequence set {spec!r}")
        lo, sep, hi = part.partition(":")
        try:
            a = largest if lo == "*" else int(lo)
            b = (largest if hi == "*" else int(hi)) if sep else a
        except ValueError:
            raise Bad(f"bad sequence set {spec!r}") from None
        if a > b:
            a, b = b, a
        out.update(range(a, b + 1))
    return out


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _imap_date(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%d-%b-%Y %H:%M:%S +0000")


def _search_date(token: str) -> date:
    try:
        return datetime.strptime(token, "%d-%b-%Y").date()
    except ValueError:
        raise Bad(f"bad date {token!r}") from None


def _split(raw: bytes) -> tuple[bytes, bytes]:
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = raw.partition(b"\n\n")
    return head + sep, body


# ---- the session --------------------------------------------------------------------------------------------


class ImapSession:
    def __init__(self, store: MailStore, check_login: Callable[[str, str], bool], reader, writer):
        self.store = store
        self.check_login = check_login
        self.reader = reader
        self.writer = writer
        self.user: str | None = None
        self.folder: Folder | None = None
        self.read_only = False

    async def run(self) -> None:
        self.send(f"* OK [CAPABILITY {CAPABILITIES}] dropbridge mail emulator ready")
        await self.writer.drain()
        while True:
            raw = await self._read_command()
            if raw is None:
                return
            tag, command, args = "*", "", b""
            try:
                head = raw.split(b" ", 2)
                if len(head) < 2:
                    raise Bad("expected a tag and a command")
                tag, command = head[0].decode("ascii", "replace"), head[1].decode("ascii", "replace").upper()
                args = head[2] if len(head) > 2 else b""
                done = await self.dispatch(tag, command, tokenize(args))
                if done:
                    return
            except Bad as exc:
                self.send(f"{tag} BAD {exc}")
            except No as exc:
                self.send(f"{tag} NO {exc}")
            await self.writer.drain()

    async def _read_command(self) -> bytes | None:
        data = b""
        while True:
            line = await self.reader.readline()
            if not line:
                return None
            data += line
            match = _LITERAL_END.search(data)
            if not match:
                return data.rstrip(b"\r\n")
            size = int(match.group(1))
            if size > MAX_LITERAL:
                self.send("* BAD literal too large")
                return None
            if not match.group(2):  # synchronising literal: the client waits for our go-ahead
                self.send("+ Ready for literal data")
                await self.writer.drain()
            data += await self.reader.readexactly(size)

    def send(self, line: str | bytes) -> None:
        self.writer.write((line.encode() if isinstance(line, str) else line) + b"\r\n")

    async def dispatch(self, tag: str, command: str, args: list) -> bool:
        uid = False
        if command == "UID":
            if not args:
                raise Bad("UID needs a command")
            uid, command, args = True, text(args[0]).upper(), args[1:]
            if command not in ("FETCH", "SEARCH", "STORE"):
                raise Bad(f"UID {command} is not supported")
        if command == "CAPABILITY":
            self.send(f"* CAPABILITY {CAPABILITIES}")
        elif command in ("NOOP", "CHECK"):
            if self.folder is not None:
                self.send(f"* {len(self.folder.messages)} EXISTS")
        elif command == "LOGOUT":
            self.send("* BYE dropbridge mail emulator logging out")
            self.send(f"{tag} OK LOGOUT completed")
            await self.writer.drain()
            return True
        elif command == "LOGIN":
            if len(args) != 2:
                raise Bad("LOGIN user password")
            if not self.check_login(text(args[0]), text(args[1])):
                raise No("[AUTHENTICATIONFAILED] invalid credentials")
            self.user = text(args[0])
        elif self.user is None:
            raise Bad(f"{command}: log in first")
        elif command in ("LIST", "LSUB"):
            pattern = text(args[1]) if len(args) > 1 else "*"
            for name in self.store.folders.values():
                if pattern in ("*", "%") or pattern.upper() == name.name.upper():
                    self.send(f'* {command} (\\HasNoChildren) "/" {_quote(name.name)}')
        elif command == "STATUS":
            self._status(args)
        elif command in ("SELECT", "EXAMINE"):
            self._select(args, read_only=command == "EXAMINE")
            self.send(f"{tag} OK [{'READ-ONLY' if self.read_only else 'READ-WRITE'}] {command} completed")
            return False
        elif command == "APPEND":
            self.send(f"{tag} OK {self._append(args)} APPEND completed")
            return False
        elif self.folder is None:
            raise Bad(f"{command}: select a folder first")
        elif command == "SEARCH":
            self._search(args, uid)
        elif command == "FETCH":
            self._fetch(args, uid)
        elif command == "STORE":
            self._store(args, uid)
        elif command == "EXPUNGE":
            self._expunge(announce=True)
        elif command == "CLOSE":
            if not self.read_only:
                self._expunge(announce=False)
            self.folder = None
        else:
            raise Bad(f"unknown command {command}")
        self.send(f"{tag} OK {('UID ' if uid else '')}{command} completed")
        return False

    # ---- folders ---------------------------------------------------------------------------------------

    def _select(self, args: list, read_only: bool) -> None:
        if not args:
            raise Bad("SELECT needs a folder")
        folder = self.store.folder(text(args[0]))
        self.folder = None
        if folder is None:
            raise No(f"no folder {text(args[0])}")
        self.folder, self.read_only = folder, read_only
        with self.store.lock:
            unseen = next((i for i, m in enumerate(folder.messages, 1) if "\\Seen" not in m.flags), None)
            self.send(f"* FLAGS ({' '.join(SYSTEM_FLAGS)})")
            self.send(f"* {len(folder.messages)} EXISTS")
            self.send("* 0 RECENT")
            if unseen:
                self.send(f"* OK [UNSEEN {unseen}] first unseen")
            self.send(f"* OK [UIDVALIDITY {folder.uidvalidity}] UIDs valid")
            self.send(f"* OK [UIDNEXT {folder.uidnext}] predicted next UID")
            self.send(f"* OK [PERMANENTFLAGS ({' '.join(SYSTEM_FLAGS)})] limited")

    def _status(self, args: list) -> None:
        if len(args) != 2 or not isinstance(args[1], list):
            raise Bad("STATUS folder (items)")
        folder = self.store.folder(text(args[0]))
        if folder is None:
            raise No(f"no folder {text(args[0])}")
        with self.store.lock:
            values = {"MESSAGES": len(folder.messages), "RECENT": 0, "UIDNEXT": folder.uidnext,
                      "UIDVALIDITY": folder.uidvalidity,
                      "UNSEEN": sum("\\Seen" not in m.flags for m in folder.messages)}
        items = [text(i).upper() for i in args[1]]
        unknown = [i for i in items if i not in values]
        if unknown:
            raise Bad(f"unknown STATUS item {unknown[0]}")
        self.send(f"* STATUS {_quote(folder.name)} ({' '.join(f'{i} {values[i]}' for i in items)})")

    def _append(self, args: list) -> str:
        if len(args) < 2 or not isinstance(args[-1], Literal):
            raise Bad("APPEND folder [(flags)] [date] {literal}")
        flags = {text(f) for f in args[1]} if isinstance(args[1], list) else set()
        try:
            uid = self.store.append(text(args[0]), bytes(args[-1]), flags)
        except KeyError:
            raise No("[TRYCREATE] no such folder") from None
        return f"[APPENDUID {self.store.folder(text(args[0])).uidvalidity} {uid}]"

    # ---- messages --------------------------------------------------------------------------------------

    def _numbered(self) -> list[tuple[int, StoredMessage]]:
        return list(enumerate(self.folder.messages, 1))

    def _select_set(self, spec: str, uid: bool) -> list[tuple[int, StoredMessage]]:
        numbered = self._numbered()
        if uid:
            largest = numbered[-1][1].uid if numbered else 0
            wanted = sequence_set(spec, largest)
            return [(n, m) for n, m in numbered if m.uid in wanted]
        wanted = sequence_set(spec, len(numbered))
        if any(n < 1 or n > len(numbered) for n in wanted):
            raise Bad("sequence number out of range")
        return [(n, m) for n, m in numbered if n in wanted]

    def _search(self, args: list, uid: bool) -> None:
        if args and isinstance(args[0], str) and args[0].upper() == "CHARSET":
            args = args[2:]
        with self.store.lock:
            numbered = self._numbered()
            keys = list(args) or ["ALL"]
            found = [(n, m) for n, m in numbered if self._matches(keys[:], n, m, len(numbered))]
        numbers = [m.uid if uid else n for n, m in found]
        self.send("* SEARCH" + "".join(f" {x}" for x in numbers))

    def _matches(self, keys: list, n: int, m: StoredMessage, count: int) -> bool:
        ok = True
        while keys:
            ok = self._one(keys, n, m, count) and ok
        return ok

    def _one(self, keys: list, n: int, m: StoredMessage, count: int) -> bool:  # noqa: C901 - one branch per key
        key = keys.pop(0)
        if isinstance(key, list):
            return self._matches(list(key), n, m, count)
        word = text(key).upper()

        def arg() -> str:
            if not keys:
                raise Bad(f"SEARCH {word} needs an argument")
            return text(keys.pop(0))

        flags = {"SEEN": "\\Seen", "ANSWERED": "\\Answered", "FLAGGED": "\\Flagged", "DELETED": "\\Deleted",
                 "DRAFT": "\\Draft"}
        if word == "ALL":
            return True
        if word in flags:
            return flags[word] in m.flags
        if word.startswith("UN") and word[2:] in flags:
            return flags[word[2:]] not in m.flags
        if word == "NOT":
            return not self._one(keys, n, m, count)
        if word == "OR":
            left = self._one(keys, n, m, count)
            right = self._one(keys, n, m, count)
            return left or right
        if word == "UID":
            largest = self.folder.messages[-1].uid if self.folder.messages else 0
            return m.uid in sequence_set(arg(), largest)
        if re.fullmatch(r"[\d*:,]+", word):
            return n in sequence_set(word, count)
        head, body = _split(m.raw)
        if word in ("SUBJECT", "FROM", "TO", "CC"):
            return self._header(m, word, arg())
        if word == "HEADER":
            name = arg()
            return self._header(m, name, arg())
        if word == "BODY":
            return arg().lower().encode() in body.lower()
        if word == "TEXT":
            return arg().lower().encode() in m.raw.lower()
        if word in ("SINCE", "BEFORE", "ON"):
            day, when = _search_date(arg()), m.internal_date.date()
            return when >= day if word == "SINCE" else when < day if word == "BEFORE" else when == day
        raise Bad(f"unsupported SEARCH key {word}")

    @staticmethod
    def _header(m: StoredMessage, name: str, value: str) -> bool:
        msg = email.message_from_bytes(_split(m.raw)[0], policy=email.policy.compat32)
        values = msg.get_all(name) or []
        return any(value.lower() in str(v).lower() for v in values) if value else bool(values)

    def _fetch(self, args: list, uid: bool) -> None:
        if len(args) != 2:
            raise Bad("FETCH set items")
        items = args[1] if isinstance(args[1], list) else [args[1]]
        names = [text(i).upper() for i in items]
        if names == ["FAST"]:
            names = ["FLAGS", "INTERNALDATE", "RFC822.SIZE"]
        if uid and "UID" not in names:
            names.insert(0, "UID")
        with self.store.lock:
            for n, m in self._select_set(text(args[0]), uid):
                parts: list[bytes] = []
                for name in names:
                    parts.append(self._item(name, m))
                if any(name.startswith(("BODY[", "RFC822")) and name not in ("RFC822.SIZE", "RFC822.HEADER")
                       for name in names) and not self.read_only and "\\Seen" not in m.flags:
                    m.flags.add("\\Seen")  # reading the body marks it read (not the .PEEK forms)
                    parts.append(f"FLAGS ({' '.join(sorted(m.flags))})".encode())
                self.send(f"* {n} FETCH (".encode() + b" ".join(parts) + b")")

    @staticmethod
    def _literal(label: str, data: bytes) -> bytes:
        return f"{label} {{{len(data)}}}\r\n".encode() + data

    def _item(self, name: str, m: StoredMessage) -> bytes:
        head, body = _split(m.raw)
        if name == "UID":
            return f"UID {m.uid}".encode()
        if name == "FLAGS":
            return f"FLAGS ({' '.join(sorted(m.flags))})".encode()
        if name == "INTERNALDATE":
            return f'INTERNALDATE "{_imap_date(m.internal_date)}"'.encode()
        if name == "RFC822.SIZE":
            return f"RFC822.SIZE {len(m.raw)}".encode()
        if name == "RFC822":
            return self._literal("RFC822", m.raw)
        if name == "RFC822.HEADER":
            return self._literal("RFC822.HEADER", head)
        if name == "RFC822.TEXT":
            return self._literal("RFC822.TEXT", body)
        match = re.fullmatch(r"BODY(?:\.PEEK)?\[(HEADER|TEXT|)\]", name)
        if match:
            section = match.group(1)
            data = {"": m.raw, "HEADER": head, "TEXT": body}[section]
            return self._literal(f"BODY[{section}]", data)
        raise Bad(f"unsupported FETCH item {name}")

    def _store(self, args: list, uid: bool) -> None:
        if len(args) != 3:
            raise Bad("STORE set (+|-)FLAGS[.SILENT] (flags)")
        if self.read_only:
            raise No("folder is read-only")
        action = text(args[1]).upper()
        silent = action.endswith(".SILENT")
        action = action.removesuffix(".SILENT")
        if action not in ("FLAGS", "+FLAGS", "-FLAGS"):
            raise Bad(f"unknown STORE action {action}")
        flags = {text(f) for f in (args[2] if isinstance(args[2], list) else [args[2]])}
        with self.store.lock:
            for n, m in self._select_set(text(args[0]), uid):
                if action == "FLAGS":
                    m.flags = set(flags)
                elif action == "+FLAGS":
                    m.flags |= flags
                else:
                    m.flags -= flags
                if not silent:
                    extra = f"UID {m.uid} " if uid else ""
                    self.send(f"* {n} FETCH ({extra}FLAGS ({' '.join(sorted(m.flags))}))")

    def _expunge(self, announce: bool) -> None:
        if self.read_only:
            raise No("folder is read-only")
        with self.store.lock:
            for n in range(len(self.folder.messages), 0, -1):
                if "\\Deleted" in self.folder.messages[n - 1].flags:
                    del self.folder.messages[n - 1]
                    if announce:
                        self.send(f"* {n} EXPUNGE")


async def serve_session(store: MailStore, check_login: Callable[[str, str], bool], reader, writer) -> None:
    session = ImapSession(store, check_login, reader, writer)
    try:
        await session.run()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()
