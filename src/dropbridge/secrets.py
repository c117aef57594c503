"""Credentials at rest: MultiFernet (newest key first), with the owner bound inside the ciphertext so a
blob copied onto another store or supplier refuses to decrypt.

Keys come from DROPBRIDGE_SECRET_KEYS or a 0600 key file in the data directory (one key a line, newest
first), generated on first run, but never when credentials encrypted under a lost key already exist: that
would make every one of them unreadable without a word. `dropbridge keys rotate` re-encrypts everything with
the newest key, after which the older ones can be removed."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from dropbridge.domain.errors import ConfigurationError
from dropbridge.fileperms import FILE_MODE, private_dir, private_file


class Vault:
    def __init__(self, keys: list[str]):
        if not keys:
            raise ConfigurationError("no secret keys configured (DROPBRIDGE_SECRET_KEYS)")
        try:
            self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])
        except ValueError:
            raise ConfigurationError("a secret key is not a Fernet key (32 url-safe base64-encoded bytes)") from None
        self.key_count = len(keys)

    def encrypt(self, owner: str, data: dict) -> bytes:
        return self._fernet.encrypt(json.dumps({"owner": owner, "data": data}).encode())

    def decrypt(self, owner: str, blob: bytes | None) -> dict:
        if not blob:
            return {}
        try:
            payload = json.loads(self._fernet.decrypt(blob))
        except InvalidToken:
            raise ConfigurationError(f"credentials of {owner} cannot be decrypted with the configured keys") from None
        if payload.get("owner") != owner:
            raise ConfigurationError(f"credentials stored on {owner} belong to {payload.get('owner')}")
        return payload["data"]

    def rotate(self, owner: str, blob: bytes) -> bytes:
        """`blob` re-encrypted under the newest key; refused (ConfigurationError) unless it decrypts, with
        any configured key, to credentials of `owner`."""
        self.decrypt(owner, blob)
        return self._fernet.rotate(blob)


def load_keys(configured: str | None, keys_file: Path, *, encrypted_exist: int = 0) -> list[str]:
    """Configured keys win; otherwise read the key file, or on first run create it (0600). Refuses to
    create one when `encrypted_exist` credentials were encrypted under keys it cannot see."""
    if configured:
        return [k.strip() for k in configured.split(",") if k.strip()]
    if keys_file.exists():
        private_file(keys_file)  # an older one left readable by others is narrowed to 0600
        return read_key_file(keys_file)
    if encrypted_exist:
        raise ConfigurationError(
            f"the secret key file {keys_file} is missing, but {encrypted_exist} stored credentials are encrypted: "
            "restore the file (or set DROPBRIDGE_SECRET_KEYS to the keys); a new key would leave them unreadable")
    private_dir(keys_file.parent)
    key = Fernet.generate_key().decode()
    fd = os.open(keys_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    return [key]


def read_key_file(keys_file: Path) -> list[str]:
    return [k.strip() for k in keys_file.read_text().splitlines() if k.strip()]


def write_key_file(keys_file: Path, keys: list[str]) -> None:
    """Replace the key file at once (a crash leaves the old one or the new one, never half of either)."""
    fd, tmp = tempfile.mkstemp(dir=keys_file.parent, prefix=".keys-")
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "w") as fh:
            fh.write("".join(k + "\n" for k in keys))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, keys_file)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def new_key() -> str:
    return Fernet.generate_key().decode()
