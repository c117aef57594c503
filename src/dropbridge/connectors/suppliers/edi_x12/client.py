"""Where an EDI partner's files are exchanged (transport only): an SFTP server or a local folder."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from dropbridge.connectors.kit.file_exchange import FileTransport, LocalFolderClient
from dropbridge.domain.errors import ConfigurationError


def transport_for(base_url: str, credentials: dict[str, Any], host_key: str | None, timeout: float) -> FileTransport:
    """`sftp://host[:port]` (credentials username + password or private_key, the server's host key) or
    `file:///path/to/mailbox` (a VAN mailbox mounted on disk)."""
    parts = urlsplit(base_url)
    if parts.scheme == "sftp":
        if not parts.hostname:
            raise ConfigurationError(f"{base_url!r}: no host")
        from dropbridge.connectors.kit.sftp import SftpClient  # asyncssh only where a partner uses SFTP

        return SftpClient(parts.hostname, parts.port or 22, credentials.get("username", ""), host_key=host_key or "",
                          password=credentials.get("password"), private_key=credentials.get("private_key"),
                          passphrase=credentials.get("passphrase"), timeout=timeout)
    if parts.scheme == "file":
        if credentials:
            raise ConfigurationError("a local folder takes no credentials")
        return LocalFolderClient(unquote(parts.path))
    raise ConfigurationError(f"{base_url!r}: an EDI partner is reached by sftp://host:port or file:///folder")
