"""Credentials at rest: MultiFernet (newest key first), with the owner bound inside the ciphertext so a
blob copied onto another store or supplier refuses to decrypt."""

from __future__ import annotations

import json
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from dropbridge.domain.errors import ConfigurationError


class Vault:
    def __init__(self, keys: list[str]):
        if not keys:
            raise ConfigurationError("no secret keys configured (DROPBRIDGE_SECRET_KEYS)")
        self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])

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

    def rotate(self, blob: bytes) -> bytes:
        """Re-encrypt under the newest key (after adding one to the front of DROPBRIDGE_SECRET_KEYS)."""
        return self._fernet.rotate(blob)


def load_keys(configured: str | None, keys_file: Path) -> list[str]:
    """Configured keys win; otherwise read, or on first run create, a 0600 key file in the data dir."""
    if configured:
        return [k.strip() for k in configured.split(",") if k.strip()]
    if keys_file.exists():
        return [k.strip() for k in keys_file.read_text().splitlines() if k.strip()]
    keys_file.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key().decode()
    fd = os.open(keys_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    return [key]
